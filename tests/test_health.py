"""Health checks and the monitor, against real sockets, HTTP servers and processes."""

from __future__ import annotations

import http.server
import logging
import os
import queue
import socket
import threading
import time

import pytest

from zkservices._health import CommandCheck, HealthCheck, HealthMonitor, HttpCheck, TcpCheck

WAIT = 30.0  # generous upper bound for anything asynchronous


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlipServer:
    """A tiny real TCP server on a fixed port that can be started and stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        assert self._sock is not None
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._sock = None
        assert self._thread is not None
        self._thread.join(WAIT)


@pytest.fixture
def flip_server():
    server = FlipServer()
    server.start()
    yield server
    if server._sock is not None:
        server.stop()


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


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_command_check_timeout_kills_process_group(tmp_path):
    assert CommandCheck("sleep 5").check(0.5) == (False, "timed out after 0.5s")
    # The whole group goes: a shell and a background child it started.
    pidfile = tmp_path / "pid"
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    assert CommandCheck(command).check(1.0) == (False, "timed out after 1.0s")
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + WAIT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


# -- HealthMonitor ---------------------------------------------------------------


class ScriptedCheck:
    """Returns results from a script, one per check; then repeats the last one."""

    def __init__(self, results: list[bool]) -> None:
        self.results = results
        self.count = 0

    def check(self, timeout: float) -> tuple[bool, str]:
        ok = self.results[min(self.count, len(self.results) - 1)]
        self.count += 1
        return ok, f"check #{self.count} {'ok' if ok else 'bad'}"

    def __repr__(self) -> str:
        return "ScriptedCheck()"


def collect(timeout: float, q: "queue.Queue", n: int) -> list:
    return [q.get(timeout=timeout) for _ in range(n)]


def test_monitor_first_check_decides_then_rise_and_fall():
    # 1: up at once; 2-3 fail, 4 passes (resets); 5-7 fail -> down at 7;
    # 8 passes, 9 fails (resets); 10-11 pass -> up at 11.
    script = [True, False, False, True, False, False, False, True, False, True, True]
    check = ScriptedCheck(script)
    events: queue.Queue = queue.Queue()
    monitor = HealthMonitor(
        check, interval=0.01, timeout=1.0, rise=2, fall=3, on_change=lambda ok, why: events.put((ok, why))
    )
    assert monitor.healthy is None
    with monitor:
        got = collect(WAIT, events, 3)
    assert got == [(True, "check #1 ok"), (False, "check #7 bad"), (True, "check #11 ok")]
    assert monitor.healthy is True
    assert not monitor.running


def test_monitor_first_check_failing_reports_unhealthy_at_once():
    events: queue.Queue = queue.Queue()
    with HealthMonitor(ScriptedCheck([False]), interval=0.01, on_change=lambda ok, why: events.put(ok)) as monitor:
        assert events.get(timeout=WAIT) is False
    assert monitor.healthy is False
    assert events.empty()


def test_monitor_with_real_tcp_server(flip_server):
    events: queue.Queue = queue.Queue()
    monitor = HealthMonitor(
        TcpCheck("127.0.0.1", flip_server.port),
        interval=0.05,
        timeout=2.0,
        rise=2,
        fall=2,
        on_change=lambda ok, why: events.put((ok, why)),
        name="flip",
    )
    with monitor:
        assert events.get(timeout=WAIT) == (True, f"connect to 127.0.0.1:{flip_server.port} ok")
        flip_server.stop()
        assert events.get(timeout=WAIT) == (False, f"connect to 127.0.0.1:{flip_server.port} refused")
        assert monitor.healthy is False
        flip_server.start()
        assert events.get(timeout=WAIT) == (True, f"connect to 127.0.0.1:{flip_server.port} ok")
        assert monitor.healthy is True
    assert "flip" in repr(monitor) and "healthy" in repr(monitor)


def test_monitor_survives_raising_on_change(caplog):
    calls: queue.Queue = queue.Queue()

    def on_change(ok: bool, why: str) -> None:
        calls.put(ok)
        raise RuntimeError("callback bug")

    check = ScriptedCheck([True, False, False, True])
    with caplog.at_level(logging.ERROR, logger="zkservices.health"):
        with HealthMonitor(check, interval=0.01, rise=1, fall=2, on_change=on_change) as monitor:
            assert collect(WAIT, calls, 3) == [True, False, True]
            assert monitor.running
    assert any("callback bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_monitor_raising_check_counts_as_failure():
    class Broken:
        def check(self, timeout: float) -> tuple[bool, str]:
            raise OSError("boom")

    events: queue.Queue = queue.Queue()
    with HealthMonitor(Broken(), interval=0.01, on_change=lambda ok, why: events.put((ok, why))):
        assert events.get(timeout=WAIT) == (False, "check raised OSError: boom")


def test_monitor_stops_promptly_during_a_long_interval():
    events: queue.Queue = queue.Queue()
    monitor = HealthMonitor(ScriptedCheck([True]), interval=3600, on_change=lambda ok, why: events.put(ok))
    monitor.start()
    assert events.get(timeout=WAIT) is True
    monitor.stop(timeout=WAIT)
    assert not monitor.running  # it did not sleep through the hour
    assert "stopped" in repr(monitor)
    monitor.stop()  # idempotent
    with pytest.raises(RuntimeError):
        monitor.start()


def test_monitor_logs_transitions(caplog, flip_server):
    events: queue.Queue = queue.Queue()
    with caplog.at_level(logging.INFO, logger="zkservices.health"):
        with HealthMonitor(
            TcpCheck("127.0.0.1", flip_server.port),
            interval=0.05,
            fall=1,
            on_change=lambda ok, why: events.put(ok),
            name="svc",
        ):
            assert events.get(timeout=WAIT) is True
            flip_server.stop()
            assert events.get(timeout=WAIT) is False
    levels = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "zkservices.health"]
    assert (logging.INFO, f"svc: healthy (was unknown): connect to 127.0.0.1:{flip_server.port} ok") in levels
    assert (logging.WARNING, f"svc: unhealthy (was healthy): connect to 127.0.0.1:{flip_server.port} refused") in levels


def test_monitor_validates_options():
    with pytest.raises(ValueError):
        HealthMonitor(ScriptedCheck([True]), interval=0)
    with pytest.raises(ValueError):
        HealthMonitor(ScriptedCheck([True]), rise=0)
    with pytest.raises(TypeError):
        HealthMonitor(object())  # type: ignore[arg-type]
    assert repr(HealthMonitor(ScriptedCheck([True]))).startswith("<HealthMonitor ScriptedCheck() unknown not started")


def test_command_check_pid_in_own_session(tmp_path):
    # The command does not share our process group (so killing it cannot hit us).
    out = tmp_path / "pgid"
    assert CommandCheck(f"awk '{{print $5}}' /proc/$$/stat > {out}").check(10.0)[0]
    assert int(out.read_text()) != os.getpgrp()
