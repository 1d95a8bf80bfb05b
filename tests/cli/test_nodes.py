"""``tree``, ``ls``, ``get``, ``watch`` and ``rm`` (zkservices.cli.nodes) against a real server."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading

from ._helpers import cli, one_line


def test_tree_ls_and_get(zk_connection_string, zk_client, tree_file):
    cli(zk_connection_string, "import", str(tree_file))
    zk_client.create("/fooservice/providers/10.0.0.1:80", b'{"host":"10.0.0.1"}', ephemeral=True)
    tree = cli(zk_connection_string, "tree", "/fooservice")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.endswith('  /providers\n    /10.0.0.1:80\n      host = "10.0.0.1"\n')
    assert tree.stdout.startswith("/fooservice : z4m cms\n")
    assert cli(zk_connection_string, "ls").stdout == "cms\nfooservice\n"
    assert cli(zk_connection_string, "ls", "/fooservice/providers").stdout == "10.0.0.1:80\n"
    got = cli(zk_connection_string, "get", "/fooservice")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {
        "type": "z4m cms", "threads": 3, "database": "/databases/main", "db ->": "/databases/main",
        "threads_copy": 5,
    }
    for command in ("get", "ls", "tree"):
        missing = cli(zk_connection_string, command, "/nope")
        assert missing.returncode == 1
        assert one_line(missing.stderr) == f"zkservices {command}: no such node: /nope"


def _lines(stream):
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next(lines, timeout=20):
    line = lines.get(timeout=timeout)
    assert line is not None, "watch ended early"
    return line


def test_watch_prints_every_change_until_interrupted(zk_connection_string, zk_client):
    zk_client.create("/w", b'{"a":1}')
    process = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "watch", "/w"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = _lines(process.stdout)
        first = {_next(lines), _next(lines)}
        assert first == {"children /w []", 'properties /w {"a": 1}'}
        zk_client.set("/w", b'{"a":2,"b":"\xc3\xa9"}')
        assert _next(lines) == 'properties /w {"a": 2, "b": "é"}'
        zk_client.create("/w/c1", b"{}")
        assert _next(lines) == 'children /w ["c1"]'
        zk_client.create("/w/c0", b"{}", ephemeral=True)
        assert _next(lines) == 'children /w ["c0", "c1"]'
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
        assert process.stderr.read().strip().splitlines()[-1] == "interrupted"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_watch_reports_deletion(zk_connection_string, zk_client):
    zk_client.create("/w", b"{}")
    process = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "-z", zk_connection_string, "watch", "/w"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = _lines(process.stdout)
        assert {_next(lines), _next(lines)} == {"children /w []", "properties /w {}"}
        zk_client.delete("/w")
        assert _next(lines) == "deleted /w"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

