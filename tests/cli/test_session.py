"""Connecting (zkservices.cli.session): unreachable servers, missing chroots, ACL errors, auth and TLS options."""

from __future__ import annotations

import json
import time

import pytest
from kazoo.security import make_acl, make_digest_acl

import zkservices
from zkservices.cli import load_commands
from zkservices.cli.args import COMMANDS, build_parser, merge_connection_options

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



# ---------------------------------------------------------------------------
# --auth, --auth-file, $ZKSERVICES_AUTH, TLS options: parsing


def session_options(argv, monkeypatch, env=None):
    """The SessionOptions main() would use for ``argv`` (usage errors raise SystemExit 2)."""
    from zkservices.cli.session import resolve_session_options

    for name in ("ZKSERVICES_AUTH", "ZKSERVICES_TLS_CA", "ZKSERVICES_TLS_CERT", "ZKSERVICES_TLS_KEY",
                 "ZKSERVICES_CONNECTION", "ZC_ZK_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    load_commands()
    parser = build_parser(COMMANDS)
    args = parser.parse_args(argv)
    merge_connection_options(args)
    try:
        return resolve_session_options(args)
    except ValueError as exc:
        args.parser.error(str(exc))


def usage_error(argv, monkeypatch, capsys, env=None):
    with pytest.raises(SystemExit) as exc:
        session_options(argv, monkeypatch, env)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_auth_options_before_and_after_the_command(monkeypatch):
    options = session_options(["--auth", "digest:ops:secret", "get", "/x", "--auth", "digest:b:c", "-z", "h:1"],
                              monkeypatch)
    assert options.auth == (("digest", "ops:secret"), ("digest", "b:c"))
    assert options.connection_string == "h:1"
    assert options.tls is None
    assert "secret" not in repr(options)
    after = session_options(["-z", "a:1", "ls", "-z", "b:2"], monkeypatch)
    assert after.connection_string == "b:2"  # given after the command: it wins
    assert session_options(["ls"], monkeypatch).auth == ()


def test_auth_from_the_environment_unless_given_as_options(monkeypatch, tmp_path):
    env = {"ZKSERVICES_AUTH": "digest:a:1, digest:b:2\ndigest:c:3\n"}
    assert session_options(["ls"], monkeypatch, env).auth == (("digest", "a:1"), ("digest", "b:2"), ("digest", "c:3"))
    assert session_options(["--auth", "digest:x:y", "ls"], monkeypatch, env).auth == (("digest", "x:y"),)
    secrets = tmp_path / "zk-auth"
    secrets.write_text("# the ops identity\ndigest:ops:secret\n\n  digest:other:pw  \n")
    assert session_options(["ls", "--auth-file", str(secrets)], monkeypatch, env).auth == (
        ("digest", "ops:secret"), ("digest", "other:pw"))


def test_bad_auth_is_a_usage_error_naming_file_and_line_never_the_secret(monkeypatch, capsys, tmp_path):
    line = usage_error(["--auth", "digestonly", "ls"], monkeypatch, capsys)
    assert "--auth" in line and "expected SCHEME:CREDENTIALS" in line, line
    secrets = tmp_path / "zk-auth"
    secrets.write_text("digest:ops:secret\nsecret-without-scheme\n")
    line = usage_error(["ls", "--auth-file", str(secrets)], monkeypatch, capsys)
    assert f"--auth-file {secrets}, line 2: expected SCHEME:CREDENTIALS" in line and "secret-without" not in line, line
    line = usage_error(["ls", "--auth-file", str(tmp_path / "absent")], monkeypatch, capsys)
    assert f"--auth-file {tmp_path / 'absent'}: cannot read it" in line, line
    line = usage_error(["ls"], monkeypatch, capsys, {"ZKSERVICES_AUTH": "digest:a:1,nope"})
    assert "$ZKSERVICES_AUTH, item 2: expected SCHEME:CREDENTIALS" in line, line


def test_tls_options_and_environment(monkeypatch, capsys, tmp_path):
    # TLS(...) reads its files: real throw-away certificates (no server needed)
    from zkservices.testing import make_certificates

    made = make_certificates(str(tmp_path / "tls"))
    ca, cert, key = made.ca_file, made.client_cert_file, made.client_key_file
    options = session_options(["--tls-ca", str(ca), "get", "/x", "--tls-cert", str(cert), "--tls-key", str(key)],
                              monkeypatch)
    assert options.tls == zkservices.TLS(ca=str(ca), cert=str(cert), key=str(key))
    env = {"ZKSERVICES_TLS_CA": str(ca), "ZKSERVICES_TLS_CERT": str(cert), "ZKSERVICES_TLS_KEY": str(key)}
    assert session_options(["ls"], monkeypatch, env).tls == zkservices.TLS(ca=str(ca), cert=str(cert), key=str(key))
    assert session_options(["ls"], monkeypatch, {"ZKSERVICES_TLS_CA": str(ca)}).tls == zkservices.TLS(ca=str(ca))
    line = usage_error(["ls", "--tls-cert", str(cert)], monkeypatch, capsys)
    assert "cert and key go together" in line, line
    line = usage_error(["ls", "--tls-ca", str(tmp_path / "absent.pem")], monkeypatch, capsys)
    assert "absent.pem" in line and "does not exist" in line, line


@pytest.mark.parametrize("connection, problem", [
    ("127.0.0.1:notaport", "'127.0.0.1:notaport'"),
    ("127.0.0.1:99999", "out of range"),
    ("a:1,,b:2", "a host is missing"),
    (":2181", "has no host"),
    ("h:1/bad//chroot", "chroot"),
])
def test_an_invalid_connection_string_is_a_usage_error_at_once(connection, problem):
    started = time.monotonic()
    result = cli(connection, "get", "/")
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"invalid connection string {connection!r}" in line and problem in line, line
    assert time.monotonic() - started < 10
    from_env = cli(None, "ls", env={"ZKSERVICES_CONNECTION": connection})
    assert from_env.returncode == 2 and f"invalid connection string {connection!r}" in from_env.stderr


# ---------------------------------------------------------------------------
# --auth against a real server: refused writes change nothing, accepted ones work

OWNER = ("digest", "ops:secret")


@pytest.fixture
def owned(zk_connection_string, zk_client):
    """/owned: readable by everyone, writable by the digest identity ops:secret only."""
    with zkservices.ZooKeeper(zk_connection_string, auth=[OWNER]) as zk:
        zk.create("/owned", b'{"a":1,"b":2}', acl=[make_acl("world", "anyone", read=True),
                                                  make_digest_acl("ops", "secret", all=True)])
    return "/owned"


def refused(result, node):
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert node in line and "not authorized" in line, line
    return line


def test_cli_write_without_auth_is_refused_and_changes_nothing(zk_connection_string, zk_client, owned):
    before = zk_client.get(owned)
    refused(cli(zk_connection_string, "set-property", owned, "a=2"), owned)
    refused(cli(zk_connection_string, "unset-property", owned, "a"), owned)
    refused(cli(zk_connection_string, "import", "-", input="/owned\n  a = 3\n"), owned)
    refused(cli(zk_connection_string, "set-property", owned, "a=2", "--auth", "digest:ops:wrong"), owned)
    after = zk_client.get(owned)
    assert (after[0], after[1].version) == (before[0], before[1].version)
    # reading needs no identity
    got = cli(zk_connection_string, "get", owned)
    assert got.returncode == 0 and json.loads(got.stdout) == {"a": 1, "b": 2}


def test_cli_write_with_auth_option_environment_or_file_works(zk_connection_string, zk_client, owned, tmp_path):
    assert cli(zk_connection_string, "--auth", "digest:ops:secret", "set-property", owned, "a=2").returncode == 0
    assert json.loads(zk_client.get(owned)[0]) == {"a": 2, "b": 2}
    result = cli(zk_connection_string, "set-property", owned, "a=3", env={"ZKSERVICES_AUTH": "digest:ops:secret"})
    assert result.returncode == 0, result.stderr
    assert json.loads(zk_client.get(owned)[0]) == {"a": 3, "b": 2}
    secrets = tmp_path / "zk-auth"
    secrets.write_text("digest:ops:secret\n")
    result = cli(zk_connection_string, "unset-property", owned, "b", "--auth-file", str(secrets))
    assert result.returncode == 0, result.stderr
    assert json.loads(zk_client.get(owned)[0]) == {"a": 3}
    result = cli(zk_connection_string, "--auth-file", str(secrets), "import", "-", input="/owned\n  a = 4\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(zk_client.get(owned)[0]) == {"a": 4}


# ---------------------------------------------------------------------------
# Errors people can act on: refused, unknown host, options after the command


@pytest.mark.parametrize("command", [["get", "/"], ["ls"], ["export"], ["tree"], ["set-property", "/a", "x=1"],
                                     ["watch", "/a"], ["rm", "/a"]])
def test_a_refused_connection_is_reported_promptly(command):
    started = time.monotonic()
    result = cli("127.0.0.1:1", *command)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert one_line(result.stderr) == (
        f"zkservices {command[0]}: no ZooKeeper server at 127.0.0.1:1: connection refused by 127.0.0.1:1")
    assert elapsed < 8, elapsed  # the default --timeout is 10 s: it did not wait for it


def test_an_unknown_host_is_named_promptly(zk_connection_string):
    started = time.monotonic()
    result = cli("no-such-host.invalid:2181", "get", "/")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    line = one_line(result.stderr)
    assert "host 'no-such-host.invalid' cannot be resolved" in line, line
    assert elapsed < 8, elapsed
    # one good host among bad ones is enough
    good = cli(f"no-such-host.invalid:2181,{zk_connection_string}", "ls")
    assert good.returncode == 0, good.stderr


def test_connection_options_after_the_command(zk_connection_string, zk_client):
    zk_client.create("/a", b'{"x":1}')
    result = cli(None, "get", "/a", "-z", zk_connection_string, env={"ZKSERVICES_CONNECTION": "127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"x": 1}
    result = cli("127.0.0.1:1", "set-property", "--zookeeper", zk_connection_string, "/a", "x=2")
    assert result.returncode == 0, result.stderr
    assert json.loads(zk_client.get("/a")[0]) == {"x": 2}
