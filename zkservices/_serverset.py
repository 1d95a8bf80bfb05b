"""Protected, self-updating server sets: a service's properties and its providers.

Status: phase 1 -- the consumer side of service discovery that load-balancer
feeds (:class:`zkservices.Feed`) and other ``Children`` consumers build on.

A :class:`ServerSet` watches one service: the service node's properties (a
:class:`~zkservices.Properties` view) and the registered servers below its
``providers`` child (a :class:`~zkservices.Children` view plus each provider
node's data, read pipelined with kazoo's ``get_async`` and watched, so a
changed ``weight`` is seen).  What it *publishes* -- :attr:`ServerSet.providers`,
:attr:`ServerSet.properties` and what callbacks see -- is protected against
ZooKeeper trouble, as Synapse and kingpin do it:

- **Outages.**  While the session is SUSPENDED or LOST nothing is published:
  the last good set stays, a WARNING says so, and :attr:`ServerSet.stale` is
  true.  When the connection is back, everything is read again and the truth
  is published.
- **Shrink guard.**  A provider set smaller than ``min_fraction`` times the
  last published one (default :data:`DEFAULT_MIN_FRACTION`, 0.5; an empty set
  counts, so a vanished ``providers`` node is caught too) is refused with a
  WARNING giving the numbers, unless ``force=True``; it is published as soon as
  the set recovers above the line.  ``min_fraction=0`` disables the guard.
  Removing the last provider (or most of them) on purpose therefore needs
  ``force``.  While the guard holds, service property changes still go
  through; the provider set stays the last good one.
- **Snapshot.**  With ``snapshot=FILE``, every set published in full from
  ZooKeeper is saved (JSON, written atomically) and a ServerSet that gets no
  answer from ZooKeeper within ``timeout`` seconds serves the saved set,
  marked stale, until ZooKeeper answers.  The snapshot also is the shrink
  guard's starting point, so a ZooKeeper that comes back empty cannot empty a
  freshly started feed.  One file can hold many services (keyed by path); it
  is meant for one process.

A service or ``providers`` node that does not exist (yet) counts as empty; its
creation is watched.  Given a connection string instead of a
:class:`~zkservices.ZooKeeper`, the ServerSet connects in a background thread
that keeps trying until a server answers, so it can start while ZooKeeper is
down.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar, Union

from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState

from ._znode.encoding import decode
from .errors import BadPropertyLink, CancelWatch, FailedConnect, LinkLoop
from ._feed_render import atomic_write
from ._znode.paths import check_path, join
from ._session import ZooKeeper, default_connection_string
from ._session.callbacks import Callback as _Callback

__all__ = ["ServerSet", "DEFAULT_MIN_FRACTION"]

log = logging.getLogger("zkservices.serverset")

#: The shrink guard's default: refuse to publish fewer than half the providers
#: last published.
DEFAULT_MIN_FRACTION = 0.5

#: Seconds between attempts to attach to service nodes that do not exist and
#: cannot be watched directly (e.g. behind a dangling symbolic link).
_REATTACH_INTERVAL = 5.0

_TRANSIENT = (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError)

F = TypeVar("F", bound=Callable[..., Any])
PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------
# Connecting in the background
# --------------------------------------------------------------------------


class _Connection:
    """A :class:`ZooKeeper` session established in a background thread.

    Keeps trying (one ``attempt_timeout`` connect at a time) until a server
    answers or :meth:`close` is called; then calls the ``on_ready`` callbacks
    with the :class:`ZooKeeper`.  (``ZooKeeper(wait=True)`` would block the
    caller and could not be cancelled.)
    """

    def __init__(self, connection_string: Optional[str], *, session_timeout: float = 10.0,
                 attempt_timeout: float = 5.0) -> None:
        self.connection_string = connection_string or default_connection_string()
        self.session_timeout = session_timeout
        self.attempt_timeout = attempt_timeout
        self.zk: Optional[ZooKeeper] = None
        self.error: Optional[str] = None  # why connecting was given up
        self._closed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._callbacks: list[Callable[[ZooKeeper], None]] = []
        self._thread = threading.Thread(target=self._run, name="zkservices-connect", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                zk = ZooKeeper(self.connection_string, self.session_timeout, timeout=self.attempt_timeout)
            except FailedConnect:
                failures += 1
                if failures == 1:
                    log.warning("ZooKeeper at %s does not answer; still trying", self.connection_string)
                else:
                    log.debug("ZooKeeper at %s still does not answer (attempt %d)", self.connection_string, failures)
                self._stop.wait(0.2)
                continue
            except Exception as exc:  # a bad connection string, bad auth...: retrying will not help
                self.error = f"cannot connect to ZooKeeper at {self.connection_string}: {type(exc).__name__}: {exc}"
                log.error("%s", self.error)
                return
            with self._lock:
                if self._closed:
                    zk.close()
                    return
                self.zk = zk
                callbacks, self._callbacks = self._callbacks, []
            if failures:
                log.warning("ZooKeeper at %s answers again", self.connection_string)
            for callback in callbacks:
                self._call(callback, zk)
            return

    @staticmethod
    def _call(callback: Callable[[ZooKeeper], None], zk: ZooKeeper) -> None:
        try:
            callback(zk)
        except Exception:
            log.exception("connection callback %r failed", callback)

    def on_ready(self, callback: Callable[[ZooKeeper], None]) -> None:
        """Call ``callback(zk)`` once connected (at once if already)."""
        with self._lock:
            zk = self.zk
            if zk is None:
                if not self._closed:
                    self._callbacks.append(callback)
                return
        self._call(callback, zk)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            zk, self.zk = self.zk, None
            self._callbacks.clear()
        self._stop.set()
        if zk is not None:
            zk.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self.zk is not None else "connecting")
        return f"<_Connection {self.connection_string} {state}>"


# --------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------

SNAPSHOT_FORMAT = 1
_snapshot_locks: dict[str, threading.Lock] = {}
_snapshot_locks_lock = threading.Lock()


def _snapshot_lock(path: str) -> threading.Lock:
    key = os.path.realpath(path)
    with _snapshot_locks_lock:
        return _snapshot_locks.setdefault(key, threading.Lock())


def _read_snapshot_file(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError("not a zkservices snapshot (no 'services' object)")
    return data


def load_snapshot(path: PathLike, service_path: str) -> Optional[dict]:
    """The snapshot entry of ``service_path`` in the file at ``path``, or ``None``.

    An entry is ``{"saved": ISO time, "properties": {...}, "providers": {name: data}}``.
    A missing file, a file without this service or an unreadable file gives
    ``None`` (the last logged as a WARNING).
    """
    path = os.fspath(path)
    try:
        with _snapshot_lock(path):
            data = _read_snapshot_file(path)
    except FileNotFoundError:
        log.info("snapshot %s does not exist yet", path)
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot use snapshot %s: %s", path, exc)
        return None
    entry = data["services"].get(service_path)
    if not isinstance(entry, dict):
        log.info("snapshot %s has no entry for %s", path, service_path)
        return None
    properties = entry.get("properties")
    providers = entry.get("providers")
    if not isinstance(properties, dict) or not isinstance(providers, dict) or not all(
        isinstance(v, dict) for v in providers.values()
    ):
        log.warning("cannot use snapshot %s: malformed entry for %s", path, service_path)
        return None
    return {"saved": entry.get("saved"), "properties": properties, "providers": providers}


def save_snapshot(path: PathLike, service_path: str, properties: Mapping[str, Any],
                  providers: Mapping[str, Mapping[str, Any]]) -> None:
    """Store ``service_path``'s set in the snapshot file (atomically; other services kept)."""
    path = os.fspath(path)
    with _snapshot_lock(path):
        try:
            data = _read_snapshot_file(path)
        except FileNotFoundError:
            data = {"services": {}}
        except (OSError, ValueError) as exc:
            log.warning("snapshot %s is unreadable (%s); starting it afresh", path, exc)
            data = {"services": {}}
        data["zkservices_snapshot"] = SNAPSHOT_FORMAT
        data["services"][service_path] = {
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "properties": dict(properties),
            "providers": {name: dict(value) for name, value in providers.items()},
        }
        atomic_write(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------
# The server set
# --------------------------------------------------------------------------


class ServerSet:
    """A protected, self-updating view of one service (see the module documentation).

    ``ServerSet(zk, service_path, *, min_fraction=0.5, force=False,
    snapshot=None, timeout=10.0, wait=True, session_timeout=10.0,
    save_snapshot=True)``

    - ``zk``: a :class:`~zkservices.ZooKeeper` (left open by :meth:`close`), or
      a connection string (``None``: the default one), connected in the
      background by a session this ServerSet owns;
    - ``min_fraction`` / ``force``: the shrink guard;
    - ``snapshot``: the last-known-good file; used after ``timeout`` seconds
      without an answer from ZooKeeper, and rewritten on every set published
      in full from ZooKeeper unless ``save_snapshot`` is false;
    - ``wait``: the constructor waits until the set is :attr:`ready` (data from
      ZooKeeper, or the snapshot after ``timeout``), at most ``timeout`` seconds
      plus one;
    - ``session_timeout``: of the session opened for a connection string.

    :attr:`providers` (name → node data), :attr:`properties`, iteration over the
    provider names (sorted), ``len``, ``in``; :attr:`stale`, :attr:`ready`,
    :attr:`holding` (why the published set is held back, or ``None``).  Calling
    the ServerSet with a function registers a callback (usable as a decorator):
    it is called at once with the ServerSet, then after every change of what is
    published (properties, providers, or :attr:`stale`), on the ServerSet's
    thread, one call at a time.  A first call that raises propagates and the
    callback is not kept; a later failure is logged and removes the callback;
    :class:`~zkservices.CancelWatch` removes it quietly.
    """

    def __init__(
        self,
        zk: Union[ZooKeeper, str, None, _Connection],
        service_path: str,
        *,
        min_fraction: float = DEFAULT_MIN_FRACTION,
        force: bool = False,
        snapshot: Optional[PathLike] = None,
        timeout: float = 10.0,
        wait: bool = True,
        session_timeout: float = 10.0,
        save_snapshot: bool = True,
    ) -> None:
        self.path = check_path(service_path)
        self.providers_path = join(self.path, "providers")
        if not 0.0 <= float(min_fraction) <= 1.0:
            raise ValueError(f"min_fraction must be between 0 and 1, not {min_fraction!r}")
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, not {timeout!r}")
        self.min_fraction = float(min_fraction)
        self.force = bool(force)
        self.snapshot = os.fspath(snapshot) if snapshot is not None else None
        self.save_snapshot = bool(save_snapshot)
        self.timeout = float(timeout)

        self._cond = threading.Condition()
        self._callback_lock = threading.RLock()
        self._callbacks: list[_Callback] = []
        self._closed = False
        self._started_at = time.monotonic()

        # published state
        self._properties: dict[str, Any] = {}
        self._providers: dict[str, dict] = {}
        self._ready = threading.Event()
        self._fresh = False  # something from ZooKeeper was published
        self._from_snapshot = False
        self._baseline: Optional[int] = None  # the guard's reference before anything was published
        self._refused: Optional[tuple[int, int]] = None  # (candidate, last published) while the guard holds
        self._seen_by: dict[_Callback, Any] = {}  # what each callback last saw

        # ZooKeeper side (touched by the ServerSet's thread only, except flags)
        self._zk: Optional[ZooKeeper] = None
        self._connected = False
        self._props_view: Any = None
        self._children_view: Any = None
        self._data: dict[str, dict] = {}  # provider name -> data read from ZooKeeper
        self._watched_data: set[str] = set()
        self._dirty: set[str] = set()  # providers whose data must be read again
        self._work = True  # something to look at
        self._resync = True  # read every provider again
        self._state_news: Optional[str] = None  # a session state to report
        self._holding_logged = False
        self._missing_logged: set[str] = set()

        self._snapshot_entry = load_snapshot(self.snapshot, self.path) if self.snapshot else None
        if self._snapshot_entry is not None:
            self._baseline = len(self._snapshot_entry["providers"])

        self._own_connection: Optional[_Connection] = None
        if isinstance(zk, ZooKeeper):
            self._attach_session(zk)
        else:
            connection = zk if isinstance(zk, _Connection) else _Connection(zk, session_timeout=session_timeout)
            if not isinstance(zk, _Connection):
                self._own_connection = connection
            connection.on_ready(self._attach_session)
        self._thread = threading.Thread(target=self._run, name=f"zkservices-serverset {self.path}", daemon=True)
        self._thread.start()
        if wait:
            self._ready.wait(self.timeout + 1.0)

    # -- the public side ---------------------------------------------------

    @property
    def providers(self) -> dict[str, dict]:
        """The published providers: node name (``host:port``) → node data (a copy)."""
        with self._cond:
            return {name: dict(data) for name, data in self._providers.items()}

    @property
    def properties(self) -> dict[str, Any]:
        """The published properties of the service node (a copy)."""
        with self._cond:
            return dict(self._properties)

    @property
    def ready(self) -> bool:
        """Whether something was published (from ZooKeeper or from the snapshot)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: Optional[float] = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def stale(self) -> bool:
        """True when the published set may not be ZooKeeper's current one: it came
        from the snapshot (or there is nothing yet), ZooKeeper is unreachable,
        or the shrink guard holds a smaller set back."""
        with self._cond:
            return self._stale()

    def _stale(self) -> bool:
        return not self._fresh or not self._connected or self._refused is not None

    @property
    def holding(self) -> Optional[str]:
        """Why the published set is held back (``None`` when it is current)."""
        with self._cond:
            if self._closed:
                return "closed"
            if not self._connected:
                zk = self._zk
                return "reading ZooKeeper" if zk is not None and zk.connected else "ZooKeeper unreachable"
            if self._refused is not None:
                new, old = self._refused
                return f"shrink guard: {new} of {old} provider(s)"
            if not self._fresh:
                return "waiting for ZooKeeper data"
            return None

    def __iter__(self) -> Iterator[str]:
        with self._cond:
            return iter(sorted(self._providers))

    def __len__(self) -> int:
        with self._cond:
            return len(self._providers)

    def __contains__(self, name: object) -> bool:
        with self._cond:
            return name in self._providers

    def __call__(self, fn: F) -> F:
        """Register a callback (see the class documentation); returns the ServerSet."""
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        callback = _Callback(fn)
        if callback.min_args > 1:
            raise TypeError(f"callback {fn!r} requires {callback.min_args} arguments; a ServerSet passes 1")
        with self._callback_lock:
            with self._cond:
                seen = self._seen()
            try:
                callback(self)
            except CancelWatch:
                return self  # type: ignore[return-value]
            self._callbacks.append(callback)
            self._seen_by[callback] = seen
        return self  # type: ignore[return-value]

    @property
    def callbacks(self) -> tuple[Callable[..., Any], ...]:
        return tuple(c.fn for c in self._callbacks)

    def close(self) -> None:
        """Stop watching (idempotent); a session this ServerSet opened is closed."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(30)
        with self._callback_lock:
            self._callbacks.clear()
            self._seen_by.clear()
        zk = self._zk
        for view in (self._props_view, self._children_view):
            if view is not None:
                view.close()
        if zk is not None:
            zk.client.remove_listener(self._on_state)
            paths = {join(self._providers_real_path(), name) for name in self._watched_data}
            zk.core.forget_watcher(self._on_data_event, paths)
            zk.core.forget_watcher(self._on_exists_event, {self.path, self.providers_path})
        if self._own_connection is not None:
            self._own_connection.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "ServerSet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._cond:
            flags = [f"{len(self._providers)} provider(s)"]
            if self._closed:
                flags.append("closed")
            elif not self._ready.is_set():
                flags.append("not ready")
            elif self._stale():
                flags.append("stale")
        holding = None if self._closed else self.holding
        if holding and self._ready.is_set():
            flags.append(f"({holding})")
        if self._from_snapshot:
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
                    self._connected = False  # back to True once the set is read again
            self._work = True
            self._cond.notify_all()

    def _attach_session(self, zk: ZooKeeper) -> None:
        with self._cond:
            if self._closed:
                return
            self._zk = zk
        zk.client.add_listener(self._on_state)
        self._poke(resync=True)

    def _on_state(self, state: str) -> None:
        # kazoo's connection thread: never call kazoo here
        self._poke(state=state, resync=state == KazooState.CONNECTED)

    def _on_view_change(self, *args: Any) -> None:
        self._poke()

    def _on_data_event(self, event: Any) -> None:
        if getattr(event, "type", None) == "NONE" or not getattr(event, "path", None):
            self._poke(resync=True)
            return
        parent, _, name = event.path.rpartition("/")
        self._poke(dirty=name)

    def _on_exists_event(self, event: Any) -> None:
        self._poke()

    # -- the ServerSet's thread ------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._closed and not self._work:
                    self._cond.wait(self._idle_wait())
                    if self._snapshot_due() or self._reattach_due():
                        break
                if self._closed:
                    return
                self._work = False
                news, self._state_news = self._state_news, None
            try:
                if news is not None:
                    self._report_state(news)
                if self._snapshot_due():
                    self._use_snapshot()
                self._sync()
                failures = 0
            except Exception as exc:
                failures += 1
                transient = isinstance(exc, _TRANSIENT + (ConnectionClosedError,))
                if transient:
                    log.debug("%s: ZooKeeper trouble while reading (%r); trying again", self.path, exc)
                else:
                    log.exception("%s: updating the server set failed; trying again", self.path)
                with self._cond:
                    self._work = True
                    self._cond.wait(min(2.0, 0.05 * 2 ** min(failures, 6)))
            self._fire()

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
        zk = self._zk
        return zk is not None and zk.connected and (self._props_view is None or self._children_view is None)

    def _report_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            if self._holding_logged:
                log.warning("%s: ZooKeeper connection is back; reading the current set", self.path)
                self._holding_logged = False
        elif self._ready.is_set():
            self._holding_logged = True
            with self._cond:
                count = len(self._providers)
            log.warning(
                "%s: ZooKeeper session %s; holding the last good set (%d provider(s)) until it is back",
                self.path, "lost" if state == KazooState.LOST else "suspended", count,
            )

    def _use_snapshot(self) -> None:
        entry = self._snapshot_entry
        assert entry is not None
        with self._cond:
            if self._ready.is_set():
                return
            self._properties = dict(entry["properties"])
            self._providers = {name: dict(data) for name, data in entry["providers"].items()}
            self._from_snapshot = True
            self._ready.set()
        log.warning(
            "%s: no answer from ZooKeeper within %gs; serving %d provider(s) from snapshot %s (saved %s), "
            "stale until ZooKeeper answers",
            self.path, self.timeout, len(entry["providers"]), self.snapshot, entry.get("saved") or "at an unknown time",
        )

    def _providers_real_path(self) -> str:
        view = self._children_view
        return view.real_path if view is not None else self.providers_path

    def _attach_view(self, kind: str, path: str) -> Any:
        """A view of ``path`` with our callback, or None (and a creation watch) if it is missing."""
        zk = self._zk
        assert zk is not None
        while True:
            try:
                view = zk.properties(path) if kind == "properties" else zk.children(path)
            except NoNodeError:
                if zk.client.exists(path, watch=self._on_exists_event) is not None:
                    continue  # created meanwhile (or reachable now): try again
                if path not in self._missing_logged:
                    self._missing_logged.add(path)
                    log.info("%s: %s does not exist (yet); counted as empty, waiting for it", self.path, path)
                return None
            except LinkLoop as exc:
                if path not in self._missing_logged:
                    self._missing_logged.add(path)
                    log.warning("%s: %s; counted as empty", self.path, exc)
                return None
            self._missing_logged.discard(path)
            view(self._on_view_change)
            return view

    def _read_properties(self) -> dict[str, Any]:
        view = self._props_view
        if view is None:
            return {}
        result = {}
        for key in list(view):
            try:
                result[key] = view[key]
            except (BadPropertyLink, LinkLoop) as exc:
                log.warning("%s: property %r: %s; left out", self.path, key, exc)
            except KeyError:
                pass
        return result

    def _sync(self) -> None:
        """Read what changed and offer the result for publishing (on the thread)."""
        zk = self._zk
        if zk is None or not zk.connected:
            return
        if self._props_view is None:
            self._props_view = self._attach_view("properties", self.path)
        if self._children_view is None:
            self._children_view = self._attach_view("children", self.providers_path)
        with self._cond:
            resync, self._resync = self._resync, False
            dirty, self._dirty = self._dirty, set()
        try:
            properties = self._read_properties()
            view = self._children_view
            names = set(view) if view is not None else set()
            for name in set(self._data) - names:
                del self._data[name]
            to_read = names if resync else (names - set(self._data)) | (dirty & names)
            base = self._providers_real_path()
            client = zk.client
            pending = [(name, client.get_async(join(base, name), watch=self._on_data_event)) for name in sorted(to_read)]
            self._watched_data |= to_read
            vanished = []
            for name, result in pending:
                try:
                    data, _stat = result.get(timeout=30.0)
                except NoNodeError:
                    self._data.pop(name, None)
                    vanished.append(name)
                    continue
                self._data[name] = decode(data)
            for name in vanished:
                # Deleted, but maybe re-created under the same name (a restored
                # registration) without the children changing by the time the
                # view looked: a failed read leaves no watch, so watch creation.
                if client.exists(join(base, name), watch=self._on_data_event) is not None:
                    self._poke(dirty=name)
        except BaseException:
            with self._cond:  # read everything that was due again next time
                self._resync = self._resync or resync
                self._dirty |= dirty
            raise
        if vanished:
            # The children view still lists nodes that are gone: it has not
            # seen their deletion yet (its watch event follows the nodes' own).
            # Publishing now would show a set that never existed (e.g. 4, 3, 1
            # for an atomic 4 -> 1); the view's update (or the re-creation
            # watch above) brings us back here.
            log.debug("%s: %s vanished; waiting for the children view to follow", self.path, sorted(vanished))
            return
        providers = {name: self._data[name] for name in sorted(names) if name in self._data}
        self._offer(properties, providers)

    def _offer(self, properties: dict[str, Any], providers: dict[str, dict]) -> None:
        """Publish a set read from ZooKeeper unless ZooKeeper is unreachable or the guard refuses."""
        zk = self._zk
        with self._cond:
            if self._closed or zk is None or zk.client.state != KazooState.CONNECTED:
                return  # the session went away while reading: hold
            # (a state listener changing this takes _cond, so it runs after us)
            self._connected = True
            if self._ready.is_set():
                last = len(self._providers)
            else:
                last = self._baseline or 0
            new = len(providers)
            refuse = (
                not self.force
                and self.min_fraction > 0
                and new < last
                and new < self.min_fraction * last
            )
            if refuse:
                if self._refused != (new, last):
                    log.warning(
                        "%s: shrink guard: ZooKeeper lists %d provider(s), fewer than %g x the %d last published; "
                        "keeping the last good set (force=True / --force publishes it)",
                        self.path, new, self.min_fraction, last,
                    )
                self._refused = (new, last)
                if not self._ready.is_set() and self._snapshot_entry is not None:
                    # the snapshot is the last good set
                    self._providers = {n: dict(d) for n, d in self._snapshot_entry["providers"].items()}
                    self._from_snapshot = True
                self._properties = properties
                self._fresh = True
                self._ready.set()
                return
            if self._refused is not None:
                log.warning(
                    "%s: shrink guard: the set recovered (%d provider(s), was held at %d); publishing it",
                    self.path, new, self._refused[1],
                )
                self._refused = None
            changed = (properties, providers) != (self._properties, self._providers) or not self._fresh
            self._properties = properties
            self._providers = providers
            self._fresh = True
            self._from_snapshot = False
            self._ready.set()
        if changed and self.snapshot and self.save_snapshot:
            try:
                save_snapshot(self.snapshot, self.path, properties, providers)
            except OSError as exc:
                log.error("%s: cannot save snapshot %s: %s", self.path, self.snapshot, exc)

    def _seen(self) -> Any:
        """What a callback sees (with ``_cond`` held); callbacks run when it changes."""
        if not self._ready.is_set():
            return None
        return (self._properties, self._providers, self._stale())

    def _fire(self) -> None:
        with self._callback_lock:
            with self._cond:
                seen = self._seen()
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

    def _drop(self, callback: _Callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)
        self._seen_by.pop(callback, None)
