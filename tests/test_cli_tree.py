"""The tree and node subcommands of the ``zkservices`` CLI, run as subprocesses against a real server."""

from __future__ import annotations

import json
import os
import pty
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from _util import props

BROKEN = Path(__file__).parent / "data" / "broken"

TREE = """\
/fooservice : z4m cms
  threads = 3
  database = "/databases/main"
  db -> /databases/main
  threads_copy => ../cms threads
  /providers
/cms
  threads = 5
"""


def cli(connection, *args, input=None, timeout=60, env=None):
    """Run ``python -m zkservices -z CONNECTION ARGS...``; return the CompletedProcess."""
    command = [sys.executable, "-m", "zkservices"]
    if connection is not None:
        command += ["-z", connection]
    return subprocess.run(
        command + list(args), input=input, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(client, path="/"):
    out = {}
    pending = [path]
    while pending:
        p = pending.pop()
        data, stat = client.get(p)
        out[p] = (data, stat.mzxid, stat.pzxid, stat.version)
        pending.extend(f"{p.rstrip('/')}/{c}" for c in client.get_children(p))
    return out


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "service.tree"
    path.write_text(TREE)
    return path


# ---------------------------------------------------------------------------
# import, export, validate


def test_import_prints_changes_and_export_gives_the_tree_back(zk_connection_string, zk_client, tree_file, tmp_path):
    result = cli(zk_connection_string, "import", str(tree_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'create /fooservice {"type":"z4m cms","threads":3,"database":"/databases/main",'
        '"db ->":"/databases/main","threads_copy =>":"../cms threads"}',
        "create /fooservice/providers",
        'create /cms {"threads":5}',
    ]
    # the one diagnostic: the file's symbolic link leads to a node that does not exist
    assert [line.split(" ", 2)[2] for line in result.stderr.splitlines()] == [
        "WARNING zkservices.cli: import: symbolic link /fooservice 'db ->' leads to /databases/main, "
        "which does not exist"
    ]
    assert props(zk_client, "/cms") == {"threads": 5}
    exported = cli(zk_connection_string, "export")
    assert exported.returncode == 0 and exported.stderr == ""
    assert exported.stdout == (
        "/cms\n  threads = 5\n/fooservice : z4m cms\n  database = \"/databases/main\"\n"
        "  db -> /databases/main\n  threads = 3\n  threads_copy => ../cms threads\n  /providers\n"
    )
    # again: nothing to do, nothing printed
    again = cli(zk_connection_string, "import", str(tree_file))
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    # -o FILE: YAML by its extension, atomically written; --format wins
    out = tmp_path / "out.yaml"
    assert cli(zk_connection_string, "export", "-o", str(out), "/cms").returncode == 0
    assert out.read_text() == "/cms:\n  threads: 5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.yaml", "service.tree"]  # no temporary left
    text = cli(zk_connection_string, "export", "--format", "text", "--name", "copy", "/cms")
    assert text.stdout == "/copy\n  threads = 5\n"


def test_import_from_stdin_below_a_path_and_yaml_export(zk_connection_string, zk_client):
    result = cli(zk_connection_string, "import", "-", "/apps/one", input=TREE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["create /apps", "create /apps/one"]
    yaml_out = cli(zk_connection_string, "export", "--format", "yaml", "/apps/one/cms")
    assert yaml_out.stdout == "/cms:\n  threads: 5\n"
    # the YAML export imports back as the same tree
    moved = cli(zk_connection_string, "import", "-", "/copy", input=yaml_out.stdout)
    assert moved.returncode == 0, moved.stderr
    assert props(zk_client, "/copy/cms") == {"threads": 5}


def test_export_ephemeral_flag(zk_connection_string, zk_client, tree_file):
    cli(zk_connection_string, "import", str(tree_file))
    zk_client.create("/fooservice/providers/10.0.0.1:80", b'{"host":"10.0.0.1"}', ephemeral=True)
    plain = cli(zk_connection_string, "export", "/fooservice/providers")
    assert plain.stdout == "/providers\n"
    full = cli(zk_connection_string, "export", "-e", "/fooservice/providers")
    assert full.stdout == '/providers\n  /10.0.0.1:80\n    host = "10.0.0.1"\n'


def test_dry_run_prints_the_plan_and_writes_nothing(zk_connection_string, zk_client, tree_file):
    cli(zk_connection_string, "import", str(tree_file))
    zk_client.create("/cms/extra", b"{}")
    zk_client.set("/cms", b'{"threads":9}')
    before = snapshot(zk_client)
    result = cli(zk_connection_string, "import", "--dry-run", "--trim", str(tree_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['set /cms {"threads":5}', "delete /cms/extra"]
    assert "dry run: 2 change(s) planned, nothing written" in result.stderr
    assert snapshot(zk_client) == before


def test_trim_and_the_warning_without_it(zk_connection_string, zk_client, tree_file):
    cli(zk_connection_string, "import", str(tree_file))
    zk_client.create("/cms/extra/deeper", b"{}", makepath=True)
    warned = cli(zk_connection_string, "import", str(tree_file))
    assert warned.returncode == 0 and warned.stdout == ""
    assert "WARNING zkservices.tree: /cms/extra is not in the imported tree; not trimmed" in warned.stderr
    quiet = cli(zk_connection_string, "import", "--no-trim", str(tree_file))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    trimmed = cli(zk_connection_string, "import", "--trim", str(tree_file))
    assert trimmed.returncode == 0, trimmed.stderr
    assert trimmed.stdout.splitlines() == ["delete /cms/extra/deeper", "delete /cms/extra"]
    assert not zk_client.exists("/cms/extra")


@pytest.mark.parametrize("name", ["bad_literal_code", "duplicate_node", "tab_indent", "yaml_duplicate_property",
                                  "binary_junk"])
def test_a_bad_file_is_exit_1_with_one_line_naming_the_line_and_changes_nothing(
    zk_connection_string, zk_client, tree_file, name
):
    cli(zk_connection_string, "import", str(tree_file))
    before = snapshot(zk_client)
    path = BROKEN / f"{name}.tree"
    header = path.read_bytes().split(b"\n", 1)[0].decode()
    lineno = int(header.split("line ")[1].split(":")[0])
    result = cli(zk_connection_string, "import", "--trim", str(path))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"zkservices import: {path}, line {lineno}: "), line
    assert result.stdout == ""
    assert snapshot(zk_client) == before
    checked = cli(None, "validate", str(path))
    assert checked.returncode == 1
    assert one_line(checked.stderr).startswith(f"zkservices validate: {path}, line {lineno}: ")


def test_errors_only_the_server_can_find_name_the_line(zk_connection_string, zk_client, tmp_path):
    bad = tmp_path / "links.tree"
    bad.write_text("/a\n  x = 1\n/b\n  t => /nowhere t\n")
    result = cli(zk_connection_string, "import", str(bad))
    assert result.returncode == 1
    assert one_line(result.stderr).startswith(f"zkservices import: {bad}, line 3: /b 't =>'")
    assert zk_client.get_children("/") == []


def test_validate_needs_no_server(tmp_path, tree_file):
    nowhere = f"127.0.0.1:{unused_port()}"
    result = cli(nowhere, "validate", str(tree_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tree_file}: ok, 3 node(s)\n"
    assert result.stderr == ""
    outside = cli(nowhere, "validate", "-", input="/a\n  t => /elsewhere t\n")
    assert outside.returncode == 0
    assert outside.stdout == "<stdin>: ok, 1 node(s)\n"
    assert "1 property link(s) lead out of the file" in outside.stderr
    inside = cli(nowhere, "validate", "-", input="/a\n  x = 1\n/b\n  t => /a nope\n")
    assert inside.returncode == 1
    assert one_line(inside.stderr).startswith("zkservices validate: <stdin>, line 3: ")
    missing = cli(nowhere, "validate", str(tmp_path / "absent.tree"))
    assert missing.returncode == 1
    assert one_line(missing.stderr).startswith("zkservices validate: cannot read ")


# ---------------------------------------------------------------------------
# set-property, tree, ls, get


def test_set_property_takes_json_values_and_text_never_evaluated(zk_connection_string, zk_client, tree_file):
    cli(zk_connection_string, "import", str(tree_file))
    result = cli(
        zk_connection_string, "set-property", "/cms",
        "threads=7", "ratio=0.5", "on=true", "none=null", 'list=[1,"a"]', 'obj={"k":{"x":[]}}',
        "word=hello", "code=__import__('os').system('touch /tmp/pwned-zkservices')", 'quoted="3"',
        "nan=NaN", "empty=", "db ->=/databases/other", "t =>=../fooservice threads",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert [line.split(" ", 2)[2] for line in result.stderr.splitlines()] == [
        "WARNING zkservices.cli: set-property: symbolic link /cms 'db ->' leads to /databases/other, "
        "which does not exist"
    ]
    assert props(zk_client, "/cms") == {
        "threads": 7, "ratio": 0.5, "on": True, "none": None, "list": [1, "a"], "obj": {"k": {"x": []}},
        "word": "hello", "code": "__import__('os').system('touch /tmp/pwned-zkservices')", "quoted": "3",
        "nan": "NaN", "empty": "", "db ->": "/databases/other", "t =>": "../fooservice threads",
    }
    assert not os.path.exists("/tmp/pwned-zkservices")
    # through a link the write lands on the real node
    zk_client.set("/", b'{"alias ->":"/cms"}')
    assert cli(zk_connection_string, "set-property", "/alias", "via=1").returncode == 0
    assert props(zk_client, "/cms")["via"] == 1
    bad_link = cli(zk_connection_string, "set-property", "/cms", "x =>=/nowhere")
    assert bad_link.returncode == 1
    assert "names a missing node" in one_line(bad_link.stderr)
    assert "x" not in props(zk_client, "/cms")


def test_usage_errors_exit_2(zk_connection_string):
    for args in (["set-property", "/cms", "no-equals-sign"], ["set-property", "/cms"], ["import"],
                 ["export", "--format", "xml"], ["tree", "--bogus"], ["import", "--trim", "--no-trim", "f"]):
        result = cli(zk_connection_string, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage: zkservices" in result.stderr


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


def test_an_unreachable_server_is_exit_1_with_a_clear_line():
    nowhere = f"127.0.0.1:{unused_port()}"
    started = time.monotonic()
    result = cli(nowhere, "export", "--timeout", "1")
    assert result.returncode == 1
    assert one_line(result.stderr) == f"zkservices export: no ZooKeeper server at {nowhere}: connection refused by {nowhere}"
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------------------
# watch


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
# progress on a terminal only


def _run_with_terminal_stderr(args):
    """Run the CLI with stderr on a pseudo-terminal; return (returncode, stdout, terminal output)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "zkservices", *args], stdout=subprocess.PIPE, stderr=slave, text=True
        )
        os.close(slave)
        slave = -1
        output = b""
        stdout = process.stdout.read()
        while True:
            ready, _, _ = select.select([master], [], [], 20)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child side is closed
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=20), stdout, output.decode()
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)


def test_progress_shows_on_a_terminal_only(zk_connection_string, zk_client, tmp_path):
    big = "".join(f"/n{i}\n" + "".join(f"  /c{j}\n    v = {j}\n" for j in range(10)) for i in range(30))
    source = tmp_path / "big.tree"
    source.write_text(big)
    code, stdout, terminal = _run_with_terminal_stderr(["-z", zk_connection_string, "import", str(source)])
    assert code == 0, terminal
    assert len(stdout.splitlines()) == 330
    assert "import: 330 change(s)" in terminal
    code, stdout, terminal = _run_with_terminal_stderr(["-z", zk_connection_string, "export"])
    assert code == 0, terminal
    assert "export: 330 nodes" in terminal
    assert "\r" in terminal
    piped = cli(zk_connection_string, "export")
    assert piped.stdout == stdout and piped.stderr == ""
