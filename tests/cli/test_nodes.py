"""``tree``, ``ls``, ``get``, ``watch`` and ``rm`` (zkservices.cli.nodes) against a real server."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

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



# ---------------------------------------------------------------------------
# rm


def test_rm_refuses_a_node_with_children_without_r(zk_connection_string, zk_client):
    zk_client.create("/a/b/c", b'{"x":1}', makepath=True)
    zk_client.create("/leaf", b"{}")
    assert cli(zk_connection_string, "rm", "/leaf").returncode == 0
    assert not zk_client.exists("/leaf")
    refused = cli(zk_connection_string, "rm", "/a")
    assert refused.returncode == 1
    assert one_line(refused.stderr) == (
        "zkservices rm: /a is not empty (1 child node(s)); use -r to delete it with everything below it")
    assert zk_client.get("/a/b/c")[0] == b'{"x":1}'
    removed = cli(zk_connection_string, "rm", "-r", "/a")
    assert removed.returncode == 0, removed.stderr
    assert not zk_client.exists("/a")
    missing = cli(zk_connection_string, "rm", "/a")
    assert missing.returncode == 1
    assert one_line(missing.stderr) == "zkservices rm: no such node: /a"
    root = cli(zk_connection_string, "rm", "-r", "/")
    assert root.returncode == 2 and "refusing to delete the root node /" in root.stderr
    assert zk_client.exists("/")


def test_rm_removes_a_link_holder_not_the_links_target(zk_connection_string, zk_client):
    zk_client.create("/target/child", b"{}", makepath=True)
    zk_client.create("/holder", b'{"alias ->": "/target"}')
    # /holder/alias is the link: rm does not follow it to /target/child's parent
    result = cli(zk_connection_string, "rm", "-r", "/holder/alias")
    assert result.returncode == 1
    assert one_line(result.stderr) == ("zkservices rm: /holder/alias is a symbolic link, not a node: "
                                       "unset-property /holder 'alias ->' removes the link")
    assert zk_client.exists("/target/child")


# ---------------------------------------------------------------------------
# stdout closed early: quiet


@pytest.mark.parametrize("command", [["get", "/a"], ["export", "/a"], ["tree", "/a"], ["ls", "/a"]])
def test_output_into_a_pipe_closed_early_exits_quietly(zk_connection_string, zk_client, command):
    # `zkservices get / | head -1`: the reader is gone before everything is written
    zk_client.create("/a/b", json.dumps({f"p{i}": "x" * 100 for i in range(100)}).encode(), makepath=True)
    read_end, write_end = os.pipe()
    os.close(read_end)  # (the extreme case of a reader that stops early: every write fails)
    try:
        result = subprocess.run([sys.executable, "-m", "zkservices", "-z", zk_connection_string, *command],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert result.stderr == ""  # no BrokenPipeError, no "Exception ignored"
    assert result.returncode == 1
