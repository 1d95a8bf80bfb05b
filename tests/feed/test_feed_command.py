"""``zkservices feed`` as a process, against a real ZooKeeper (or none)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from zkservices._discovery import save_snapshot

from _feedutil import TEMPLATE, WAIT, lines_of, read, text, wait_file




def zkservices_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zkservices", *args], capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.fixture
def service(zk):
    zk.create("/svc", b'{"balance":"roundrobin"}')
    zk.register_server("/svc/providers", "10.0.0.1:8080", weight=2)
    return text(("svc", "roundrobin", [("10.0.0.1:8080", 2)]))


def test_cli_once_writes_and_reloads(service, zk_connection_string, tmp_path):
    template, out, marker = tmp_path / "t.j2", tmp_path / "lb.conf", tmp_path / "reloaded"
    template.write_text(TEMPLATE)
    result = zkservices_cli("-z", zk_connection_string, "feed", "--template", str(template), "--output", str(out),
                            "--once", "--reload-command", f"echo done >> {marker}", "/svc")
    assert result.returncode == 0, result.stderr
    assert read(out) == service
    assert lines_of(marker) == ["done"]
    assert result.stdout == ""


def test_cli_dry_run_prints_and_writes_nothing(service, zk_connection_string, tmp_path):
    out = tmp_path / "lb.conf"
    result = zkservices_cli("-z", zk_connection_string, "feed", "--template", "nginx", "--dry-run", "--once",
                            "--output", str(out), "/svc")
    assert result.returncode == 0, result.stderr
    assert "upstream svc {\n    server 10.0.0.1:8080 weight=2;\n}" in result.stdout
    assert not out.exists()


def test_cli_bad_template_is_a_clear_error(service, zk_connection_string, tmp_path):
    template, out = tmp_path / "broken.j2", tmp_path / "lb.conf"
    template.write_text("# ok\n{% for s in services %}\n{{ s.name }\n{% endfor %}\n")
    result = zkservices_cli("-z", zk_connection_string, "feed", "--template", str(template), "--output", str(out),
                            "--once", "/svc")
    assert result.returncode == 1
    assert result.stderr.startswith(f"zkservices feed: bad template: {template}, line 3: ")
    template.write_text("{% for s in services %}{{ s.nosuch }}{% endfor %}\n")
    result = zkservices_cli("-z", zk_connection_string, "feed", "--template", str(template), "--output", str(out),
                            "--once", "/svc")
    assert result.returncode == 1
    assert f"{template}, line 1:" in result.stderr and "nosuch" in result.stderr
    assert not out.exists()
    result = zkservices_cli("feed", "--template", str(tmp_path / "missing.j2"), "--output", str(out), "/svc")
    assert result.returncode == 1 and "cannot read template" in result.stderr


def test_cli_runs_until_sigterm(service, zk, zk_connection_string, tmp_path):
    template, out, snapshot = tmp_path / "t.j2", tmp_path / "lb.conf", tmp_path / "snap.json"
    template.write_text(TEMPLATE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "feed", "--template", str(template),
         "--output", str(out), "--snapshot", str(snapshot), "--min-fraction", "0", "/svc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_file(out, service)
        zk.register_server("/svc/providers", "10.0.0.2:8080")
        wait_file(out, text(("svc", "roundrobin", [("10.0.0.1:8080", 2), ("10.0.0.2:8080", 1)])))
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "10.0.0.2:8080" in json.loads(snapshot.read_text())["services"]["/svc"]["providers"]


def test_cli_once_from_snapshot_while_zookeeper_is_down(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    template, out, snapshot = tmp_path / "t.j2", tmp_path / "lb.conf", tmp_path / "snap.json"
    template.write_text(TEMPLATE)
    args = ["-z", dead, "feed", "--template", str(template), "--output", str(out), "--once", "--timeout", "0.3"]
    result = zkservices_cli(*args, "/svc")
    assert result.returncode == 1 and "no snapshot" in result.stderr
    save_snapshot(snapshot, "/svc", {"balance": "first"}, {"10.0.0.7:80": {"weight": 4}})
    result = zkservices_cli(*args, "--snapshot", str(snapshot), "/svc")
    assert result.returncode == 0, result.stderr
    assert read(out) == text(("svc", "first", [("10.0.0.7:80", 4)]))
    assert "from snapshot" in result.stderr
