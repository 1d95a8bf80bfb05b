"""A self-updating view of a service's providers, in any format.

:class:`Providers` watches a node's children (as :class:`~zkservices.Children` does)
and the data of each child, read pipelined on the session's worker, and maps each
name to a :class:`~zkservices.Provider` recognised by :mod:`zkservices._formats`
(zkservices/zc.zk/Nerve, Curator, ServerSet).  A child that no format can read is
left out with one WARNING per version of its data, saying why (a bad host or
port...); when it is repaired it joins, when a good one breaks it leaves.  Only the children that are new, or whose data
watch fired, are read again; after a connection loss, all of them.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from kazoo.exceptions import NoNodeError

from .._formats import Provider, read_provider, unreadable_reason
from .._znode.paths import join
from .callbacks import Callback
from .core import SessionCore
from .viewbase import View
from .viewset import ViewSet

__all__ = ["Providers", "ProvidersChange"]

log = logging.getLogger("zkservices.providers")


@dataclass(frozen=True)
class ProvidersChange:
    """What changed between two calls of a :class:`Providers` callback: names of
    providers that joined, left, or whose record changed."""

    added: frozenset[str]
    removed: frozenset[str]
    changed: frozenset[str]

    @classmethod
    def between(cls, old: Mapping[str, Provider], new: Mapping[str, Provider]) -> "ProvidersChange":
        """The change from the providers ``old`` to the providers ``new`` (name → provider)."""
        before, after = old.keys(), new.keys()
        changed = frozenset(n for n in before & after if old[n] != new[n])
        return cls(frozenset(after - before), frozenset(before - after), changed)


class Providers(View, Mapping[str, Provider]):
    """The providers below a node as a mapping name → :class:`~zkservices.Provider`,
    always current (iterable in name order, sized, container).

    Callbacks get the view, and a :class:`ProvidersChange` when they take a second
    parameter; when the node is deleted they are called with no arguments where their
    signature allows.  Use it like :class:`~zkservices.Children`: ``view(fn)`` or as a
    decorator, :meth:`remove`, :meth:`close`, a context manager.
    """

    _kind = "providers"
    _state: dict[str, Provider] = {}

    def __init__(self, core: SessionCore, viewset: ViewSet, path: str, *, missing_ok: bool = False) -> None:
        self._cache: dict[str, tuple[int, Provider | None]] = {}  # name -> (mzxid read, provider)
        self._dirty: set[str] = set()
        self._resync = False
        self._warned: set[tuple[str, int]] = set()
        ref = weakref.ref(self)

        def data_watcher(event: Any, _ref: "weakref.ref[Providers]" = ref) -> None:
            # kazoo's event thread: note what to read again, leave the reading to the worker
            view = _ref()
            if view is None or view.closed:
                return
            with view._lock:
                if getattr(event, "type", None) == "NONE" or not getattr(event, "path", None):
                    view._resync = True
                else:
                    view._dirty.add(event.path.rpartition("/")[2])
            view._core.worker.request_refresh((view,))

        self._data_watcher = data_watcher
        super().__init__(core, viewset, path, missing_ok=missing_ok)

    # -- reading -------------------------------------------------------------

    def _start_fetch(self) -> Any:
        return self._core.client.get_children_async(self.real_path, watch=self._watch())

    def _finish_fetch(self, result: Any) -> dict[str, Provider]:
        names = sorted(result.get())
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            resync, self._resync = self._resync, False
        try:
            return self._read(names, dirty, resync)
        except BaseException:
            with self._lock:  # read them again next time
                self._dirty |= dirty
                self._resync = self._resync or resync
            raise

    def _read(self, names: list[str], dirty: set[str], resync: bool) -> dict[str, Provider]:
        client = self._core.client
        base = self.real_path
        watch = self._data_watcher if self.watching else None
        cache = {name: self._cache[name] for name in names if name in self._cache}
        to_read = [name for name in names if resync or name in dirty or name not in cache]
        pending = [(name, client.get_async(join(base, name), watch=watch)) for name in to_read]
        for name, request in pending:
            try:
                data, stat = request.get()
            except NoNodeError:  # deleted since the listing: the children watch tells
                cache.pop(name, None)
                continue
            provider = read_provider(name, data)
            if provider is None and (name, stat.mzxid) not in self._warned:
                self._warned.add((name, stat.mzxid))
                log.warning("providers %s: %s left out: %s (data %r)", self.path, join(base, name),
                            unreadable_reason(name, data), _excerpt(data))
            cache[name] = (stat.mzxid, provider)
        self._cache = cache
        present = set(names)
        self._warned = {w for w in self._warned if w[0] in present}
        if watch is not None:
            self._watched_paths |= {join(base, name) for name in cache}
        return {name: provider for name, (_, provider) in sorted(cache.items()) if provider is not None}

    def _empty(self) -> dict[str, Provider]:
        return {}

    def _node_missing(self) -> bool:
        self._cache = {}
        return super()._node_missing()

    # -- callbacks -----------------------------------------------------------

    def _call_one(self, callback: Callback, old: Any, new: Any, deleted: bool) -> None:
        if deleted and callback.min_args == 0:
            callback()
            return
        if callback.max_args < 2:
            callback(self)
            return
        callback(self, ProvidersChange.between(old, new))

    # -- the mapping -----------------------------------------------------------

    def __getitem__(self, name: str) -> Provider:
        return self._state[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, name: object) -> bool:
        return name in self._state

    def snapshot(self) -> Mapping[str, Provider]:
        """The providers right now, as a plain dict that does not change."""
        return dict(self._state)

    # Compared by content (as a mapping), hashed by identity: the owner keeps views in sets.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<Providers {self._status()} {list(self._state)!r}>"


def _excerpt(data: bytes | None, limit: int = 80) -> bytes | None:
    return data if data is None or len(data) <= limit else data[:limit] + b"..."
