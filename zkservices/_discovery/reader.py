"""Reading one service from ZooKeeper for a server set: its properties, its providers and their data.

A :class:`ServiceReader` holds a :class:`~zkservices.Properties` view of the
service node, a :class:`~zkservices.Children` view of its ``providers`` node,
and the data of each provider node, read pipelined and watched.  Every change
it hears of (view callbacks, data and creation watches) is reported through
``poke`` so the owner's thread comes back and calls :meth:`ServiceReader.read`.
A service or ``providers`` node that does not exist counts as empty and its
creation is watched.

Provider nodes are recognised in every format (:mod:`zkservices._formats`):
zkservices/zc.zk/Nerve nodes keep their data as it is; Curator instances and
ServerSet members become ``{"host", "port", **properties}``, so templates work
unchanged on all three.  Disabled providers are left out.  A node no format
recognises is passed on as before (its decoded data).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from kazoo.exceptions import NoNodeError

from .._formats import read_provider
from .._zookeeper import ZooKeeper
from .._znode.encoding import decode
from .._znode.paths import join
from ..errors import BadPropertyLink, LinkLoop

__all__ = ["ServiceReader"]

log = logging.getLogger("zkservices.serverset")

#: Seconds to wait for one pipelined read of provider data.
READ_TIMEOUT = 30.0


class ServiceReader:
    """The ZooKeeper side of one :class:`~zkservices.ServerSet` (see the module documentation).

    :param zk: the session to read with.
    :param path: the service node.
    :param providers_path: the node whose children are the providers.
    :param poke: called (from kazoo's and the views' threads) with
        ``dirty=NAME`` when a provider's data changed, ``resync=True`` when
        everything must be read again, or nothing when the views changed.

    Not thread-safe: :meth:`read` and :meth:`close` run on the owner's thread.
    """

    def __init__(self, zk: ZooKeeper, path: str, providers_path: str, *, poke: Callable[..., None]) -> None:
        self.zk = zk
        self.path = path
        self.providers_path = providers_path
        self._poke = poke
        self._props_view: Any = None
        self._children_view: Any = None
        self._data: dict[str, dict | None] = {}  # provider name -> data read (None: left out)
        self._warned: set[tuple[str, int]] = set()  # (name, mzxid) of unrecognised nodes logged
        self._watched_data: set[str] = set()
        self._missing_logged: set[str] = set()

    @property
    def attached(self) -> bool:
        """Whether both views exist (else a node was missing at the last :meth:`read`)."""
        return self._props_view is not None and self._children_view is not None

    def read(self, *, resync: bool, dirty: set[str]) -> tuple[dict[str, Any], dict[str, dict]] | None:
        """Read what changed: ``(properties, providers)``, or ``None`` while the views lag behind.

        :param resync: read every provider's data again.
        :param dirty: providers whose data changed.

        ``None`` means a listed provider has vanished: the children view has not
        seen its deletion yet, and publishing now would show a set that never
        existed (e.g. 4, 3, 1 for an atomic 4 -> 1); the view's update (or a
        re-creation watch) pokes again.  ZooKeeper errors propagate.
        """
        if self._props_view is None:
            self._props_view = self._attach("properties", self.path)
        if self._children_view is None:
            self._children_view = self._attach("children", self.providers_path)
        properties = self._read_properties()
        view = self._children_view
        names = set(view) if view is not None else set()
        for name in set(self._data) - names:
            del self._data[name]
        to_read = names if resync else (names - set(self._data)) | (dirty & names)
        base = self._providers_real_path()
        client = self.zk.core.client
        pending = [(name, client.get_async(join(base, name), watch=self._on_data_event)) for name in sorted(to_read)]
        self._watched_data |= to_read
        vanished = []
        for name, result in pending:
            try:
                data, stat = result.get(timeout=READ_TIMEOUT)
            except NoNodeError:
                self._data.pop(name, None)
                vanished.append(name)
                continue
            self._data[name] = self._provider_data(join(base, name), name, data, stat.mzxid)
        self._warned = {w for w in self._warned if w[0] in names}
        for name in vanished:
            # Deleted, but maybe re-created under the same name (a restored
            # registration) without the children changing by the time the
            # view looked: a failed read leaves no watch, so watch creation.
            if client.exists(join(base, name), watch=self._on_data_event) is not None:
                self._poke(dirty=name)
        if vanished:
            log.debug("%s: %s vanished; waiting for the children view to follow", self.path, sorted(vanished))
            return None
        return properties, {
            name: data for name in sorted(names) if (data := self._data.get(name)) is not None
        }

    def _provider_data(self, path: str, name: str, data: bytes, mzxid: int) -> dict | None:
        """What a feed sees of one provider node; None to leave it out."""
        provider = read_provider(name, data)
        if provider is None:
            if (name, mzxid) not in self._warned:
                self._warned.add((name, mzxid))
                log.debug("%s: %s is not a provider node any format recognises; passed on as it is", self.path, path)
            return decode(data)
        if not provider.enabled:
            log.debug("%s: %s is disabled; left out", self.path, path)
            return None
        if provider.format == "zkservices":
            return decode(data)
        return {"host": provider.host, "port": provider.port, **provider.properties}

    def close(self) -> None:
        """Close the views and drop the watches this reader set (idempotent)."""
        for view in (self._props_view, self._children_view):
            if view is not None:
                view.close()
        paths = {join(self._providers_real_path(), name) for name in self._watched_data}
        self.zk.core.forget_watcher(self._on_data_event, paths)
        self.zk.core.forget_watcher(self._on_exists_event, {self.path, self.providers_path})

    def __repr__(self) -> str:
        return f"<ServiceReader {self.path} {'attached' if self.attached else 'waiting for nodes'}>"

    # -- events (kazoo's and the views' threads) --------------------------------

    def _on_view_change(self, *args: Any) -> None:
        self._poke()

    def _on_data_event(self, event: Any) -> None:
        if getattr(event, "type", None) == "NONE" or not getattr(event, "path", None):
            self._poke(resync=True)
            return
        self._poke(dirty=event.path.rpartition("/")[2])

    def _on_exists_event(self, event: Any) -> None:
        self._poke()

    # -- reading -------------------------------------------------------------

    def _providers_real_path(self) -> str:
        view = self._children_view
        return view.real_path if view is not None else self.providers_path

    def _attach(self, kind: str, path: str) -> Any:
        """A view of ``path`` with our callback, or None (and a creation watch) if it is missing."""
        zk = self.zk
        while True:
            try:
                view = zk.properties(path) if kind == "properties" else zk.children(path)
            except NoNodeError:
                if zk.core.client.exists(path, watch=self._on_exists_event) is not None:
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
