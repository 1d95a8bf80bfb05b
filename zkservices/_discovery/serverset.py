"""Protected, self-updating server sets: :class:`ServerSet` (its docstring says it all).

A ServerSet is the session's views of one service (:mod:`.serviceviews`: a
``Properties`` view of the service node, a ``Providers`` view of its providers node)
plus what it publishes: :mod:`.guard` decides it (the shrink guard), :mod:`.snapshot`
keeps the last-known-good file, :mod:`.connect` opens the session for a connection
string.  It sets no watches of its own: the views follow the nodes (through links,
creation, deletion, session loss), and their callbacks wake the ServerSet's thread.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

from kazoo.exceptions import ConnectionClosedError
from kazoo.protocol.states import KazooState

from .._deprecation import renamed_argument, renamed_attribute
from .._formats import Provider
from .._os import UNTIL_WOKEN, BackgroundLoop, PathLike
from .._zookeeper import ZooKeeper
from .._session.retry import TRANSIENT
from .._session.tls import TLSOption
from .._znode.paths import check_path, join
from .connect import BackgroundConnection
from .guard import PublishedSet
from .serviceviews import ServiceViews
from .subscribers import Subscribers
from .snapshot import load_snapshot, save_snapshot, snapshot_providers, snapshot_records

__all__ = ["ServerSet", "DEFAULT_MIN_FRACTION"]

log = logging.getLogger("zkservices.serverset")

#: The shrink guard's default: refuse to publish fewer than half the providers
#: last published.
DEFAULT_MIN_FRACTION = 0.5

F = TypeVar("F", bound=Callable[..., Any])


class ServerSet:
    """A protected, self-updating view of one service: its properties and its providers.

    It follows the service node's properties and the providers below its
    ``providers`` node, in any format (zkservices/zc.zk/Nerve, Curator, ServerSet),
    through the session's own views (``zk.properties(service)`` and
    ``zk.providers(...)``: each provider node's data too, so a changed ``weight`` is
    seen).  What it *publishes* -- :attr:`providers`, :attr:`properties` and what
    callbacks see -- leaves out disabled providers and is protected against
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

    A service or providers node that does not exist (yet), or that a symbolic link
    does not lead to (yet), counts as empty; its creation is watched.

    :param zk: a :class:`~zkservices.ZooKeeper` (left open by :meth:`close`), a
        connection string (``None``: the default one) for a session this
        ServerSet opens in the background (so it can start while ZooKeeper is
        down) and closes, or a started :class:`~zkservices.BackgroundConnection`
        shared with others (left open).
    :param service: the service node (``service_path=`` is its deprecated spelling).
    :param providers: the providers node (any format), relative to ``service``;
        ``"."`` for a Curator or ServerSet directory.
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

    Raises :class:`~zkservices.InvalidPath` for a bad path, ValueError for bad options,
    TypeError for no service or both ``service`` and ``service_path``.

    :attr:`service` (the service node), :attr:`providers_path` (the providers node),
    :attr:`providers` (name → :class:`~zkservices.Provider`, the enabled ones),
    :attr:`properties`, iteration over the provider names (sorted), ``len``, ``in``;
    :attr:`stale`, :attr:`ready`, :attr:`holding` (why the published set is held
    back, or ``None``).  Calling the ServerSet with a function registers a callback
    (usable as a decorator): it is called at once with the ServerSet, then after
    every change of what is published (properties, providers, or :attr:`stale`), on
    the ServerSet's thread, one call at a time.  A first call that raises propagates
    and the callback is not kept; a later failure is logged and removes the
    callback; :class:`~zkservices.CancelWatch` removes it quietly.

    Lifecycle: constructed → started (the constructor does it unless
    ``start=False``: one thread, plus a connecting thread for a connection
    string) → :meth:`close`, which stops them all and cannot be undone.
    """

    def __init__(
        self,
        zk: ZooKeeper | BackgroundConnection | str | None,
        service: str | None = None,
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
        service_path: str | None = None,
    ) -> None:
        service = renamed_argument(service, service_path, new="service", old="service_path")
        if service is None:
            raise TypeError("ServerSet() needs the service node (service=)")
        self.service = check_path(service)
        if (auth or tls) and not (zk is None or isinstance(zk, str)):
            raise ValueError(f"auth and tls are for a session opened from a connection string, not {zk!r}")
        if not isinstance(providers, str) or not providers or providers.startswith("/"):
            raise ValueError(f"providers must be a relative path, not {providers!r}")
        self.providers_path = join(self.service, providers)
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

        self._loop = BackgroundLoop(self._step, name=f"zkservices-serverset {self.service}")
        self._cond = self._loop.condition
        self._subscribers = Subscribers(self, self.service, self._seen)
        self._closed = False
        self._started_at = time.monotonic()
        self._source = zk
        self._own_connection: BackgroundConnection | None = None
        self._auth, self._tls = auth, tls

        # ZooKeeper side (the views are opened and read on the ServerSet's thread only)
        self._zk: ZooKeeper | None = None
        self._views: ServiceViews | None = None
        self._work = True  # something to look at
        self._resync = True  # open the views again: read everything afresh
        self._state_news: str | None = None  # a session state to report
        self._failures = 0
        self._holding_logged = False

        self._snapshot_entry = snapshot_providers(load_snapshot(self.snapshot, self.service)) if self.snapshot else None
        self._published = PublishedSet(  # guarded by _cond
            self.service, min_fraction=self.min_fraction, force=self.force, snapshot_entry=self._snapshot_entry
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
    def providers(self) -> Mapping[str, Provider]:
        """The published providers: node name → :class:`~zkservices.Provider` (the
        enabled ones, in name order; a plain dict that does not change)."""
        with self._cond:
            return dict(self._published.providers)

    @property
    def path(self) -> str:
        """Deprecated: :attr:`service` (the service node)."""
        renamed_attribute(self, "path", "service")
        return self.service

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
        self._subscribers.add(fn)
        return self  # type: ignore[return-value]

    @property
    def callbacks(self) -> tuple[Callable[..., Any], ...]:
        """The registered callback functions."""
        return self._subscribers.functions

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
        self._subscribers.clear()
        with self._cond:
            zk, views, self._views = self._zk, self._views, None
        if zk is not None:
            zk.core.remove_state_listener(self._on_state)
        if views is not None:
            views.close()
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
        return f"<ServerSet {self.service} {' '.join(flags)}>"

    # -- events (on kazoo's and the worker's threads: flags only) --------------

    def _poke(self, *, resync: bool = False, state: str | None = None) -> None:
        with self._cond:
            if resync:
                self._resync = True
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
            if not self._work and not self._snapshot_due():
                return self._idle_wait()
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
                log.debug("%s: ZooKeeper trouble while reading (%r); trying again", self.service, exc)
            else:
                log.exception("%s: updating the server set failed; trying again", self.service)
            with self._cond:
                self._work = True
            delay = min(2.0, 0.05 * 2 ** min(self._failures, 6))
        self._subscribers.fire()
        return delay

    def _idle_wait(self) -> float:
        if self._snapshot_entry is not None and not self._ready.is_set():
            return max(0.0, self._started_at + self.timeout - time.monotonic()) + 0.01
        return UNTIL_WOKEN

    def _snapshot_due(self) -> bool:
        return (
            self._snapshot_entry is not None
            and not self._ready.is_set()
            and time.monotonic() >= self._started_at + self.timeout
        )

    def _report_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            if self._holding_logged:
                log.warning("%s: ZooKeeper connection is back; reading the current set", self.service)
                self._holding_logged = False
        elif self._ready.is_set():
            self._holding_logged = True
            with self._cond:
                count = len(self._published.providers)
            log.warning(
                "%s: ZooKeeper session %s; holding the last good set (%d provider(s)) until it is back",
                self.service, "lost" if state == KazooState.LOST else "suspended", count,
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
            self.service, self.timeout, len(entry["providers"]), self.snapshot,
            entry.get("saved") or "at an unknown time",
        )

    def _sync(self) -> None:
        """Offer what the views hold for publishing; after a (re)connection, open
        them afresh first, so that everything is read again (on the thread)."""
        zk = self._zk
        if zk is None or not zk.connected:
            return
        with self._cond:
            resync, self._resync = self._resync, False
        if resync or self._views is None:
            try:
                views = ServiceViews(zk, self.service, self.providers_path, on_change=self._poke)
            except BaseException:
                with self._cond:  # open them again next time
                    self._resync = True
                raise
            with self._cond:
                if self._closed:
                    old: ServiceViews | None = views
                else:
                    old, self._views = self._views, views
            if old is not None:
                old.close()
        current = self._views
        if current is not None:  # (None: closed meanwhile)
            self._offer(*current.read())

    def _offer(self, properties: dict[str, Any], providers: dict[str, Provider]) -> None:
        """Publish a set read from ZooKeeper unless ZooKeeper is unreachable or the guard refuses."""
        zk = self._zk
        with self._cond:
            if self._closed or zk is None or not zk.connected:  # (a read-only server serves reads too)
                return  # the session went away while reading: hold
            # (a state listener changing this takes _cond, so it runs after us)
            changed = self._published.offer(properties, providers)
        if changed and self.snapshot and self.save_snapshot:
            try:
                save_snapshot(self.snapshot, self.service, properties,
                              snapshot_records(providers))
            except OSError as exc:
                log.error("%s: cannot save snapshot %s: %s", self.service, self.snapshot, exc)

    def _seen(self) -> Any:
        with self._cond:
            return self._published.seen()
