"""Self-registration that follows a health check: the library side of ``zkservices register``.

:class:`HealthCheckedRegistration` keeps a server registered (an ephemeral
``host:port`` node made by :meth:`ZooKeeper.register_server
<zkservices.ZooKeeper.register_server>`) while its health check passes, removes
the node when the check fails (after ``fall`` consecutive failures) and registers
it again when the check passes (after ``rise`` consecutive passes).  The check
and its dampening are :class:`~zkservices.HealthMonitor`'s: the *first*
result decides at once, so a healthy server is registered after one check and a
dead one is never registered.

Decisions:

- **Threads.**  The checks run on the monitor's thread; the ZooKeeper calls
  (register, unregister) run on a thread of their own, one per instance, never
  on the monitor's.  ZooKeeper calls retry through connection loss and so can
  block for as long as ZooKeeper is unreachable; on the monitor's thread that
  would stall the checks and with them every later decision.  The ZooKeeper
  thread is *level-triggered*: it applies the latest wanted state, so a flap
  that comes and goes while a call is in progress costs nothing.  A call that
  fails (say ZooKeeper refused it) is retried with a growing delay (0.1 s up to
  5 s), logged as a WARNING each time.
- **Session loss** is handled by :class:`~zkservices.ZooKeeper` itself: live
  registrations are restored in the new session.  An unhealthy server is
  unregistered through :meth:`Registration.unregister
  <zkservices.Registration.unregister>`, which takes it out of the session's
  table first, so it is *not* restored; a healthy one is.  A check that fails
  while the connection is down takes the server out of that table at once; the
  node itself is deleted when the connection is back (or goes with the session).
- **Data.**  Every (re-)registration writes the properties given here (plus
  ``host``, ``port`` and ``pid``, as ``register_server`` does); changes made to
  the node meanwhile are not carried over to the next registration.
- **Closing** removes the node at once: :meth:`close` makes the ZooKeeper
  thread unregister before it waits for a check in progress to end.
- The option names (``check``, ``interval``, ``timeout``, ``rise``, ``fall``,
  ``acl``, ``on_change``, ``provider_format``, and ``format``, its deprecated
  spelling) cannot be used as property names.

Everything is logged under ``zkservices.selfreg``: INFO for each registration
and removal, with the reason (``healthy: HTTP 200``, ``unhealthy: connect to
127.0.0.1:8080 refused``, ``stopped``).
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, Callable, Sequence

from .._formats import Format, provider_format_argument
from .._os import UNTIL_WOKEN, BackgroundLoop
from .._session import Registration
from .._zookeeper import ZooKeeper
from .._znode.encoding import encode
from .._znode.paths import Address, check_path, format_address, parse_address
from .checks import HealthCheck, TcpCheck
from .monitor import HealthMonitor

__all__ = ["HealthCheckedRegistration", "RegistrationChangeCallback"]

log = logging.getLogger("zkservices.selfreg")

#: ``on_change(registered, reason, paths)``: called after each registration
#: (``registered`` true) or removal, with the node paths concerned.
RegistrationChangeCallback = Callable[[bool, str, "tuple[str, ...]"], None]

_FIRST_RETRY = 0.1
_MAX_RETRY = 5.0


class HealthCheckedRegistration:
    """Keep ``address`` registered under ``path``, the providers node, while ``check`` passes.

    :param zk: the session to register in (left open).
    :param path: the providers node (as for ``register_server``); the server's node
        is ``path/host:port`` (in the default provider format).
    :param address: as for ``register_server`` (``'host:port'``, ``(host, port)``,
        a blank host for every local address).
    :param check: any object with ``check(timeout) -> (ok, reason)``
        (:class:`~zkservices.TcpCheck`, :class:`~zkservices.HttpCheck`,
        :class:`~zkservices.CommandCheck`).  ``None`` checks that a TCP
        connection to the registered address itself succeeds (a blank host is
        checked at ``127.0.0.1``).
    :param interval, timeout, rise, fall: as :class:`~zkservices.HealthMonitor` has them.
    :param acl: ACL of the node, as for ``register_server``.
    :param on_change: ``on_change(registered, reason, paths)``, called from the
        ZooKeeper thread after each registration and removal (the one
        :meth:`close` makes included); an exception it raises is logged.
    :param provider_format: the node's format, as for ``register_server``
        (``"zkservices"``, the default, ``"curator"``, ``"serverset"`` or a format
        object); never a property.  ``format=`` is its deprecated spelling (a
        DeprecationWarning).
    :param properties: the node's data, as for ``register_server``.

    Bad arguments raise :class:`ValueError` (or :class:`TypeError`, also for both
    ``provider_format`` and ``format``) here, not later on a thread.

    Lifecycle: the constructor starts nothing; :meth:`start` starts the
    monitor's thread and the ZooKeeper thread; :meth:`close` (or
    :meth:`stop`) unregisters and ends both; it cannot be restarted.  It is a
    context manager (start on enter, close on exit).
    """

    def __init__(
        self,
        zk: ZooKeeper,
        path: str,
        address: Address,
        *,
        check: HealthCheck | None = None,
        interval: float = 2.0,
        timeout: float = 2.0,
        rise: int = 2,
        fall: int = 3,
        acl: Sequence[Any] | None = None,
        on_change: RegistrationChangeCallback | None = None,
        provider_format: str | Format | None = None,
        **properties: Any,
    ) -> None:
        provider_format = provider_format_argument(provider_format, properties)
        check_path(path)
        host, port = parse_address(address)
        # fail now, not on the ZooKeeper thread, on values that cannot be stored
        encode({**properties, "host": host, "port": port}, path=path)
        self.zk = zk
        self.path = path
        self.address = format_address(host, port)
        self.properties: dict[str, Any] = dict(properties)
        self.acl = list(acl) if acl is not None else None
        self.provider_format = provider_format
        self.on_change = on_change
        self.check = check if check is not None else TcpCheck(host or "127.0.0.1", port)
        self._host = host
        self._port = port
        self._monitor = HealthMonitor(
            self.check,
            interval=interval,
            timeout=timeout,
            rise=rise,
            fall=fall,
            on_change=self._health_changed,
            name=f"{path} {self.address}",
        )
        self._loop = BackgroundLoop(self._step, name=f"zkservices-selfreg {path} {self.address}")
        self._cond = self._loop.condition
        self._life = "created"  # → "started" → "stopped"
        self._wanted = False  # what the health check asks for
        self._reason = "not checked yet"
        self._stop_reason = "stopped"
        self._registration: Registration | None = None
        self._delay = 0.0  # before retrying a failed ZooKeeper call

    # -- state -----------------------------------------------------------------

    @property
    def format(self) -> str | Format:
        """Deprecated: :attr:`provider_format`."""
        warnings.warn("HealthCheckedRegistration.format is deprecated; use provider_format",
                      DeprecationWarning, stacklevel=2)
        return self.provider_format

    @property
    def healthy(self) -> bool | None:
        """``None`` until the first check, then the dampened health state."""
        return self._monitor.healthy

    @property
    def checks(self) -> int:
        """How many checks have completed."""
        return self._monitor.checks

    @property
    def check_failures(self) -> int:
        """How many completed checks failed (each one, not only those that unregistered)."""
        return self._monitor.failures

    @property
    def check_ok(self) -> bool | None:
        """The latest check's own result (``None`` before the first); :attr:`healthy` is the dampened state."""
        return self._monitor.last_ok

    @property
    def check_output(self) -> str:
        """The reason the latest check gave (``"HTTP 200"``, ``"connect to ... refused"``...)."""
        return self._monitor.reason

    @property
    def registered(self) -> bool:
        """Whether the server is registered now (its node exists, or is restored after session loss)."""
        return self._registration is not None

    @property
    def paths(self) -> tuple[str, ...]:
        """The node paths while registered, else ``()``."""
        registration = self._registration
        return registration.paths if registration is not None else ()

    @property
    def interval(self) -> float:
        """Seconds between checks."""
        return self._monitor.interval

    @property
    def timeout(self) -> float:
        """Seconds a check may take."""
        return self._monitor.timeout

    @property
    def rise(self) -> int:
        """Passes in a row to register again."""
        return self._monitor.rise

    @property
    def fall(self) -> int:
        """Failures in a row to unregister."""
        return self._monitor.fall

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`stop`) was called."""
        return self._life == "stopped"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "HealthCheckedRegistration":
        """Start checking (and registering); returns ``self``.

        Only once: raises :class:`RuntimeError` when started or closed before.
        """
        with self._cond:
            if self._life != "created":
                raise RuntimeError(f"{self!r} was already started")
            self._life = "started"
            self._loop.start()
        self._monitor.start()
        log.debug("%s %s: following %r", self.path, self.address, self.check)
        return self

    def close(self, timeout: float | None = None, *, reason: str = "stopped") -> None:
        """Unregister at once and stop checking (idempotent).

        Waits until the node is removed, then until a check in progress ends
        (at most about the check ``timeout``), for at most ``timeout`` seconds
        in all (``None``: no limit).  If ZooKeeper is unreachable, the removal
        waits for the connection to come back; closing the session (which
        removes the node too) ends that wait.  ``reason`` is logged and passed
        to ``on_change``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._life == "started":
                self._stop_reason = reason
            self._life = "stopped"
            self._loop.wake()
        self._loop.join(_remaining(deadline))
        self._monitor.close(_remaining(deadline))

    def stop(self, timeout: float | None = None, *, reason: str = "stopped") -> None:
        """The same as :meth:`close`."""
        self.close(timeout, reason=reason)

    def __enter__(self) -> "HealthCheckedRegistration":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the monitor's side ----------------------------------------------------

    def _health_changed(self, healthy: bool, reason: str) -> None:
        # On the monitor's thread: only record what is wanted, never block.
        with self._cond:
            self._wanted = healthy
            self._reason = f"{'healthy' if healthy else 'unhealthy'}: {reason}"
            self._loop.wake()

    # -- the ZooKeeper thread --------------------------------------------------

    def _step(self) -> float | None:
        """Apply the latest wanted state (level-triggered); retry a failed call with a growing delay."""
        with self._cond:
            stopping = self._life == "stopped"
            want = self._wanted and not stopping
            if want == (self._registration is not None):
                return None if stopping else UNTIL_WOKEN
            reason = self._stop_reason if stopping else self._reason
        try:
            if want:
                self._register(reason)
            else:
                self._unregister(reason)
        except Exception as exc:
            if self.zk.closed:
                # its ephemeral nodes went with the session
                self._session_closed(exc)
                return None
            self._delay = min(max(self._delay * 2, _FIRST_RETRY), _MAX_RETRY)
            log.warning(
                "%s %s: %s failed (%s: %s); retrying in %.1fs",
                self.path, self.address, "registering" if want else "unregistering",
                type(exc).__name__, exc, self._delay, exc_info=log.isEnabledFor(logging.DEBUG),
            )
            return self._delay  # a change of plan (or close) cuts the wait short
        self._delay = 0.0
        return 0.0

    def _register(self, reason: str) -> None:
        registration = self.zk.register_server(
            self.path, (self._host, self._port), acl=self.acl, provider_format=self.provider_format,
            **self.properties
        )
        with self._cond:
            self._registration = registration
        log.info("registered %s (%s)", ", ".join(registration.paths), reason)
        self._notify(True, reason, registration.paths)

    def _unregister(self, reason: str) -> None:
        registration = self._registration
        assert registration is not None
        if registration.active:
            registration.unregister()
        else:
            # an earlier attempt took it out of the session's table (so it is
            # not restored after session loss) but did not get to delete it
            self.zk.registrar.unregister_paths(registration.paths)
        with self._cond:
            self._registration = None
        log.info("unregistered %s (%s)", ", ".join(registration.paths), reason)
        self._notify(False, reason, registration.paths)

    def _session_closed(self, exc: Exception) -> None:
        with self._cond:
            registration, self._registration = self._registration, None
            stopping = self._life == "stopped"
        if registration is not None:
            registration.active = False
            log.info("%s: gone with the closed session", ", ".join(registration.paths))
            self._notify(False, "session closed", registration.paths)
        if not stopping:
            log.warning("%s %s: the ZooKeeper session was closed (%s); no longer registering",
                        self.path, self.address, type(exc).__name__)

    def _notify(self, registered: bool, reason: str, paths: tuple[str, ...]) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(registered, reason, paths)
        except Exception:
            log.exception("%s %s: on_change(%r, %r, ...) raised", self.path, self.address, registered, reason)

    def __repr__(self) -> str:
        health = {None: "unknown", True: "healthy", False: "unhealthy"}[self.healthy]
        state = "registered" if self.registered else "not registered"
        return (
            f"<HealthCheckedRegistration {self.path} {self.address} {health} {state} "
            f"{self._life} check={self.check!r}>"
        )


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
