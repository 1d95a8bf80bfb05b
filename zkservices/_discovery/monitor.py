"""The health monitor: a check run every ``interval`` seconds, transitions reported with dampening.

HAProxy-like dampening: ``rise`` consecutive passes to go up, ``fall``
consecutive failures to go down.  One deliberate difference from HAProxy: the
state starts *unknown* and the **first** result decides at once, so a healthy
server is registered without waiting ``rise * interval`` and a dead one is
never registered.  (HAProxy starts servers as up and needs ``fall`` failures
to take them down.)  Everything is logged under ``zkservices.health``.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from .._os import BackgroundLoop
from .checks import HealthCheck

__all__ = ["HealthMonitor"]

log = logging.getLogger("zkservices.health")

_STATES = {None: "unknown", True: "healthy", False: "unhealthy"}


class HealthMonitor:
    """Run ``check`` every ``interval`` seconds and report transitions.

    :param check: a :class:`~zkservices.HealthCheck`.
    :param interval: seconds between the starts of two checks; a check running
        longer is followed by the next one at once.
    :param timeout: seconds a check may take (passed to ``check.check``).
    :param rise, fall: consecutive passes to go up, failures to go down; a
        single differing result resets the count.
    :param on_change: ``on_change(healthy, reason)``, called on every
        transition (the first decision included) from the monitor's thread;
        an exception it raises is logged and the monitor goes on.
    :param name: used in logs and ``repr`` (default: the check's ``repr``).

    Raises :class:`TypeError` for a check without ``check(timeout)`` and
    :class:`ValueError` for bad numbers.  :attr:`healthy` is ``None``
    (unknown) until the first check decides it.

    Lifecycle: the constructor starts nothing; :meth:`start` starts the
    checking thread; :meth:`close` (or :meth:`stop`) ends it; a monitor cannot
    be restarted.  As a context manager it starts and closes.  Closing returns
    as soon as a check in progress ends (at most about ``timeout``); no
    ``on_change`` call happens after it returns.
    """

    def __init__(
        self,
        check: HealthCheck,
        *,
        interval: float = 2.0,
        timeout: float = 2.0,
        rise: int = 2,
        fall: int = 3,
        on_change: Callable[[bool, str], None] | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(getattr(check, "check", None)):
            raise TypeError(f"{check!r} has no check(timeout) method")
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if rise < 1 or fall < 1:
            raise ValueError(f"rise and fall must be at least 1 (got rise={rise}, fall={fall})")
        self.check = check
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.rise = int(rise)
        self.fall = int(fall)
        self.on_change = on_change
        self.name = name if name is not None else repr(check)
        self._healthy: bool | None = None
        self._reason = "not checked yet"
        self._streak = 0  # consecutive results that disagree with the current state
        self._checks = 0
        self._failures = 0
        self._last_ok: bool | None = None
        self._next_check = 0.0
        self._loop = BackgroundLoop(self._step, name=f"zkservices-health {self.name}")

    # -- state ---------------------------------------------------------------

    @property
    def healthy(self) -> bool | None:
        """``None`` until the first check, then the dampened state."""
        return self._healthy

    @property
    def reason(self) -> str:
        """The reason given by the most recent check."""
        return self._reason

    @property
    def checks(self) -> int:
        """How many checks have completed."""
        return self._checks

    @property
    def failures(self) -> int:
        """How many completed checks failed (not dampened)."""
        return self._failures

    @property
    def last_ok(self) -> bool | None:
        """The most recent check's own result (not dampened); ``None`` before the first."""
        return self._last_ok

    @property
    def running(self) -> bool:
        """Whether the checking thread is alive."""
        return self._loop.running

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`stop`) was called."""
        return self._loop.stopping

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "HealthMonitor":
        """Start the checking thread; returns the monitor.

        Raises :class:`RuntimeError` when it was started before.
        """
        if self._loop.started:
            raise RuntimeError(f"{self!r} was already started")
        self._next_check = time.monotonic()
        self._loop.start()
        log.debug("%s: monitoring every %ss (rise %d, fall %d)", self.name, self.interval, self.rise, self.fall)
        return self

    def close(self, timeout: float | None = None) -> None:
        """Stop checking and wait (up to ``timeout`` seconds) for the thread to end.

        Idempotent.  Safe to call from ``on_change`` (it then does not wait).
        """
        self._loop.stop(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """The same as :meth:`close`."""
        self.close(timeout)

    def __enter__(self) -> "HealthMonitor":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if not self._loop.started:
            life = "not started"
        elif self._loop.running and not self._loop.stopping:
            life = "running"
        else:
            life = "stopped"
        return (
            f"<HealthMonitor {self.name} {_STATES[self._healthy]} {life} interval={self.interval:g}s "
            f"rise={self.rise} fall={self.fall} checks={self._checks}>"
        )

    # -- the thread ----------------------------------------------------------

    def _step(self) -> float | None:
        ok, reason = self._check_once()
        if self._loop.stopping:
            return None  # a result arriving after close() is not reported
        self._record(ok, reason)
        self._next_check += self.interval
        now = time.monotonic()
        if self._next_check < now:
            self._next_check = now
        return self._next_check - now

    def _check_once(self) -> tuple[bool, str]:
        try:
            ok, reason = self.check.check(self.timeout)
        except Exception as exc:
            log.exception("%s: the check raised", self.name)
            return False, f"check raised {type(exc).__name__}: {exc}"
        return bool(ok), str(reason)

    def _record(self, ok: bool, reason: str) -> None:
        self._last_ok = ok
        self._reason = reason
        log.debug("%s: check %s (%s)", self.name, "passed" if ok else "failed", reason)
        try:
            if self._healthy is None:
                self._transition(ok, reason)
            elif ok == self._healthy:
                self._streak = 0
            else:
                self._streak += 1
                if self._streak >= (self.rise if ok else self.fall):
                    self._transition(ok, reason)
        finally:
            # counted last: a reader that sees the count sees what the check changed
            # (its output, the state, on_change's work)
            if not ok:
                self._failures += 1
            self._checks += 1

    def _transition(self, healthy: bool, reason: str) -> None:
        previous = self._healthy
        self._healthy = healthy
        self._streak = 0
        if healthy:
            log.info("%s: healthy (was %s): %s", self.name, _STATES[previous], reason)
        else:
            log.warning("%s: unhealthy (was %s): %s", self.name, _STATES[previous], reason)
        if self.on_change is None:
            return
        try:
            self.on_change(healthy, reason)
        except Exception:
            log.exception("%s: on_change(%r, %r) raised; monitoring goes on", self.name, healthy, reason)
