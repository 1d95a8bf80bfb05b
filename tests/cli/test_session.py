"""Connecting (zkservices.cli.session): unreachable servers, missing chroots, ACL errors, auth and TLS options."""

from __future__ import annotations

import time

from kazoo.security import make_acl, make_digest_acl

from _util import kazoo_client, stop

from ._helpers import cli, one_line, run, unused_port


def test_an_unreachable_server_is_exit_1_with_a_clear_line():
    nowhere = f"127.0.0.1:{unused_port()}"
    started = time.monotonic()
    result = cli(nowhere, "export", "--timeout", "1")
    assert result.returncode == 1
    assert one_line(result.stderr) == f"zkservices export: no ZooKeeper server at {nowhere}: connection refused by {nowhere}"
    assert time.monotonic() - started < 30


def test_cli_on_a_missing_chroot_is_one_line_naming_it(zk_connection_string):
    missing = zk_connection_string + "/missing"
    for args in (["export"], ["ls"], ["import", "-"]):
        result = run(missing, *args, input="/a\n")
        assert result.returncode == 1, args
        # (kazoo's two-line UserWarning came first, and export exited 0 with no output)
        line = one_line(result.stderr)
        assert line.startswith(f"zkservices {args[0]}: ") and "chroot" in line and "/missing" in line, line
        assert result.stdout == ""


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

