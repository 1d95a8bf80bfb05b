"""Issue 5: registration follows health, with the library class and ``zkservices register``.

Everything is real: a ZooKeeper server, backend processes (a TCP listener, ``python
-m http.server``) that are killed and restarted, the command run as a process and
stopped with real signals.  No wall-clock bounds are asserted (only generous
timeouts); instead every registration and removal is recorded (``on_change``, the
``zkservices.selfreg`` log, the command's stdout) and compared exactly.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

import zkservices
from zkservices.cli import parse_value
from zkservices._health import CommandCheck
from zkservices.cli import main
from zkservices.testing import expire_session

from _util import props, wait_for

WAIT = 30.0
FAST = dict(interval=0.1, rise=1, fall=2)
FAST_ARGS = ["--interval", "0.1", "--rise", "1", "--fall", "2"]

TCP_LISTENER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    conn, _ = s.accept()
    conn.close()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


class Backend:
    """A real backend process on a fixed loopback port, killed and restarted at will."""

    def __init__(self, kind: str, cwd: str) -> None:
        self.kind = kind
        self.cwd = cwd
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Backend":
        if self.kind == "http":
            argv = [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1"]
        else:
            argv = [sys.executable, "-c", TCP_LISTENER, str(self.port)]
        self.proc = subprocess.Popen(argv, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is None and accepts(self.port), WAIT, f"{self.kind} backend on {self.port}")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def backends(tmp_path):
    made: list[Backend] = []

    def make(kind: str = "tcp") -> Backend:
        backend = Backend(kind, str(tmp_path))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        if backend.proc is not None:
            backend.kill()


class Recorder:
    """``on_change`` that records ``(registered, reason, paths)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str, tuple[str, ...]]] = []
        self.lock = threading.Lock()

    def __call__(self, registered: bool, reason: str, paths: tuple[str, ...]) -> None:
        with self.lock:
            self.calls.append((registered, reason, paths))

    @property
    def flags(self) -> list[bool]:
        with self.lock:
            return [c[0] for c in self.calls]


def selfreg_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "zkservices.selfreg" and r.levelno == logging.INFO]


def owner(client, path):
    stat = client.exists(path)
    return stat.ephemeralOwner if stat else None


# -- the library class -----------------------------------------------------------


def test_library_registration_follows_health(zk, zk_client, backends, caplog):
    caplog.set_level(logging.INFO, logger="zkservices.selfreg")
    backend = backends("tcp").start()
    node = f"/svc/providers/{backend.address}"
    ok = f"connect to {backend.address} ok"
    refused = f"connect to {backend.address} refused"
    rec = Recorder()
    hreg = zkservices.HealthCheckedRegistration(zk, "/svc/providers", backend.address, on_change=rec,
                                                weight=3, **FAST)
    assert hreg.healthy is None and not hreg.registered and hreg.paths == ()
    assert "not registered created" in repr(hreg)
    hreg.start()
    try:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        assert props(zk_client, node) == {"weight": 3, "pid": os.getpid(), "host": "127.0.0.1", "port": backend.port}
        wait_for(lambda: hreg.registered, WAIT, "registered state")
        assert hreg.healthy is True and hreg.paths == (node,)
        assert repr(hreg).startswith(f"<HealthCheckedRegistration /svc/providers {backend.address} healthy registered started")

        backend.kill()
        wait_for(lambda: zk_client.exists(node) is None, WAIT, "node removed after the backend died")
        wait_for(lambda: not hreg.registered, WAIT, "unregistered state")
        assert hreg.healthy is False

        backend.start()
        wait_for(lambda: zk_client.exists(node), WAIT, "node back after the backend restarted")
        wait_for(lambda: hreg.registered, WAIT, "registered state")
    finally:
        hreg.stop()
    # stop() removes the node before it returns: no waiting here
    assert zk_client.exists(node) is None
    assert not hreg.registered
    assert rec.calls == [
        (True, f"healthy: {ok}", (node,)),
        (False, f"unhealthy: {refused}", (node,)),
        (True, f"healthy: {ok}", (node,)),
        (False, "stopped", (node,)),
    ]
    assert selfreg_messages(caplog) == [
        f"registered {node} (healthy: {ok})",
        f"unregistered {node} (unhealthy: {refused})",
        f"registered {node} (healthy: {ok})",
        f"unregistered {node} (stopped)",
    ]
    with pytest.raises(RuntimeError):
        hreg.start()  # no restart
    hreg.stop()  # idempotent


