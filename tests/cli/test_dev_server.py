"""``zkservices dev-server``: a real local ZooKeeper in the foreground, gone on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
from kazoo.client import KazooClient

from zkservices.testing import free_ports

pytestmark = pytest.mark.zookeeper  # the command starts servers of its own


def _stop_leftover(process: subprocess.Popen) -> None:
    # a dev-server a failed test left running: SIGTERM stops its servers with it (they run
    # in process groups of their own, which a SIGKILL of the command would leave behind)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "zkservices", "dev-server", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline().strip()  # the connection string, once serving
    if not line:
        process.kill()
        raise AssertionError(f"dev-server printed nothing: {process.stderr.read()}")
    return process, line


def _refused(host_port: str) -> bool:
    host, port = host_port.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("args, members, stop", [((), 1, signal.SIGTERM), (("--ensemble", "3"), 3, signal.SIGINT)])
def test_dev_server_serves_then_cleans_up(args, members, stop):
    process, connection_string = _start(*args)
    try:
        assert len(connection_string.split(",")) == members
        client = KazooClient(hosts=connection_string)
        client.start(timeout=30)
        client.create("/hello", b"world")
        assert client.get("/hello")[0] == b"world"
        client.stop()
        client.close()
        process.send_signal(stop)
        assert process.wait(30) == 0
        assert "stopped" in process.stderr.read()
        assert all(_refused(hp) for hp in connection_string.split(","))
    finally:
        _stop_leftover(process)


def test_dev_server_port_option(zk_server):
    port = free_ports(1)[0]
    process, connection_string = _start("--port", str(port))
    try:
        assert connection_string == f"127.0.0.1:{port}"
        process.terminate()
        assert process.wait(60) == 0
    finally:
        _stop_leftover(process)
    # a port already taken is refused with a clear one-line error
    taken = zk_server.port
    result = subprocess.run([sys.executable, "-m", "zkservices", "dev-server", "--port", str(taken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "in use" in result.stderr


def test_dev_server_mtls_prints_what_a_client_needs_and_cli_get_works_over_mutual_tls():
    """``dev-server --mtls``: the secure connection string and the TLS files; the CLI's
    ``get`` over mutual TLS with them works, without the client certificate it is refused."""
    import os

    process, secure = _start("--mtls")
    try:
        env_lines = [process.stdout.readline().strip() for _ in range(3)]
        env = dict(line.split("=", 1) for line in env_lines)
        assert set(env) == {"ZKSERVICES_TLS_CA", "ZKSERVICES_TLS_CERT", "ZKSERVICES_TLS_KEY"}
        assert all(os.path.isfile(path) for path in env.values())

        def cli(*args, extra_env):
            return subprocess.run([sys.executable, "-m", "zkservices", "-z", secure, *args], capture_output=True,
                                  text=True, timeout=60, env={**os.environ, **extra_env})

        made = cli("set-property", "/", "greeting=hello", extra_env=env)
        assert made.returncode == 0, made.stderr
        got = cli("get", "/", extra_env=env)
        assert got.returncode == 0 and '"greeting": "hello"' in got.stdout, (got.stdout, got.stderr)
        by_option = subprocess.run(
            [sys.executable, "-m", "zkservices", "get", "/", "-z", secure, "--tls-ca", env["ZKSERVICES_TLS_CA"],
             "--tls-cert", env["ZKSERVICES_TLS_CERT"], "--tls-key", env["ZKSERVICES_TLS_KEY"], "--timeout", "10"],
            capture_output=True, text=True, timeout=60)
        assert by_option.returncode == 0 and "hello" in by_option.stdout, by_option.stderr
        no_cert = cli("get", "/", "--timeout", "3", extra_env={"ZKSERVICES_TLS_CA": env["ZKSERVICES_TLS_CA"]})
        assert no_cert.returncode == 1, no_cert.stderr
        plain = cli("get", "/", "--timeout", "3", extra_env={})
        assert plain.returncode == 1, plain.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    finally:
        _stop_leftover(process)
