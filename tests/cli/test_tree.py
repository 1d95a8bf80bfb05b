"""``export``, ``import`` and ``validate`` (zkservices.cli.tree), run as subprocesses against a real server."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys

import pytest

import zkservices
from zkservices import cli as cli_module

from _util import props

from ._helpers import BROKEN, TREE, cli, one_line, snapshot, unused_port


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


def test_export_to_a_file_gets_the_usual_mode_and_keeps_an_existing_files_mode(zk_connection_string, zk_client,
                                                                                 tmp_path, capsys):
    zk_client.create("/a", b'{"x":1}')
    new = tmp_path / "new.tree"
    old = os.umask(0o022)
    try:
        assert cli_module.main(["-z", zk_connection_string, "export", "-o", str(new), "/a"]) == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # was 0600 (mkstemp's)
        existing = tmp_path / "existing.tree"
        existing.write_text("")
        existing.chmod(0o664)
        assert cli_module.main(["-z", zk_connection_string, "export", "-o", str(existing), "/a"]) == 0
        assert stat.S_IMODE(existing.stat().st_mode) == 0o664
        assert existing.read_text() == "/a\n  x = 1\n"
    finally:
        os.umask(old)


def test_cli_import_checks_relative_property_links_below_path(zk_connection_string, zk_client, tmp_path, capsys):
    zk_client.create("/p/b/c", b'{"x":5}', makepath=True)
    zk_client.create("/p/a", b"{}")
    tree = tmp_path / "t.tree"
    tree.write_text("/b\n  /c\n    y = 1\n/q\n  t => ../../b/c x\n")
    # from /p/a/q, '../../b/c' is /p/b/c (x = 5); checked at '/' it named the file's own /b/c
    assert cli_module.main(["-z", zk_connection_string, "import", str(tree), "/p/a"]) == 0
    assert json.loads(zk_client.get("/p/a/q")[0]) == {"t =>": "../../b/c x"}
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        assert zk.properties("/p/a/q")["t"] == 5



def test_dangling_symbolic_links_are_warnings_in_validate_and_import(zk_connection_string, zk_client, tmp_path):
    source = tmp_path / "links.tree"
    source.write_text("/app\n  db -> /app/databases/main\n  ok -> /app/cache\n  out -> /elsewhere\n  /cache\n")
    validated = cli(None, "validate", str(source))
    assert validated.returncode == 0
    assert [line.split(" ", 2)[2] for line in validated.stderr.splitlines()] == [
        f"WARNING zkservices.cli: validate: symbolic link /app 'db ->' leads to /app/databases/main, "
        f"which {source} does not hold"
    ]  # (/elsewhere is outside the file: only the server can tell)
    dry = cli(zk_connection_string, "import", "--dry-run", str(source))
    assert dry.returncode == 0
    imported = cli(zk_connection_string, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    for result in (dry, imported):
        warnings = sorted(line.split(" ", 2)[2] for line in result.stderr.splitlines() if "WARNING" in line)
        assert warnings == [
            "WARNING zkservices.cli: import: symbolic link /app 'db ->' leads to /app/databases/main, "
            "which does not exist",
            "WARNING zkservices.cli: import: symbolic link /app 'out ->' leads to /elsewhere, which does not exist",
        ], result.stderr
    assert zk_client.exists("/app/cache")