def test_library_dead_at_start_is_never_registered(zk, zk_client, backends):
    backend = backends("tcp")  # not started yet
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: hreg.healthy is False, WAIT, "first check decided")
        assert not hreg.registered
        assert zk_client.exists(node) is None
        assert rec.calls == []
        backend.start()
        wait_for(lambda: zk_client.exists(node), WAIT, "registered once the backend is up")
    assert zk_client.exists(node) is None
    assert rec.flags == [True, False]


def test_library_check_and_bad_arguments(zk, zk_client, tmp_path):
    flag = tmp_path / "healthy"
    flag.touch()
    check = CommandCheck(["test", "-e", str(flag)])
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/cmd", "10.0.0.1:80", check=check, on_change=rec, **FAST):
        wait_for(lambda: zk_client.exists("/cmd/10.0.0.1:80"), WAIT, "registered")
        flag.unlink()
        wait_for(lambda: zk_client.exists("/cmd/10.0.0.1:80") is None, WAIT, "removed")
        wait_for(lambda: len(rec.calls) == 2, WAIT, "removal recorded")
    assert rec.calls == [
        (True, "healthy: exit 0", ("/cmd/10.0.0.1:80",)),
        (False, "unhealthy: exit 1", ("/cmd/10.0.0.1:80",)),
    ]
    for bad in [dict(path="nope"), dict(address="10.0.0.1"), dict(interval=0), dict(fall=0),
                dict(weight=float("nan")), dict(check=object())]:
        kw = dict(path="/x", address="10.0.0.1:80", **FAST)
        kw.update(bad)
        with pytest.raises((ValueError, TypeError)):
            zkservices.HealthCheckedRegistration(zk, kw.pop("path"), kw.pop("address"), **kw)


def test_session_expiry_while_unhealthy_does_not_restore(zk, zk_client, backends):
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        backend.kill()
        wait_for(lambda: not hreg.registered, WAIT, "unregistered")
        assert zk_client.exists(node) is None

        new = expire_session(zk)  # returns once zkservices has restored what it restores

        assert zk_client.exists(node) is None, "an unhealthy server came back after session loss"
        assert not hreg.registered and hreg.healthy is False
        backend.start()
        wait_for(lambda: owner(zk_client, node) == new, WAIT, "registered again, in the new session")
    assert zk_client.exists(node) is None
    assert rec.flags == [True, False, True, False]


def test_session_expiry_while_healthy_restores(zk, zk_client, backends):
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, weight=5, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        old = owner(zk_client, node)

        new = expire_session(zk)

        assert new != old
        assert owner(zk_client, node) == new, "a healthy server was not restored after session loss"
        assert props(zk_client, node)["weight"] == 5
        assert hreg.registered
        # and it still follows health in the new session
        backend.kill()
        wait_for(lambda: zk_client.exists(node) is None, WAIT, "removed after the backend died")
    # the restore is ZooKeeper's, not a second registration
    assert rec.flags == [True, False]


def test_checks_go_on_while_zookeeper_hangs(zk, zk_client, zk_server, backends):
    """ZooKeeper calls never run on the monitor's thread: a hung ZooKeeper does not stall checks."""
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        zk_server.pause()
        try:
            backend.kill()
            wait_for(lambda: hreg.healthy is False, WAIT, "unhealthy while ZooKeeper hangs")
            backend.start()
            # with the removal stuck on the hung server, checks must go on
            wait_for(lambda: hreg.healthy is True, WAIT, "healthy again while ZooKeeper hangs")
        finally:
            zk_server.resume()
        wait_for(lambda: rec.flags == [True, False, True], WAIT, "removal and registration applied")
        wait_for(lambda: owner(zk_client, node) == zk.client.client_id[0], WAIT, "registered at the end")
    assert zk_client.exists(node) is None


# -- the command -----------------------------------------------------------------


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


def test_session_closed_under_it(zk_connection_string, zk_client, backends, caplog):
    """Closing the session first: the node goes with it; later changes end the thread quietly."""
    caplog.set_level(logging.INFO, logger="zkservices.selfreg")
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    own = zkservices.ZooKeeper(zk_connection_string)
    hreg = zkservices.HealthCheckedRegistration(own, "/svc", backend.address, on_change=rec, **FAST).start()
    try:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        own.close()  # its ephemeral node goes with it
        assert zk_client.exists(node) is None
        backend.kill()
        wait_for(lambda: rec.flags == [True, False], WAIT, "removal (a no-op) recorded")
        backend.start()
        wait_for(lambda: any("no longer registering" in m for m in
                             [r.getMessage() for r in caplog.records if r.name == "zkservices.selfreg"]),
                 WAIT, "the closed session noticed")
        assert zk_client.exists(node) is None
    finally:
        hreg.stop(WAIT)
    assert not hreg.registered and rec.flags == [True, False]
    assert "stopped" in repr(hreg)
