"""Protected, self-updating server sets: :class:`ServerSet` (its docstring says it all).

The parts: :mod:`.reader` reads ZooKeeper, :mod:`.guard` decides what is
published (the shrink guard), :mod:`.snapshot` keeps the last-known-good file,
:mod:`.connect` opens the session for a connection string.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

from kazoo.exceptions import ConnectionClosedError
from kazoo.protocol.states import KazooState

from .._os import BackgroundLoop, PathLike
from .._zookeeper import ZooKeeper
from .._session.retry import TRANSIENT
from .._session.callbacks import Callback
from .._session.tls import TLSOption
from .._znode.paths import check_path, join
from ..errors import CancelWatch
from .connect import BackgroundConnection
from .guard import PublishedSet
from .reader import ServiceReader
from .snapshot import load_snapshot, save_snapshot

__all__ = ["ServerSet", "DEFAULT_MIN_FRACTION"]

log = logging.getLogger("zkservices.serverset")

#: The shrink guard's default: refuse to publish fewer than half the providers
#: last published.
DEFAULT_MIN_FRACTION = 0.5

#: Seconds between attempts to attach to service nodes that do not exist and
#: cannot be watched directly (e.g. behind a dangling symbolic link).
_REATTACH_INTERVAL = 5.0

F = TypeVar("F", bound=Callable[..., Any])


class ServerSet:
    """A protected, self-updating view of one service: its properties and its providers.

    It watches the service node's properties and the registered servers below
    its ``providers`` child (each provider node's data too, so a changed
    ``weight`` is seen).  What it *publishes* -- :attr:`providers`,
    :attr:`properties` and what callbacks see -- is protected against
    ZooKeeper trouble, as Synapse and kingpin do it:

    - **Outages.**  While the session is SUSPENDED or LOST nothing is
      published: the last good set stays, a WARNING says so, and :attr:`stale`
      is true.  When the connection is back, everything is read again.
    - **Shrink guard.**  A provider set smaller than ``min_fraction`` times the
      last published one is refused (unless ``force``) until the set recovers;
      ``min_fraction=0`` disables it.
    - **Snapshot.**  With ``snapshot=FILE``, every set published in full is
      saved; with no answer from ZooKeeper within ``timeout`` seconds, the
      saved set is served, marked stale, until ZooKeeper answers.  It is also
      the guard's starting point.

    A service or ``providers`` node that does not exist (yet) counts as empty;
    its creation is watched.

    :param zk: a :class:`~zkservices.ZooKeeper` (left open by :meth:`close`), a
        connection string (``None``: the default one) for a session this
        ServerSet opens in the background (so it can start while ZooKeeper is
        down) and closes, or a started :class:`~zkservices.BackgroundConnection`
        shared with others (left open).
    :param service_path, providers: the service node, and the node holding its providers
        (any format) relative to it; ``"."`` for a Curator or ServerSet directory.
    :param min_fraction, force: the shrink guard.
    :param snapshot: the last-known-good file; used after ``timeout`` seconds
        without an answer from ZooKeeper, and rewritten on every set published
        in full from ZooKeeper unless ``save_snapshot`` is false.
    :param wait: :meth:`start` waits until the set is :attr:`ready` (data from
        ZooKeeper, or the snapshot after ``timeout``), at most ``timeout`` seconds
        plus one.
    :param session_timeout, auth, tls: of the session opened for a connection
        string, as :class:`~zkservices.ZooKeeper` takes them: ``(scheme,
        credential)`` pairs, e.g. ``[("digest", "alice:secret")]`` for providers
        behind an ACL, and a :class:`~zkservices.TLS` (or ``True``) for a
        secure client port.  Given with a ZooKeeper or a BackgroundConnection,
        whose session is made already, they raise :class:`ValueError`.
    :param start: start at once (the default); with ``start=False`` nothing
        runs until :meth:`start` or a ``with`` block.

    Raises :class:`~zkservices.InvalidPath` for a bad path, ValueError for bad options.

    :attr:`providers` (name → node data), :attr:`properties`, iteration over the
    provider names (sorted), ``len``, ``in``; :attr:`stale`, :attr:`ready`,
    :attr:`holding` (why the published set is held back, or ``None``).  Calling
    the ServerSet with a function registers a callback (usable as a decorator):
    it is called at once with the ServerSet, then after every change of what is
    published (properties, providers, or :attr:`stale`), on the ServerSet's
    thread, one call at a time.  A first call that raises propagates and the
    callback is not kept; a later failure is logged and removes the callback;
    :class:`~zkservices.CancelWatch` removes it quietly.

    Lifecycle: constructed → started (the constructor does it unless
    ``start=False``: one thread, plus a connecting thread for a connection
    string) → :meth:`close`, which stops them all and cannot be undone.
    """

    def __init__(
        self,
        zk: ZooKeeper | BackgroundConnection | str | None,
        service_path: str,
        *,
        providers: str = "providers",
        min_fraction: float = DEFAULT_MIN_FRACTION,
        force: bool = False,
        snapshot: PathLike | None = None,
        timeout: float = 10.0,
        wait: bool = True,
        session_timeout: float = 10.0,
        save_snapshot: bool = True,
        start: bool = True,
        auth: Sequence[tuple[str, str]] | None = None,
        tls: TLSOption = None,
    ) -> None:
        self.path = check_path(service_path)
        if (auth or tls) and not (zk is None or isinstance(zk, str)):
            raise ValueError(f"auth and tls are for a session opened from a connection string, not {zk!r}")
        if not isinstance(providers, str) or not providers or providers.startswith("/"):
            raise ValueError(f"providers must be a relative path, not {providers!r}")
        self.providers_path = join(self.path, providers)
        if not 0.0 <= float(min_fraction) <= 1.0:
            raise ValueError(f"min_fraction must be between 0 and 1, not {min_fraction!r}")
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout!r}")
        self.min_fraction = float(min_fraction)
        self.force = bool(force)
        self.snapshot = os.fspath(snapshot) if snapshot is not None else None
        self.save_snapshot = bool(save_snapshot)
        self.timeout = float(timeout)
        self.wait = bool(wait)
        self.session_timeout = float(session_timeout)

        self._loop = BackgroundLoop(self._step, name=f"zkservices-serverset {self.path}")
        self._cond = self._loop.condition
        self._callback_lock = threading.RLock()
        self._callbacks: list[Callback] = []
        self._closed = False
        self._started_at = time.monotonic()
        self._source = zk
        self._own_connection: BackgroundConnection | None = None
        self._auth, self._tls = auth, tls
        self._seen_by: dict[Callback, Any] = {}  # what each callback last saw

        # ZooKeeper side (touched by the ServerSet's thread only, except flags)
        self._zk: ZooKeeper | None = None
        self._reader: ServiceReader | None = None
        self._dirty: set[str] = set()  # providers whose data must be read again
        self._work = True  # something to look at
        self._idled = False  # the last step found nothing to do and waited
        self._resync = True  # read every provider again
        self._state_news: str | None = None  # a session state to report
        self._failures = 0
        self._holding_logged = False

        self._snapshot_entry = load_snapshot(self.snapshot, self.path) if self.snapshot else None
        self._published = PublishedSet(  # guarded by _cond
            self.path, min_fraction=self.min_fraction, force=self.force, snapshot_entry=self._snapshot_entry
        )
        self._ready = self._published.ready
        if start:
            self.start()

    def start(self) -> "ServerSet":
        """Start watching (and connecting, for a connection string); returns the ServerSet.

        With ``wait`` (the default) it returns once the set is :attr:`ready`, or
        after ``timeout`` plus one seconds.  Raises :class:`RuntimeError` when
        started before or closed.
        """
        with self._cond:
            if self._closed or self._loop.started:
                raise RuntimeError(f"{self!r} was already started")
            self._started_at = time.monotonic()
            self._loop.start()
        source = self._source
        if isinstance(source, ZooKeeper):
            self._attach_session(source)
        else:
            if not isinstance(source, BackgroundConnection):
                source = self._own_connection = BackgroundConnection(
                    source, session_timeout=self.session_timeout, auth=self._auth, tls=self._tls
                ).start()
            source.add_done_callback(self._connection_done)
        if self.wait:
            self._ready.wait(self.timeout + 1.0)
        return self

    # -- the public side ---------------------------------------------------

    @property
    def providers(self) -> dict[str, dict]:
        """The published providers: node name (``host:port``) → node data (a copy)."""
        with self._cond:
            return {name: dict(data) for name, data in self._published.providers.items()}

    @property
    def properties(self) -> dict[str, Any]:
        """The published properties of the service node (a copy)."""
        with self._cond:
            return dict(self._published.properties)

    @property
    def ready(self) -> bool:
        """Whether something was published (from ZooKeeper or from the snapshot)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit) until :attr:`ready`; return it."""
        return self._ready.wait(timeout)

    @property
    def stale(self) -> bool:
        """True when the published set may not be ZooKeeper's current one: it came
        from the snapshot (or there is nothing yet), ZooKeeper is unreachable,
        or the shrink guard holds a smaller set back."""
        with self._cond:
            return self._published.stale

    @property
    def holding(self) -> str | None:
        """Why the published set is held back (``None`` when it is current)."""
        with self._cond:
            if self._closed:
                return "closed"
            zk = self._zk
            return self._published.holding(session_connected=zk is not None and zk.connected)

    def __iter__(self) -> Iterator[str]:
        with self._cond:
            return iter(sorted(self._published.providers))

    def __len__(self) -> int:
        with self._cond:
            return len(self._published.providers)

    def __contains__(self, name: object) -> bool:
        with self._cond:
            return name in self._published.providers

    def __call__(self, fn: F) -> F:
        """Register a callback (see the class documentation); returns the ServerSet.

        Raises :class:`ValueError` when closed, :class:`TypeError` for a function
        that needs more than one argument, and what the first call raises.
        """
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        callback = Callback(fn)
        if callback.min_args > 1:
            raise TypeError(f"callback {fn!r} requires {callback.min_args} arguments; a ServerSet passes 1")
        with self._callback_lock:
            with self._cond:
                seen = self._published.seen()
            try:
                callback(self)
            except CancelWatch:
                return self  # type: ignore[return-value]
            self._callbacks.append(callback)
            self._seen_by[callback] = seen
        return self  # type: ignore[return-value]

    @property
    def callbacks(self) -> tuple[Callable[..., Any], ...]:
        """The registered callback functions."""
        return tuple(c.fn for c in self._callbacks)

    def close(self) -> None:
        """Stop watching and stop every thread this ServerSet made (idempotent).

        A session it opened is closed; a :class:`~zkservices.ZooKeeper` or a
        shared connection passed in is left open.  Waits up to 30 seconds for a
        read in progress; from a callback it does not wait.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
        self._loop.stop(30)
        with self._callback_lock:
            self._callbacks.clear()
            self._seen_by.clear()
        zk, reader = self._zk, self._reader
        if zk is not None:
            zk.core.remove_state_listener(self._on_state)
        if reader is not None:
            reader.close()
        if self._own_connection is not None:
            self._own_connection.close()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return self._loop.started

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> "ServerSet":
        if not self._loop.started and not self._closed:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._cond:
            flags = [f"{len(self._published.providers)} provider(s)"]
            if self._closed:
                flags.append("closed")
            elif not self._loop.started:
                flags.append("not started")
            elif not self._ready.is_set():
                flags.append("not ready")
            elif self._published.stale:
                flags.append("stale")
        holding = None if self._closed else self.holding
        if holding and self._ready.is_set():
            flags.append(f"({holding})")
        if self._published.from_snapshot:
            flags.append("from snapshot")
        return f"<ServerSet {self.path} {' '.join(flags)}>"

    # -- events (on kazoo's and the views' threads: flags only) -------------

    def _poke(self, **flags: Any) -> None:
        with self._cond:
            if flags.get("resync"):
                self._resync = True
            dirty = flags.get("dirty")
            if dirty:
                self._dirty.add(dirty)
            state = flags.get("state")
            if state is not None:
                self._state_news = state
                if state != KazooState.CONNECTED:
                    self._published.connected = False  # back to True once the set is read again
            self._work = True
            self._loop.wake()

    def _connection_done(self, connection: BackgroundConnection) -> None:
        if connection.zk is not None:
            self._attach_session(connection.zk)

    def _attach_session(self, zk: ZooKeeper) -> None:
        with self._cond:
            if self._closed:
                return
            self._zk = zk
            self._reader = ServiceReader(zk, self.path, self.providers_path, poke=self._poke)
        zk.core.add_state_listener(self._on_state)
        self._poke(resync=True)

    def _on_state(self, state: str) -> None:
        # kazoo's connection thread: never call kazoo here
        self._poke(state=state, resync=state == KazooState.CONNECTED)

    # -- the ServerSet's thread ------------------------------------------------

    def _step(self) -> float | None:
        with self._cond:
            if self._closed:
                return None
            if not self._work and not (self._idled and (self._snapshot_due() or self._reattach_due())):
                self._idled = True
                return self._idle_wait()
            self._idled = False
            self._work = False
            news, self._state_news = self._state_news, None
        delay = 0.0
        try:
            if news is not None:
                self._report_state(news)
            if self._snapshot_due():
                self._use_snapshot()
            self._sync()
            self._failures = 0
        except Exception as exc:
            self._failures += 1
            if isinstance(exc, TRANSIENT + (ConnectionClosedError,)):
                log.debug("%s: ZooKeeper trouble while reading (%r); trying again", self.path, exc)
            else:
                log.exception("%s: updating the server set failed; trying again", self.path)
            with self._cond:
                self._work = True
            delay = min(2.0, 0.05 * 2 ** min(self._failures, 6))
        self._fire()
        return delay

    def _idle_wait(self) -> float:
        waits = [_REATTACH_INTERVAL]
        if self._snapshot_entry is not None and not self._ready.is_set():
            waits.append(max(0.0, self._started_at + self.timeout - time.monotonic()) + 0.01)
        return min(waits)

    def _snapshot_due(self) -> bool:
        return (
            self._snapshot_entry is not None
            and not self._ready.is_set()
            and time.monotonic() >= self._started_at + self.timeout
        )

    def _reattach_due(self) -> bool:
        zk, reader = self._zk, self._reader
        return zk is not None and reader is not None and zk.connected and not reader.attached

    def _report_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            if self._holding_logged:
                log.warning("%s: ZooKeeper connection is back; reading the current set", self.path)
                self._holding_logged = False
        elif self._ready.is_set():
            self._holding_logged = True
            with self._cond:
                count = len(self._published.providers)
            log.warning(
                "%s: ZooKeeper session %s; holding the last good set (%d provider(s)) until it is back",
                self.path, "lost" if state == KazooState.LOST else "suspended", count,
            )

    def _use_snapshot(self) -> None:
        entry = self._snapshot_entry
        assert entry is not None
        with self._cond:
            if not self._published.use_snapshot():
                return
        log.warning(
            "%s: no answer from ZooKeeper within %gs; serving %d provider(s) from snapshot %s (saved %s), "
            "stale until ZooKeeper answers",
            self.path, self.timeout, len(entry["providers"]), self.snapshot, entry.get("saved") or "at an unknown time",
        )

    def _sync(self) -> None:
        """Read what changed and offer the result for publishing (on the thread)."""
        zk, reader = self._zk, self._reader
        if zk is None or reader is None or not zk.connected:
            return
        with self._cond:
            resync, self._resync = self._resync, False
            dirty, self._dirty = self._dirty, set()
        try:
            result = reader.read(resync=resync, dirty=dirty)
        except BaseException:
            with self._cond:  # read everything that was due again next time
                self._resync = self._resync or resync
                self._dirty |= dirty
            raise
        if result is not None:
            self._offer(*result)

    def _offer(self, properties: dict[str, Any], providers: dict[str, dict]) -> None:
        """Publish a set read from ZooKeeper unless ZooKeeper is unreachable or the guard refuses."""
        zk = self._zk
        with self._cond:
            if self._closed or zk is None or zk.core.client.state != KazooState.CONNECTED:
                return  # the session went away while reading: hold
            # (a state listener changing this takes _cond, so it runs after us)
            changed = self._published.offer(properties, providers)
        if changed and self.snapshot and self.save_snapshot:
            try:
                save_snapshot(self.snapshot, self.path, properties, providers)
            except OSError as exc:
                log.error("%s: cannot save snapshot %s: %s", self.path, self.snapshot, exc)

    def _fire(self) -> None:
        with self._callback_lock:
            with self._cond:
                seen = self._published.seen()
            if seen is None:
                return
            for callback in list(self._callbacks):
                if self._seen_by.get(callback) == seen:
                    continue  # e.g. registered after this state was published
                self._seen_by[callback] = seen
                try:
                    callback(self)
                except CancelWatch:
                    self._drop(callback)
                except Exception:
                    self._drop(callback)
                    log.exception("%s: callback %r raised; it is removed, the others go on", self.path, callback)

    def _drop(self, callback: Callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)
        self._seen_by.pop(callback, None)
