"""Health checks against real sockets, HTTP servers and processes."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time

import pytest

from zkservices._discovery import CommandCheck, HealthCheck, HttpCheck, TcpCheck

from _netutil import free_port
from _util import wait_gone


WAIT = 30.0  # generous upper bound for anything asynchronous


# -- TcpCheck ------------------------------------------------------------------


def test_tcp_check_listening_socket(flip_server):
    check = TcpCheck("127.0.0.1", flip_server.port)
    assert check.check(5.0) == (True, f"connect to 127.0.0.1:{flip_server.port} ok")
    assert isinstance(check, HealthCheck)
    assert repr(check) == f"TcpCheck('127.0.0.1', {flip_server.port})"


def test_tcp_check_closed_port():
    port = free_port()
    assert TcpCheck("127.0.0.1", port).check(5.0) == (False, f"connect to 127.0.0.1:{port} refused")


def test_tcp_check_unresolvable_host():
    ok, reason = TcpCheck("no-such-host.invalid", 80).check(5.0)
    assert not ok
    assert "no-such-host.invalid" in reason


def test_tcp_check_rejects_bad_port():
    with pytest.raises(ValueError):
        TcpCheck("127.0.0.1", 0)


# -- HttpCheck -----------------------------------------------------------------


class StatusHandler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = self.server.status  # type: ignore[attr-defined]
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StatusHandler)
    server.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(WAIT)


def test_http_check_status_codes(http_server):
    check = HttpCheck(f"http://127.0.0.1:{http_server.server_address[1]}/health")
    assert check.check(5.0) == (True, "HTTP 200")
    http_server.status = 503
    assert check.check(5.0) == (False, "HTTP 503")
    http_server.status = 302  # a redirect is an answer: healthy, and not followed
    assert check.check(5.0) == (True, "HTTP 302")
    http_server.status = 404
    assert check.check(5.0) == (False, "HTTP 404")
    assert repr(check) == f"HttpCheck('http://127.0.0.1:{http_server.server_address[1]}/health')"


def test_http_check_refused():
    url = f"http://127.0.0.1:{free_port()}/"
    ok, reason = HttpCheck(url).check(5.0)
    assert not ok
    assert reason == f"GET {url}: connection refused"


def test_http_check_timeout():
    # A socket that accepts connections (backlog) but never answers.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        ok, reason = HttpCheck(f"http://127.0.0.1:{sock.getsockname()[1]}/").check(0.3)
    assert (ok, reason) == (False, "timed out after 0.3s")


def test_http_check_needs_http_url():
    with pytest.raises(ValueError):
        HttpCheck("ftp://example.com/")


# -- CommandCheck --------------------------------------------------------------


def test_command_check_exit_status():
    assert CommandCheck("true").check(10.0) == (True, "exit 0")
    assert CommandCheck(["false"]).check(10.0) == (False, "exit 1")
    assert CommandCheck("echo out; echo first >&2; echo 'it broke' >&2; exit 3").check(10.0) == (
        False,
        "exit 3: it broke",
    )
    assert CommandCheck("echo only stdout; exit 2").check(10.0) == (False, "exit 2: only stdout")
    assert repr(CommandCheck(["sleep", "1"])) == "CommandCheck(['sleep', '1'])"
    assert repr(CommandCheck("true")) == "CommandCheck('true')"


def test_command_check_missing_executable():
    ok, reason = CommandCheck(["/nonexistent/zkservices-check"]).check(10.0)
    assert not ok
    assert "/nonexistent/zkservices-check" in reason


def test_command_check_timeout_kills_process_group(tmp_path):
    assert CommandCheck("sleep 5").check(0.5) == (False, "timed out after 0.5s")
    # The whole group goes: a shell and a background child it started.
    pidfile = tmp_path / "pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    assert CommandCheck(command).check(1.0) == (False, "timed out after 1.0s")
    pid = int(pidfile.read_text())
    assert wait_gone(pid, WAIT)


def test_command_check_pid_in_own_session(tmp_path):
    # The command does not share our process group (so killing it cannot hit us).
    out = tmp_path / "pgid"
    assert CommandCheck(f"awk '{{print $5}}' /proc/$$/stat > {out}").check(10.0)[0]
    assert int(out.read_text()) != os.getpgrp()


# -- checks with background children and trickling servers ----------------------------

import signal  # noqa: E402


def test_command_check_with_a_background_child_passes(tmp_path):
    # The same for registrars: a check command that spawns something in the
    # background was reported "timed out" (and unregistered the server).
    pidfile = tmp_path / "child.pid"
    try:
        ok, reason = CommandCheck(f"sleep 60 & echo $! > {pidfile}; exit 0").check(10.0)
        assert ok, reason
    finally:
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_http_check_ends_after_timeout_against_a_trickling_server():
    # The socket timeout bounds each read, not the check: a wedged server that
    # sends a byte now and then held the monitor for minutes (no later check,
    # so a dead server stayed registered).
    import socket
    import threading

    from zkservices._discovery import HttpCheck

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    done = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                if done.is_set():
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    result: list = []
    checker = threading.Thread(
        target=lambda: result.append(HttpCheck(f"http://127.0.0.1:{server.getsockname()[1]}/").check(0.5)),
        daemon=True,
    )
    try:
        checker.start()
        checker.join(WAIT)  # unfixed: 20 s of trickle; fixed: about 0.5 s
        assert result == [(False, "timed out after 0.5s")]
    finally:
        done.set()
        server.close()

