"""``zkservices register``: registration follows health, run as a real process and stopped with real signals.

Every registration and removal the command makes is a line on its stdout,
compared exactly; no wall-clock bounds are asserted (only generous timeouts).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from zkservices.cli import main, parse_value

from _netutil import free_port
from _util import props, wait_for


WAIT = 30.0


FAST_ARGS = ["--interval", "0.1", "--rise", "1", "--fall", "2"]


class RegisterCommand:
    """``python -m zkservices -z CONNECTION register ARGS…`` as a real process."""

    def __init__(self, connection_string: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zkservices", "-z", connection_string, "register", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_line(self, n: int, what: str) -> str:
        """Wait until stdout has ``n`` lines; return the last."""
        wait_for(lambda: len(self.stdout) >= n or self.proc.poll() is not None, WAIT, what)
        assert len(self.stdout) >= n, f"exited {self.proc.returncode}: {self.stderr[-5:]}"
        return self.stdout[n - 1]

    def stop(self, signum: int) -> int:
        """Send ``signum``, wait for the exit, return the exit code (output fully read)."""
        self.proc.send_signal(signum)
        code = self.proc.wait(WAIT)
        for reader in self._readers:
            reader.join(WAIT)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def commands():
    made: list[RegisterCommand] = []

    def run(connection_string: str, *args: str) -> RegisterCommand:
        command = RegisterCommand(connection_string, *args)
        made.append(command)
        return command

    yield run
    for command in made:
        command.kill()


# -- the command -----------------------------------------------------------------


def test_command_http_check_follows_backend_and_sigterm(zk_connection_string, zk_client, backends, commands):
    backend = backends("http").start()
    node = f"/web/providers/{backend.address}"
    url = f"http://{backend.address}/"
    cmd = commands(zk_connection_string, "--check-http", url, *FAST_ARGS, "/web/providers", backend.address,
                   "weight=3", "color=red", 'tags=["a"]', "ratio=0.5", "on=true", "none=null", "text=")

    assert cmd.wait_line(1, "registered") == f"registered {node} (healthy: HTTP 200)"
    data = props(zk_client, node)
    assert data == {"weight": 3, "color": "red", "tags": ["a"], "ratio": 0.5, "on": True, "none": None,
                    "text": "", "pid": cmd.proc.pid, "host": "127.0.0.1", "port": backend.port}

    backend.kill()
    assert cmd.wait_line(2, "unregistered").startswith(f"unregistered {node} (unhealthy: ")
    assert zk_client.exists(node) is None

    backend.start()
    assert cmd.wait_line(3, "registered again") == f"registered {node} (healthy: HTTP 200)"
    assert zk_client.exists(node)

    assert cmd.stop(signal.SIGTERM) == 0
    # the node is gone by the time the process has exited: no waiting
    assert zk_client.exists(node) is None
    assert cmd.stdout[3:] == [f"unregistered {node} (received SIGTERM)"]
    assert len(cmd.stdout) == 4, cmd.stdout
    assert not [line for line in cmd.stderr if "Traceback" in line], cmd.stderr


def test_command_default_tcp_check_and_sigint(zk_connection_string, zk_client, backends, commands):
    backend = backends("tcp").start()
    node = f"/tcp/{backend.address}"
    cmd = commands(zk_connection_string, "/tcp", backend.address, "--check-tcp", *FAST_ARGS)
    ok = f"connect to {backend.address} ok"
    assert cmd.wait_line(1, "registered") == f"registered {node} (healthy: {ok})"
    backend.kill()
    assert cmd.wait_line(2, "unregistered") == f"unregistered {node} (unhealthy: connect to {backend.address} refused)"
    backend.start()
    assert cmd.wait_line(3, "registered again") == f"registered {node} (healthy: {ok})"

    assert cmd.stop(signal.SIGINT) == 130  # Ctrl-C: the CLI's convention, after removing the node
    assert zk_client.exists(node) is None
    assert cmd.stdout[3:] == [f"unregistered {node} (received SIGINT)"]
    assert any("unhealthy (was healthy)" in line for line in cmd.stderr)  # logs go to stderr


def test_command_check_command_explicit_tcp_and_unconditional(zk_connection_string, zk_client, backends, commands,
                                                              tmp_path):
    flag = tmp_path / "up"
    flag.touch()
    by_command = commands(zk_connection_string, "--check-command", f"test -e {flag}", *FAST_ARGS,
                          "/c", "10.0.0.1:80")
    backend = backends("tcp").start()
    # the server registered is not the one checked
    by_tcp = commands(zk_connection_string, "--check-tcp", backend.address, *FAST_ARGS, "/c", "10.0.0.2:80")
    always = commands(zk_connection_string, "/c", "10.0.0.3:80", "weight=1")

    assert by_command.wait_line(1, "command check") == "registered /c/10.0.0.1:80 (healthy: exit 0)"
    assert by_tcp.wait_line(1, "tcp check") == f"registered /c/10.0.0.2:80 (healthy: connect to {backend.address} ok)"
    assert always.wait_line(1, "unconditional") == "registered /c/10.0.0.3:80 (healthy: no health check)"
    assert sorted(zk_client.get_children("/c")) == ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]

    flag.unlink()
    backend.kill()
    assert by_command.wait_line(2, "command check fails") == "unregistered /c/10.0.0.1:80 (unhealthy: exit 1)"
    assert by_tcp.wait_line(2, "tcp check fails").startswith("unregistered /c/10.0.0.2:80 (unhealthy: ")
    assert zk_client.get_children("/c") == ["10.0.0.3:80"]

    for cmd in (by_command, by_tcp, always):
        assert cmd.stop(signal.SIGTERM) == 0
    assert zk_client.get_children("/c") == []
    assert by_command.stdout == ["registered /c/10.0.0.1:80 (healthy: exit 0)",
                                 "unregistered /c/10.0.0.1:80 (unhealthy: exit 1)"]
    assert always.stdout == ["registered /c/10.0.0.3:80 (healthy: no health check)",
                             "unregistered /c/10.0.0.3:80 (received SIGTERM)"]


def test_command_waits_for_zookeeper_and_signal_while_waiting(zk_connection_string, zk_server, zk_client, commands):
    # nothing listens here: the command keeps trying until SIGTERM, then exits 0 cleanly
    nowhere = commands(f"127.0.0.1:{free_port()}", "/w", "10.0.0.1:80")
    wait_for(lambda: any("Connection refused" in line for line in nowhere.stderr), WAIT, "connection attempts logged")
    assert nowhere.stop(signal.SIGTERM) == 0
    assert nowhere.stdout == []
    assert not [line for line in nowhere.stderr if "Traceback" in line], nowhere.stderr

    # ZooKeeper down at start, up later: the command registers once it answers
    zk_server.stop()
    late = commands(zk_connection_string, "/w", "10.0.0.2:80")
    wait_for(lambda: any("Connection refused" in line for line in late.stderr), WAIT, "connection attempts logged")
    zk_server.start()
    assert late.wait_line(1, "registered after ZooKeeper came up") == "registered /w/10.0.0.2:80 (healthy: no health check)"
    wait_for(lambda: zk_client.exists("/w/10.0.0.2:80"), WAIT, "node visible")
    assert late.stop(signal.SIGTERM) == 0
    assert zk_client.exists("/w/10.0.0.2:80") is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["/s", "10.0.0.1:80", "--check-tcp", "--check-http", "http://x/"], "not allowed with argument"),
        (["/s", "10.0.0.1:80", "--check-http", "ftp://x/"], "expected an http:// or https:// URL"),
        (["s", "10.0.0.1:80"], "invalid path 's': must start with '/'"),
        (["/s", "10.0.0.1"], "expected 'host:port'"),
        (["/s", "10.0.0.1:99999"], "out of range"),
        (["/s", "10.0.0.1:80", "weight"], "expected name=VALUE, got 'weight'"),
        (["/s", "10.0.0.1:80", "=3"], "expected name=VALUE, got '=3'"),
        (["/s", "10.0.0.1:80", "host=h"], "host comes from HOST:PORT"),
        (["/s", "10.0.0.1:80", "a=1", "a=2"], "property 'a' given twice"),
        (["--interval", "0", "--check-tcp", "/s", "10.0.0.1:80"], "--interval: expected a positive number"),
        (["--fall", "x", "/s", "10.0.0.1:80", "--check-tcp"], "--fall: expected a whole number"),
        (["--rise", "2", "/s", "10.0.0.1:80"], "--rise: only with a check"),
        (["/s"], "the following arguments are required: HOST:PORT"),
    ],
)
def test_command_bad_arguments_exit_2(args, message, capsys):
    # an unreachable server: a usage error must come before any connection attempt
    with pytest.raises(SystemExit) as exc:
        main(["-z", "127.0.0.1:1", "register", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "zkservices register: error:" in err and message in err, err


def test_command_bad_arguments_exit_2_as_a_process():
    result = subprocess.run(
        [sys.executable, "-m", "zkservices", "-z", "127.0.0.1:1", "register", "/s", "nope"],
        capture_output=True, text=True, timeout=WAIT,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == "zkservices register: error: argument HOST:PORT: address 'nope': expected 'host:port'"


@pytest.mark.parametrize(
    "text, value",
    [
        ("3", 3),
        ("red", "red"),
        ('["a"]', ["a"]),
        ('{"a": 1}', {"a": 1}),
        ("0.5", 0.5),
        ("true", True),
        ("null", None),
        ('"3"', "3"),
        ("", ""),
        ("NaN", "NaN"),
        ("-Infinity", "-Infinity"),
        ("__import__('os')", "__import__('os')"),
        ("[1,", "[1,"),
    ],
)
def test_value_parsing(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)
