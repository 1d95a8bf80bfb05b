"""The background loop: steps, waits, wake-ups, stopping, errors -- with real threads."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from zkservices._os import UNTIL_WOKEN, BackgroundLoop

WAIT = 30.0


class Recorder:
    """A step that records its calls and returns what the test scripts."""

    def __init__(self, *results) -> None:
        self.results = list(results)
        self.calls = 0
        self.called = threading.Event()
        self.threads: set[str] = set()

    def __call__(self):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.called.set()
        if self.results:
            result = self.results.pop(0)
            if isinstance(result, BaseException):
                raise result
            return result
        return UNTIL_WOKEN

    def wait_calls(self, n: int) -> None:
        deadline = time.monotonic() + WAIT
        while self.calls < n:
            assert time.monotonic() < deadline, f"step called {self.calls} times, waited for {n}"
            time.sleep(0.005)


def test_runs_until_step_returns_none():
    step = Recorder(0.0, 0.0, None)
    loop = BackgroundLoop(step, name="loop-test")
    assert not loop.started and not loop.running and "not started" in repr(loop)
    assert loop.start() is loop
    assert loop.join(WAIT)
    assert step.calls == 3 and step.threads == {"loop-test"}
    assert loop.finished and not loop.running and "finished" in repr(loop)


def test_wake_cuts_the_wait_short_and_is_never_lost():
    step = Recorder(UNTIL_WOKEN, 3600.0)
    loop = BackgroundLoop(step, name="loop-test").start()
    try:
        step.wait_calls(1)
        time.sleep(0.05)
        assert step.calls == 1  # waiting until woken
        loop.wake()
        step.wait_calls(2)  # woken out of UNTIL_WOKEN
        loop.wake()
        step.wait_calls(3)  # and out of an hour's wait
        assert "running" in repr(loop)
    finally:
        assert loop.stop(WAIT)


def test_a_wake_during_a_step_makes_the_next_wait_return_at_once():
    inside, release = threading.Event(), threading.Event()
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            inside.set()
            assert release.wait(WAIT)
        return UNTIL_WOKEN

    loop = BackgroundLoop(step, name="loop-test").start()
    try:
        assert inside.wait(WAIT)
        loop.wake()  # while the step runs
        release.set()
        deadline = time.monotonic() + WAIT
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(calls) == 2
    finally:
        loop.stop(WAIT)


def test_a_delay_runs_the_step_again_without_a_wake():
    step = Recorder(0.05, 0.05, None)
    loop = BackgroundLoop(step, name="loop-test").start()
    assert loop.join(WAIT)
    assert step.calls == 3


def test_stop_ends_after_the_step_in_progress_and_is_idempotent():
    inside, release = threading.Event(), threading.Event()
    calls = []

    def step():
        calls.append(1)
        inside.set()
        assert release.wait(WAIT)
        return 0.0  # would run again at once, were it not stopped

    loop = BackgroundLoop(step, name="loop-test").start()
    assert inside.wait(WAIT)
    assert loop.stop(timeout=0.05) is False  # the step is still running
    assert loop.stopping and "stopping" in repr(loop)
    release.set()
    assert loop.stop(WAIT) is True
    assert calls == [1]
    assert loop.stop() is True  # idempotent


def test_stop_from_the_step_itself_does_not_wait():
    results = []

    def step():
        results.append(loop.stop(WAIT))
        results.append(loop.on_thread())
        return 0.0

    loop = BackgroundLoop(step, name="loop-test").start()
    assert loop.join(WAIT)
    assert results == [False, True]


def test_started_once_and_never_after_a_stop():
    step = Recorder()
    loop = BackgroundLoop(step, name="loop-test").start()
    with pytest.raises(RuntimeError):
        loop.start()
    step.wait_calls(1)
    loop.stop(WAIT)
    stopped_first = BackgroundLoop(step, name="never")
    assert stopped_first.stop() is True
    stopped_first.start()
    assert not stopped_first.running and step.calls == 1
    assert "stopped" in repr(stopped_first)


def test_an_exception_in_the_step_is_logged_and_the_loop_goes_on(caplog):
    step = Recorder(RuntimeError("step bug"), None)
    with caplog.at_level(logging.ERROR, logger="zkservices.loop"):
        loop = BackgroundLoop(step, name="loop-test", error_delay=0.01).start()
        assert loop.join(WAIT)
    assert step.calls == 2
    assert any("loop-test: unexpected error" in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_owner_shares_the_condition():
    condition = threading.Condition()
    state = {"work": 0, "done": 0}

    def step():
        with condition:
            if state["work"] == -1:
                return None
            state["done"] += state["work"]
            state["work"] = 0
            condition.notify_all()
        return UNTIL_WOKEN

    loop = BackgroundLoop(step, name="loop-test", condition=condition).start()
    assert loop.condition is condition
    for _ in range(5):
        with condition:
            state["work"] += 1
            loop.wake()
    with condition:
        assert condition.wait_for(lambda: state["done"] == 5, WAIT)
        state["work"] = -1
        loop.wake()
    assert loop.join(WAIT)


def test_bad_arguments():
    with pytest.raises(TypeError):
        BackgroundLoop("not callable", name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BackgroundLoop(lambda: None, name="x", error_delay=-1)
