"""Review findings for trees and the tree CLI: each test pins a bug that was fixed.

Real server, no mocks.  CLI tests run ``python -m zkservices`` as a
subprocess where stderr matters (one line on failure), else ``cli.main``
in-process (faster).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from kazoo.exceptions import NoNodeError
from kazoo.security import make_acl, make_digest_acl

import zkservices
from zkservices import cli as cli_module

from _util import kazoo_client, stop


def run(connection, *args, input=None):
    command = [sys.executable, "-m", "zkservices"]
    if connection is not None:
        command += ["-z", connection]
    return subprocess.run(command + list(args), input=input, capture_output=True, text=True, timeout=60)


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ---------------------------------------------------------------------------
# Export of node data the tree format cannot hold


# JSON objects other clients can write (Python's json.dumps writes NaN by
# default) that no tree form can hold, and JSON nested too deeply to decode.
UNWRITABLE = [
    b'{"a": NaN}',
    b'{"a": 1e400}',
    b'{"": 1}',
    b'{"/x": 1}',
    b'{"a ->": 3}',
    b'{"a ->": ""}',
    b'{"a/b ->": "/x"}',
    b'{"a =>": "x y z"}',
    b"[" * 100_000,
]


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_export_of_data_no_tree_form_can_hold_survives_and_reimports_unchanged(zk, zk_client, form, caplog):
    zk_client.create("/s", b"{}")
    zk_client.create("/s/ok", b'{"x":1}')
    for i, data in enumerate(UNWRITABLE):
        zk_client.create(f"/s/n{i}", data)
    text = zk.export_tree("/s", format=form)  # raised ValueError / RecursionError before
    tree = zkservices.parse_tree(text)
    assert tree.children["s"].children["ok"].properties == {"x": 1}
    for i, data in enumerate(UNWRITABLE):
        assert tree.children["s"].children[f"n{i}"].properties == {"string_value": data.decode()}
    # NaN and 1e400 (n0, n1) read as non-JSON data already; JSON objects no tree
    # form can hold (n2: an empty property name) are exported so with a warning
    assert any("/s/n2" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    # importing the export over the unchanged tree leaves the original data alone
    assert zk.import_tree(text, "/") == []
    for i, data in enumerate(UNWRITABLE):
        assert zk_client.get(f"/s/n{i}")[0] == data


def test_import_over_unwritable_data_still_replaces_it_when_the_tree_differs(zk, zk_client):
    zk_client.create("/s", b'{"a": NaN}')
    assert [str(c) for c in zk.import_tree("/s\n  a = 1\n")] == ['set /s {"a":1}']
    assert zk_client.get("/s")[0] == b'{"a":1}'


# ---------------------------------------------------------------------------
# A missing root (a chroot that does not exist) is not an empty tree


@pytest.mark.filterwarnings("ignore:No chroot path exists")  # kazoo's own warning
def test_export_and_walk_of_a_missing_chroot_raise_no_node(zk_server, zk_chroot):
    with zkservices.ZooKeeper(zk_server.connection_string + zk_chroot + "/missing") as zk:
        with pytest.raises(NoNodeError):
            zk.export_tree("/")  # returned "" before: an empty backup, no error
        with pytest.raises(NoNodeError):
            zk.walk("/")
        with pytest.raises(NoNodeError):
            zk.print_tree("/")


def test_cli_on_a_missing_chroot_is_one_line_naming_it(zk_connection_string):
    missing = zk_connection_string + "/missing"
    for args in (["export"], ["ls"], ["import", "-"]):
        result = run(missing, *args, input="/a\n")
        assert result.returncode == 1, args
        # (kazoo's two-line UserWarning came first, and export exited 0 with no output)
        line = one_line(result.stderr)
        assert line.startswith(f"zkservices {args[0]}: ") and "chroot" in line and "/missing" in line, line
        assert result.stdout == ""


# ---------------------------------------------------------------------------
# ACL errors name the node


def test_acl_errors_name_the_node(zk_connection_string, zk_client):
    admin = kazoo_client(zk_connection_string, auth_data=[("digest", "admin:pw")])
    try:
        admin.create("/p", b"{}")
        admin.create("/p/ro", b'{"a":1}', acl=[make_acl("world", "anyone", read=True),
                                               make_digest_acl("admin", "pw", all=True)])
        admin.create("/p/secret", b"{}", acl=[make_digest_acl("admin", "pw", all=True)])
    finally:
        stop(admin)
    for args, node in [
        (["set-property", "/p/ro", "a=2"], "/p/ro"),  # printed "not allowed (ACL): " with nothing after
        (["get", "/p/secret"], "/p/secret"),
        (["export", "/p"], "/p/secret"),  # a node below the one asked for
    ]:
        result = run(zk_connection_string, *args)
        assert result.returncode == 1, args
        line = one_line(result.stderr)
        assert line.startswith(f"zkservices {args[0]}: not allowed (ACL): ") and node in line, line


# ---------------------------------------------------------------------------
# set-property refuses what no tree form can hold


@pytest.mark.parametrize("assignment", ["db ->=", "db ->=   ", "a/b ->=/x", "/x=1", "t =>=a b c"])
def test_set_property_refuses_keys_and_links_export_could_not_write(zk_connection_string, zk_client, assignment):
    zk_client.create("/n", b"{}")
    result = run(zk_connection_string, "set-property", "/n", assignment)
    assert result.returncode == 2, result.stderr  # usage error, nothing written
    assert zk_client.get("/n")[0] == b"{}"


def test_set_property_strips_white_space_around_link_values(zk_connection_string, zk_client, capsys):
    zk_client.create("/n", b'{"x":1}')
    zk_client.create("/m", b"{}")
    assert cli_module.main(["-z", zk_connection_string, "set-property", "/n", "db ->= /m ", "t =>= /n x"]) == 0
    assert json.loads(zk_client.get("/n")[0]) == {"x": 1, "db ->": "/m", "t =>": "/n x"}


# ---------------------------------------------------------------------------
# export -o keeps the usual file mode


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


# ---------------------------------------------------------------------------
# export of '/' says when it leaves the root's properties out


def test_export_of_the_root_warns_that_its_properties_are_left_out(zk_server, zk_chroot, caplog):
    admin = kazoo_client(zk_server.connection_string)
    try:
        admin.set(zk_chroot, b'{"config":1}')
    finally:
        stop(admin)
    with zkservices.ZooKeeper(zk_server.connection_string + zk_chroot) as zk:
        zk.create("/a", b"{}")
        assert zk.export_tree("/") == "/a\n"
        assert any("config" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
        caplog.clear()
        assert zk.export_tree("/", name="top") == "/top\n  config = 1\n  /a\n"
        assert not [r for r in caplog.records if r.levelname == "WARNING"]


# ---------------------------------------------------------------------------
# CLI import checks property links where the tree goes, not at '/'


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
