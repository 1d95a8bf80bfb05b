"""The ``feed`` command (zkservices.cli.feed) as a process against a real server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time


WAIT = 30.0


TEMPLATE = """\
{% for s in services %}
{{ s.name }}:{% for p in s.providers %} {{ p.address }}{% endfor %}

{% endfor %}
"""


def provider(client, service: str, node: str, **data) -> str:
    host, _, port = node.rpartition(":")
    body = {"host": host, "port": int(port), **data}
    return client.create(f"{service}/providers/{node}", json.dumps(body).encode(), ephemeral=True, makepath=True)


def test_cli_min_wait_alone_is_capped_under_continuous_churn(zk_client, zk_connection_string, tmp_path):
    # --min-wait without --max-wait had no cap: changes arriving more often
    # than --min-wait (one flapping backend) postponed every write forever.
    # Now the default cap is 4 x --min-wait, as consul-template has it.
    template, out = tmp_path / "t.j2", tmp_path / "lb.conf"
    template.write_text(TEMPLATE)
    zk_client.create("/svc", b"{}")
    provider(zk_client, "/svc", "10.0.0.1:80")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "feed", "--template", str(template),
         "--output", str(out), "--min-wait", "0.5", "/svc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        i = 0
        while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
            zk_client.set("/svc", json.dumps({"i": i}).encode())  # a change every 0.1 s
            i += 1
            time.sleep(0.1)
        assert out.exists(), "never written under continuous churn"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()



def test_once_timeout_waits_the_timeout_not_more(tmp_path):
    template = tmp_path / "t.j2"
    template.write_text(TEMPLATE)
    baseline_started = time.monotonic()
    subprocess.run([sys.executable, "-m", "zkservices", "--version"], capture_output=True, timeout=WAIT)
    startup = time.monotonic() - baseline_started
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "zkservices", "-z", "127.0.0.1:1", "feed", "--template", str(template),
         "--dry-run", "--once", "--timeout", "2", "/svc"], capture_output=True, text=True, timeout=WAIT)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "did not answer within 2s" in line, line  # (within 3s before)
    assert 2 <= elapsed < 2 + startup + 5, (elapsed, startup)


def test_feed_with_auth_reads_a_service_others_cannot(zk_connection_string, zk_client, tmp_path):
    import zkservices
    from kazoo.security import make_digest_acl

    with zkservices.ZooKeeper(zk_connection_string, auth=[("digest", "lb:pw")]) as zk:
        zk.create("/private", b"{}", acl=[make_digest_acl("lb", "pw", all=True)])
        zk.create("/private/providers", b"{}", acl=[make_digest_acl("lb", "pw", all=True)])
        zk.create("/private/providers/10.0.0.1:80", json.dumps({"host": "10.0.0.1", "port": 80}).encode(),
                  acl=[make_digest_acl("lb", "pw", all=True)])
    template = tmp_path / "t.j2"
    template.write_text(TEMPLATE)
    command = [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "feed", "--template", str(template),
               "--dry-run", "--once", "--timeout", "5", "/private"]
    allowed = subprocess.run(command + ["--auth", "digest:lb:pw"], capture_output=True, text=True, timeout=WAIT)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == "private: 10.0.0.1:80\n"
    refused = subprocess.run(command, capture_output=True, text=True, timeout=WAIT)
    assert refused.returncode == 1
    assert "10.0.0.1" not in refused.stdout


def test_feed_providers_dot_renders_a_curator_and_a_serverset_directory_with_the_shipped_template(
        zk_connection_string, zk):
    """``feed --providers .``: the service node's own children are the providers, in
    Curator's and ServerSet's formats; the shipped HAProxy template renders them unchanged
    (weight from the Curator payload), a disabled ServerSet member is left out."""
    zk.register_server("/services/orders", "10.0.0.7:8080", provider_format="curator", weight=3)
    zk.register_server("/aurora/web", "10.0.0.3:31337", provider_format="serverset", shard=0)
    zk.create("/aurora/web/member_0000000099",
              b'{"serviceEndpoint": {"host": "10.0.0.4", "port": 31338}, "status": "STOPPING"}')
    command = [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "feed", "--template", "haproxy",
               "--providers", ".", "--dry-run", "--once", "--timeout", "10"]
    curator = subprocess.run(command + ["/services/orders"], capture_output=True, text=True, timeout=WAIT)
    assert curator.returncode == 0, curator.stderr
    servers = [line.split() for line in curator.stdout.splitlines() if line.strip().startswith("server ")]
    assert len(servers) == 1 and servers[0][2] == "10.0.0.7:8080" and servers[0][-2:] == ["weight", "3"], curator.stdout
    serverset = subprocess.run(command + ["/aurora/web"], capture_output=True, text=True, timeout=WAIT)
    assert serverset.returncode == 0, serverset.stderr
    addresses = [line.split()[2] for line in serverset.stdout.splitlines() if line.strip().startswith("server ")]
    assert addresses == ["10.0.0.3:31337"], serverset.stdout
