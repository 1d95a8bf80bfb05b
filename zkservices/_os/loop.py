"""The background loop: one daemon thread that runs a step function until it is done or stopped.

Every long-lived object of zkservices that works in the background (a server
set, a file feed, a health monitor, a self-registration, a background
connection) owns one :class:`BackgroundLoop`.  The owner keeps its state
under :attr:`BackgroundLoop.condition`, changes it from any thread and calls
:meth:`~BackgroundLoop.wake`; the loop's thread calls ``step()`` again, which
looks at the state, does the work and says when it wants to run next:

- a number of seconds: run again after that long, or as soon as someone
  wakes the loop (``0``: at once);
- :data:`UNTIL_WOKEN`: run again only when woken;
- ``None``: the work is done; the thread ends.

A wake-up that arrives while ``step`` runs is not lost: the next wait returns
at once.  :meth:`~BackgroundLoop.stop` ends the loop after the step in
progress (``step`` is not called again); an owner that must finish work
before it stops (unregister, render what is pending) sets its own flag,
wakes the loop, lets ``step`` return ``None`` and :meth:`~BackgroundLoop.join`\\ s.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable

__all__ = ["BackgroundLoop", "UNTIL_WOKEN", "Step"]

log = logging.getLogger("zkservices.loop")

#: What ``step`` returns to sleep until :meth:`BackgroundLoop.wake` (or :meth:`~BackgroundLoop.stop`).
UNTIL_WOKEN = math.inf

#: The step function: returns seconds to wait (``UNTIL_WOKEN``: until woken), or ``None`` when done.
Step = Callable[[], "float | None"]


class BackgroundLoop:
    """A daemon thread calling ``step`` whenever it is due (see the module documentation).

    :param step: the work; called on the loop's thread only, one call at a time.
    :param name: the thread's name (shown in logs and ``repr``).
    :param condition: the lock and condition the owner guards its state with
        (a new :class:`threading.Condition` when ``None``); the loop waits on it.
    :param error_delay: seconds before ``step`` runs again after it raised (the
        exception is logged with its traceback on ``zkservices.loop``).

    Lifecycle: constructed (no thread) → :meth:`start` (the thread runs) →
    finished (``step`` returned ``None``, or :meth:`stop`).  It cannot be
    restarted: :meth:`start` raises :class:`RuntimeError` the second time.
    """

    def __init__(
        self,
        step: Step,
        *,
        name: str,
        condition: threading.Condition | None = None,
        error_delay: float = 1.0,
    ) -> None:
        if not callable(step):
            raise TypeError(f"step {step!r} is not callable")
        if error_delay < 0:
            raise ValueError(f"error_delay must not be negative, not {error_delay!r}")
        self.name = name
        self.condition = condition if condition is not None else threading.Condition()
        self.error_delay = float(error_delay)
        self._step = step
        self._woken = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- state -------------------------------------------------------------

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return self._thread is not None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def finished(self) -> bool:
        """Whether the loop is over: its thread ended, or it was stopped before it started."""
        thread = self._thread
        return thread is not None and not thread.is_alive()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (``step`` may check it to skip the rest of its work)."""
        return self._stopping

    def on_thread(self) -> bool:
        """Whether the caller runs on the loop's own thread (inside ``step``)."""
        return self._thread is threading.current_thread()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "BackgroundLoop":
        """Start the thread; returns the loop.

        Raises :class:`RuntimeError` when it was started before.  A loop
        stopped before it was started never starts a thread.
        """
        with self.condition:
            if self._thread is not None:
                raise RuntimeError(f"{self!r} was already started")
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            if self._stopping:
                return self
            self._thread.start()
        return self

    def wake(self) -> None:
        """Make the loop call ``step`` again now (from any thread; never blocks on ``step``)."""
        with self.condition:
            self._woken = True
            self.condition.notify_all()

    def stop(self, timeout: float | None = None) -> bool:
        """End the loop after the step in progress and wait up to ``timeout`` seconds for it.

        Idempotent; from ``step`` itself it does not wait.  Returns whether the
        thread has ended (or never ran).
        """
        with self.condition:
            self._stopping = True
            self.condition.notify_all()
        return self.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit) for the thread to end.

        Returns whether it has ended (or never ran); from the loop's own thread it
        returns ``False`` at once.
        """
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        return not thread.is_alive()

    # -- the thread ----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self.condition:
                if self._stopping:
                    break
                self._woken = False
            try:
                delay = self._step()
            except Exception:
                log.exception("%s: unexpected error; going on in %gs", self.name, self.error_delay)
                delay = self.error_delay
            if delay is None:
                break
            if delay > 0:
                self._wait(delay)
        log.debug("%s: finished", self.name)

    def _wait(self, delay: float) -> None:
        deadline = None if delay == UNTIL_WOKEN else time.monotonic() + delay
        with self.condition:
            while not (self._woken or self._stopping):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self.condition.wait(remaining)

    def __repr__(self) -> str:
        if self._thread is None or self._thread.ident is None:
            state = "stopped" if self._stopping else "not started"
        elif self._thread.is_alive():
            state = "stopping" if self._stopping else "running"
        else:
            state = "finished"
        return f"<BackgroundLoop {self.name} {state}>"
