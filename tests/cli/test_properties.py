"""``set-property`` and ``unset-property`` (zkservices.cli.properties) against a real server."""

from __future__ import annotations

import json
import os

import pytest

from zkservices import cli as cli_module

from _util import props

from ._helpers import cli, one_line, run


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



def test_unset_property_removes_names_and_refuses_missing_ones(zk_connection_string, zk_client):
    zk_client.create("/n", b'{"a":1,"b":2,"c":3,"t =>":"/m x","db ->":"/m"}')
    zk_client.create("/m", b'{"x":1}')
    result = cli(zk_connection_string, "unset-property", "/n", "a", "t", "db ->")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert json.loads(zk_client.get("/n")[0]) == {"b": 2, "c": 3}
    before = zk_client.get("/n")
    missing = cli(zk_connection_string, "unset-property", "/n", "b", "nope")
    assert missing.returncode == 1
    assert one_line(missing.stderr) == "zkservices unset-property: /n has no property 'nope'; nothing removed"
    after = zk_client.get("/n")
    assert (after[0], after[1].version) == (before[0], before[1].version)
    assert cli(zk_connection_string, "unset-property", "/absent", "x").returncode == 1
    assert cli(zk_connection_string, "unset-property", "/n").returncode == 2  # NAME needed


def test_set_property_warns_about_a_dangling_link_only(zk_connection_string, zk_client):
    zk_client.create("/n", b"{}")
    zk_client.create("/m", b"{}")
    fine = cli(zk_connection_string, "set-property", "/n", "ok ->=/m", "rel ->=../m")
    assert (fine.returncode, fine.stderr) == (0, "")
    dangling = cli(zk_connection_string, "set-property", "/n", "db ->=../nowhere")
    assert dangling.returncode == 0
    assert one_line(dangling.stderr).endswith(
        "WARNING zkservices.cli: set-property: symbolic link /n 'db ->' leads to /nowhere, which does not exist")
    assert json.loads(zk_client.get("/n")[0])["db ->"] == "../nowhere"  # set all the same
