"""The base of every self-updating view (Children, Properties, Providers): lifecycle,
the watcher, callbacks, re-reading a deleted node through links.

kazoo calls a view's watcher on its event thread; the watcher only sends the read
(non-blocking) and asks the owner's worker for a refresh, and the worker finishes the
read (re-arming the watch) and calls the callbacks, in order.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from typing import Any, Callable, TypeVar

from kazoo.exceptions import NoNodeError

from ..errors import CancelWatch, LinkLoop
from .._znode.encoding import decode
from .._znode.links import resolve
from .._znode.paths import check_path
from .callbacks import Callback
from .core import SessionCore
from .viewset import ViewSet

__all__ = ["View", "Watcher"]

log = logging.getLogger("zkservices.views")

V = TypeVar("V", bound="View")

#: Names the view registry's hooks had while public (until 1.0): still answered, with a
#: DeprecationWarning, but not listed by ``dir(view)``.
_FORMERLY_PUBLIC = {
    "core": "_core",
    "take_fetch": "_take_fetch",
    "complete": "_complete",
    "rewatch_plan": "_rewatch_plan",
    "mark_synced": "_mark_synced",
}


class Watcher(weakref.ref):
    """A view's kazoo watcher: a weak reference to the view, called with kazoo's event.

    One small object per view serves as the watcher kazoo keeps (an armed watch
    does not keep a dropped view alive) and as the view's entry in its
    :class:`ViewSet` (its callback takes the entry out when the view is collected).
    """

    __slots__ = ()

    def view(self) -> "View | None":
        """The view, or None once it was collected."""
        return weakref.ref.__call__(self)

    def __call__(self, event: Any) -> None:  # type: ignore[override]
        view = weakref.ref.__call__(self)
        if view is not None and not view.closed:
            view._on_event(event)


class View:
    """What Children and Properties share: lifecycle, watcher, callbacks.

    Kept small (thousands of views per process): one :class:`Watcher` per view,
    one lock for all views (held only for a few assignments, never across a call
    out), callbacks in a tuple replaced on change, no set of watched paths until
    a view watches more than its own node.

    Public on a view is only what its users call (``path``, ``real_path``,
    ``deleted``, ``watching``, ``closed``, ``callbacks``, ``remove``, ``close``, and
    what each kind adds).  What the :class:`ViewSet` uses to refresh and re-arm views is
    an internal protocol of underscore names: ``_watcher`` (the kazoo watcher),
    ``_synced`` (what the state is as of), ``_take_fetch`` / ``_complete`` (a read in
    two halves, pipelined across views), ``_rewatch_plan`` / ``_mark_synced``
    (re-arming the one watch of a view without a read).
    """

    _kind = "view"
    _state: Any
    _lock = threading.RLock()
    _callbacks: tuple[Callback, ...] = ()
    _watched_paths: "frozenset[str] | set[str]" = frozenset()  # other nodes watched (links)
    _prefetched: Any = None  # a read sent by the watcher, for the worker to finish
    # What the state is as of: None, not known (a watch fired, or not read yet); ~N
    # (negative), a read sent on connection epoch N is in flight; N, read on epoch N,
    # its watch armed and not fired since -- re-armed after a connection loss by one
    # SetWatches for many views instead of a read each (see ViewSet).
    _synced: int | None = None

    def __init__(
        self,
        core: SessionCore,
        viewset: ViewSet,
        path: str,
        *,
        watch: bool = True,
        written: Callable[[str, bytes], None] | None = None,
        missing_ok: bool = False,
    ) -> None:
        self._core = core
        self._viewset = viewset
        self._written = written
        self.path = check_path(path)
        self.deleted = False
        try:
            self.real_path = core.resolve(path)
        except (NoNodeError, LinkLoop) as exc:
            if not missing_ok:
                raise
            # Start as a deleted view: empty, waiting for the node (and the links
            # on the way to it) to appear; the first read sets the watches.
            self.real_path = self.path
            self.deleted = True
            log.info("%s %s does not exist (yet: %s); watching for it", self._kind, self.path,
                     type(exc).__name__)
        self.watching = watch
        self.closed = False
        self._watcher = Watcher(self, viewset.forget if watch else None)
        if watch:
            viewset.add(self)
            core.worker.call(core.retry, self._load)
        else:
            core.retry(self._load)

    def _on_event(self, event: Any) -> None:
        """A watch fired (on kazoo's event thread): send the read at once (non-blocking,
        it only queues the request) and leave waiting for it to the worker."""
        if getattr(event, "type", None) != "NONE":
            with self._lock:
                self._synced = None
            if self._core.client.connected:
                try:
                    self._synced = ~self._core.watches.epoch
                    self._prefetched = self._start_fetch()
                except Exception:
                    self._prefetched = None
        self._core.worker.request_refresh((self,))

    def _note_watched(self, path: str) -> None:
        """Remember another node this view set a watch on (forgotten on close)."""
        paths = self._watched_paths
        if path not in paths:
            if not isinstance(paths, set):
                paths = self._watched_paths = set(paths)
            paths.add(path)

    def _differs(self, old: Any, new: Any) -> bool:
        return bool(old != new)

    # -- reading the node ---------------------------------------------

    def _start_fetch(self) -> Any:  # an IAsyncResult
        raise NotImplementedError

    def _finish_fetch(self, result: Any) -> Any:
        raise NotImplementedError

    def _empty(self) -> Any:
        raise NotImplementedError

    def _watch(self) -> Any:
        return self._watcher if self.watching else None

    # -- the views' internal protocol (for the ViewSet; nothing public) -------

    def _take_fetch(self) -> Any:
        """The watcher's prefetched read if there is one, else a new read (for the worker)."""
        result, self._prefetched = self._prefetched, None
        if result is not None:
            return result
        self._synced = ~self._core.watches.epoch
        return self._start_fetch()

    def _load(self) -> bool:
        """Read the node now (re-arming watches); return True when the state changed."""
        self._synced = ~self._core.watches.epoch
        return self._complete(self._start_fetch())

    def _rewatch_plan(self) -> tuple[bool, str] | None:
        """``(data watch?, path)`` when this view's one watch can be re-armed without a
        read (its state is as of its last read, no other node watched); else None."""
        return None

    def _mark_synced(self, was: int, now: int) -> None:
        """The watch of a view synced on epoch ``was`` was re-armed on epoch ``now``
        (unless a watch fired meanwhile)."""
        with self._lock:
            if self._synced == was:
                self._synced = now

    def _complete(self, result: Any) -> bool:
        """Finish a fetch started by :meth:`_take_fetch`; apply it; call callbacks on change."""
        if self.closed:
            return False
        try:
            state = self._finish_fetch(result)
        except NoNodeError:
            return self._node_missing()
        with self._lock:
            was_deleted = self.deleted
            changed = was_deleted or self._differs(self._state, state)
            old = self._state
            self._state = state
            self.deleted = False
            synced = self._synced
            if synced is not None and synced < 0:  # no watch fired since the read was sent
                self._synced = ~synced
        if was_deleted:
            log.info("%s %s exists again; watching it", self._kind, self.real_path)
        if changed and self._callbacks:
            self._fire(old, state)
        return changed

    def _node_missing(self) -> bool:
        # The node was deleted: re-resolve through links first.  Watch the
        # nodes that hold the links consulted (the parents on the way): a
        # link re-targeted (or added) after the deletion must wake a deleted
        # view, which otherwise waited for its old target to come back.  Watch
        # the nodes looked for on the way too: a node created there (a dangling
        # link's target, a missing parent) may make the path resolve.
        watch = self._watch()
        client = self._core.client

        def read(path: str) -> dict | None:
            try:
                data, _ = client.get(path, watch=watch)
            except NoNodeError:
                return None
            if watch is not None:
                self._note_watched(path)
            return decode(data)

        def exists(path: str) -> bool:
            if watch is None:
                return client.exists(path) is not None
            found = client.exists(path, watch=watch) is not None
            self._note_watched(path)
            return found

        try:
            now = resolve(self.path, read, exists)
        except (NoNodeError, LinkLoop):
            now = self.real_path
        if now != self.real_path and client.exists(now) is not None:
            log.info("%s %s: %s now names %s", self._kind, self.path, self.real_path, now)
            self.real_path = now
            return self._load()
        # Watch for its creation; if it appeared meanwhile, read it.
        if client.exists(self.real_path, watch=self._watch()) is not None:
            return self._load()
        with self._lock:
            self._synced = None  # watches on other nodes: re-armed by reading
            if self.deleted:
                return False
            old = self._state
            self._state = self._empty()
            self.deleted = True
        log.warning("%s %s: node %s was deleted", self._kind, self.path, self.real_path)
        if self._callbacks:
            self._fire(old, self._state, deleted=True)
        return True

    # -- callbacks -----------------------------------------------------

    def _call_one(self, callback: Callback, old: Any, new: Any, deleted: bool) -> None:
        raise NotImplementedError

    def _fire(self, old: Any, new: Any, *, deleted: bool = False) -> None:
        for callback in self._callbacks:  # a tuple: changes replace it
            if self.closed:  # closed by an earlier callback: call no more
                return
            try:
                self._call_one(callback, old, new, deleted)
            except CancelWatch:
                self._remove(callback)
                log.debug("%s %s: %r cancelled itself", self._kind, self.path, callback)
            except Exception:
                self._remove(callback)
                log.exception("%s %s: callback %r raised; it is removed, the others go on", self._kind, self.path, callback)

    def _remove(self, callback: Callback) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks = tuple(c for c in self._callbacks if c is not callback)
            if not self._callbacks:
                self._viewset.release(self)

    def remove(self, fn: Callable[..., Any]) -> bool:
        """Stop calling ``fn`` (added with ``view(fn)``); False when it was not there."""
        with self._lock:
            found = next((c for c in self._callbacks if c.fn is fn), None)
        if found is None:
            return False
        self._remove(found)
        return True

    def __call__(self: V, fn: Callable[..., Any]) -> V:
        """Register ``fn``: called at once, then on every change (usable as a decorator).

        Returns the view itself (as zc.zk's API does), so ``@zk.children(path)``
        binds the view, typed as the view.  If the first call raises, the error
        propagates and ``fn`` is not kept; raising :class:`CancelWatch` drops it
        quietly.  Raises TypeError for a view made with ``watch=False`` or a function
        that needs more than two arguments, ValueError for a closed view.
        """
        if not self.watching:
            raise TypeError(f"{self!r} was made with watch=False and cannot take callbacks")
        if self.closed:
            raise ValueError(f"{self!r} is closed")
        callback = Callback(fn)

        def first() -> None:
            with self._lock:
                state = self._state
                deleted = self.deleted
            try:
                self._call_one(callback, self._empty(), state, deleted)
            except CancelWatch:
                return
            with self._lock:
                self._callbacks = (*self._callbacks, callback)
                self._viewset.hold(self)

        self._core.worker.call(first)
        return self

    @property
    def callbacks(self) -> tuple[Callable[..., Any], ...]:
        """The functions this view calls on change, in order."""
        return tuple(c.fn for c in self._callbacks)

    def close(self) -> None:
        """Stop watching; drop the callbacks and the kazoo watchers."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            self._callbacks = ()
        self._viewset.discard(self)
        self._core.watches.forget(self._watcher, self._watched_paths | {self.real_path})

    def __getattr__(self, name: str) -> Any:
        # only for names not found the usual way: the internal hooks' former public names
        private = _FORMERLY_PUBLIC.get(name)
        if private is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        warnings.warn(f"{type(self).__name__}.{name} is internal to zkservices and deprecated; it will go",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, private)

    def __enter__(self: V) -> V:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _status(self) -> str:
        flags = []
        if self.deleted:
            flags.append("deleted")
        if self.closed:
            flags.append("closed")
        if not self.watching:
            flags.append("unwatched")
        if self._callbacks:
            flags.append(f"{len(self._callbacks)} callback(s)")
        path = self.path if self.path == self.real_path else f"{self.path} -> {self.real_path}"
        return " ".join([path, *flags])
