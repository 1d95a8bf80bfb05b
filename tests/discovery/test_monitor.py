"""The health monitor: dampening, transitions, lifecycle; with scripted checks and a real TCP server."""

from __future__ import annotations

import logging
import queue

import pytest

from zkservices._discovery import HealthMonitor, TcpCheck


WAIT = 30.0  # generous upper bound for anything asynchronous


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


def test_monitor_close_is_the_lifecycle_end():
    events: queue.Queue = queue.Queue()
    monitor = HealthMonitor(ScriptedCheck([True]), interval=3600, on_change=lambda ok, why: events.put(ok))
    assert not monitor.closed and not monitor.running
    with monitor:
        assert events.get(timeout=WAIT) is True
        assert monitor.running
    assert monitor.closed and not monitor.running and "stopped" in repr(monitor)
    monitor.close()  # idempotent


def test_a_check_is_counted_after_what_it_changed():
    # Readers poll the counts (tests, the agent's metrics): when a count moves, the
    # check's reason, result and transition are in place.  on_change runs before it.
    events: queue.Queue = queue.Queue()
    monitor: HealthMonitor

    def on_change(ok: bool, why: str) -> None:
        events.put((ok, why, monitor.checks, monitor.failures, monitor.reason, monitor.healthy))

    monitor = HealthMonitor(ScriptedCheck([False, True]), interval=0.01, timeout=1.0, rise=1, fall=1,
                            on_change=on_change)
    with monitor:
        got = collect(WAIT, events, 2)
    assert got == [(False, "check #1 bad", 0, 0, "check #1 bad", False),
                   (True, "check #2 ok", 1, 1, "check #2 ok", True)]
