"""zkservices for asyncio programs.

The same concepts as :class:`zkservices.ZooKeeper`, without blocking the event
loop.  Reads (``get``, ``exists``, ``get_children``, ``get_properties``) and
property writes are sent as kazoo's asynchronous requests and awaited on the
running loop -- no thread per call, so concurrent awaits are pipelined -- and
retried through connection trouble like every call of the library.  Calls that
need several dependent round trips (following links, registering, opening a
view) run in the default executor.  Changes of a view arrive as an ``async for``
stream::

    async with await zkservices.aio.connect("127.0.0.1:2181") as zk:
        await zk.register_server("/svc/providers", ("10.0.0.1", 8080))
        async with await zk.children("/svc/providers") as providers:
            async for names in providers.changes():
                print(sorted(names))

A stream starts with the current state, then yields each new state; when the
consumer is slower than the changes, intermediate states are skipped (it
always gets the latest).  A deleted node yields an empty state and sets the
view's ``deleted``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, AsyncIterator, Callable, Generic, Iterator, Mapping, TypeVar

from kazoo.exceptions import BadVersionError, NoNodeError
from kazoo.protocol.states import ZnodeStat

from .errors import BadPropertyLink, CancelWatch, LinkLoop, NoNode
from ._formats import Provider
from ._session import Children, Properties, Providers, Registration, Selector
from ._session.bridge import AsyncBridge
from ._session.retry import authorized
from ._znode.encoding import decode, encode, is_json_object
from ._znode.links import PROPERTY_LINK_SUFFIX
from ._znode.paths import check_path
from ._zookeeper import ZooKeeper
from ._znode.paths import Address

__all__ = ["connect", "AsyncZooKeeper", "AsyncChildren", "AsyncProperties", "AsyncProviders"]

log = logging.getLogger("zkservices.aio")

T = TypeVar("T")
V = TypeVar("V", Children, Properties, Providers)


async def _in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def connect(connection_string: str | None = None, session_timeout: float = 10.0, wait: bool = False,
                  **options: Any) -> "AsyncZooKeeper":
    """Open a session without blocking the loop (same arguments as ``ZooKeeper``)."""
    zk = await _in_thread(ZooKeeper, connection_string, session_timeout, wait, **options)
    return AsyncZooKeeper(zk)


class _AsyncView(Generic[V]):
    """What AsyncChildren and AsyncProperties share: the wrapped view (``view``),
    a stream of changes, an async lifecycle."""

    def __init__(self, view: V) -> None:
        self.view: V = view

    @property
    def path(self) -> str:
        """The path the view was made for."""
        return self.view.path

    @property
    def deleted(self) -> bool:
        """Whether the node is deleted now."""
        return self.view.deleted

    def _snapshot(self) -> Any:
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        return iter(self.view)

    def __len__(self) -> int:
        return len(self.view)

    def __contains__(self, name: object) -> bool:
        return name in self.view

    async def changes(self) -> AsyncIterator[Any]:
        """Yield the current state, then every new state (latest wins when behind)."""
        loop = asyncio.get_running_loop()
        latest: list[Any] = []
        ready = asyncio.Event()

        def deliver(snapshot: Any) -> None:
            latest[:] = [snapshot]
            ready.set()

        def callback(*_: Any) -> None:
            try:
                loop.call_soon_threadsafe(deliver, self._snapshot())
            except RuntimeError:
                if loop.is_closed():  # the stream's loop is gone: stop quietly
                    raise CancelWatch() from None
                raise

        await _in_thread(self.view, callback)
        try:
            while True:
                await ready.wait()
                ready.clear()
                snapshot = latest.pop()
                yield snapshot
        finally:
            self.view.remove(callback)

    async def close(self) -> None:
        """Stop watching; streams from :meth:`changes` end."""
        await _in_thread(self.view.close)

    async def __aenter__(self: Any) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.view!r}>"


class AsyncChildren(_AsyncView[Children]):
    """Children of a node; ``changes()`` yields sorted tuples of names."""

    def _snapshot(self) -> tuple[str, ...]:
        return tuple(self.view)


class AsyncProperties(_AsyncView[Properties]):
    """Properties of a node; ``changes()`` yields plain dicts; writes are awaitable."""

    def _snapshot(self) -> dict[str, Any]:
        # A property link that is broken (or loops) is left out and logged, as
        # ServerSet does: raising here removed the stream's callback, and the
        # stream then waited forever without a word.
        if self.view.deleted:
            return {}
        result = {}
        for key in list(self.view):
            try:
                result[key] = self.view[key]
            except (BadPropertyLink, LinkLoop) as exc:
                log.warning("%s: property %r: %s; left out of the stream", self.path, key, exc)
            except KeyError:  # gone meanwhile
                pass
        return result

    def __getitem__(self, key: str) -> Any:
        return self.view[key]

    async def update(self, *args: Mapping[str, Any], **properties: Any) -> None:
        """Merge properties into the node (compare-and-set, see Properties.update)."""
        await _in_thread(self.view.update, *args, **properties)

    async def set(self, *args: Mapping[str, Any], **properties: Any) -> None:
        """Replace all properties of the node (see Properties.set)."""
        await _in_thread(self.view.set, *args, **properties)


class AsyncProviders(_AsyncView[Providers]):
    """Providers of a service; ``changes()`` yields dicts name → :class:`~zkservices.Provider`."""

    def _snapshot(self) -> dict[str, Provider]:
        return dict(self.view.snapshot())

    def __getitem__(self, name: str) -> Provider:
        return self.view[name]


class AsyncZooKeeper:
    """An asyncio front for :class:`zkservices.ZooKeeper` (``.sync`` is the wrapped helper)."""

    def __init__(self, zk: ZooKeeper) -> None:
        self.sync = zk
        self._bridge = AsyncBridge(zk.core)

    async def get(self, path: str) -> tuple[bytes, ZnodeStat]:
        """The node's raw data and stat (pipelined).  Raises NoNode when it is missing."""
        try:
            return await self._bridge.call(self.sync.client.get_async, check_path(path))
        except NoNodeError:
            raise NoNode(path) from None

    async def exists(self, path: str) -> ZnodeStat | None:
        """The node's stat, or None when it does not exist (pipelined)."""
        return await self._bridge.call(self.sync.client.exists_async, check_path(path))

    async def get_children(self, path: str) -> list[str]:
        """The node's child names (pipelined).  Raises NoNode when it is missing."""
        try:
            return await self._bridge.call(self.sync.client.get_children_async, check_path(path))
        except NoNodeError:
            raise NoNode(path) from None

    async def update_properties(self, path: str, **properties: Any) -> None:
        """Merge ``properties`` into the node's properties, compare-and-set, pipelined.

        Raises NoNode for a missing node, ValueError for data that is not a JSON object
        or values that cannot be stored; writes with property links go through
        :meth:`zkservices.Properties.update` (in the executor) to check them.
        """
        if any(key.endswith(PROPERTY_LINK_SUFFIX) for key in properties):
            await self._update_in_thread(path, properties)
            return
        check_path(path)
        client = self.sync.client
        while True:
            data, stat = await self.get(path)
            if not is_json_object(data):
                raise ValueError(f"{path} holds data that is not a JSON object; refusing to merge into it")
            old = decode(data)
            if any(key.endswith(PROPERTY_LINK_SUFFIX) for key in old):
                await self._update_in_thread(path, properties)
                return
            encoded = encode({**old, **properties}, path=path)
            try:
                with authorized("write", path):
                    await self._bridge.call(client.set_async, path, encoded, stat.version)
            except BadVersionError:
                continue
            self.sync.registrar.written(path, encoded)
            if self.sync.core.settle_needed():
                await _in_thread(self.sync.core.settle)
            return

    async def register_server(self, path: str, address: Address, **properties: Any) -> Registration:
        """:meth:`zkservices.ZooKeeper.register_server`, awaited."""
        return await _in_thread(self.sync.register_server, path, address, **properties)

    async def unregister(self, path: str, address: Address) -> None:
        """:meth:`zkservices.ZooKeeper.unregister`, awaited."""
        await _in_thread(self.sync.unregister, path, address)

    async def children(self, path: str) -> AsyncChildren:
        """A self-updating view of ``path``'s children; raises NoNode when it is missing."""
        return AsyncChildren(await _in_thread(self.sync.children, path))

    async def properties(self, path: str) -> AsyncProperties:
        """A self-updating view of ``path``'s properties; raises NoNode when it is missing."""
        return AsyncProperties(await _in_thread(self.sync.properties, path))

    async def providers(self, path: str) -> AsyncProviders:
        """A self-updating view of ``path``'s providers in any format (see
        :meth:`zkservices.ZooKeeper.providers`); raises NoNode when it is missing."""
        return AsyncProviders(await _in_thread(self.sync.providers, path))

    async def selector(self, path: str, strategy: str = "round-robin", *, error_threshold: int = 2,
                       down_for: float = 30.0) -> Selector:
        """A :class:`~zkservices.Selector` (see :meth:`zkservices.ZooKeeper.selector`).

        Its ``get()``, ``note_error()`` and ``lease()`` never wait for ZooKeeper, so
        coroutines call them directly (``async with selector.lease() as provider``
        works as well as ``with``); ``close()`` too.
        """
        return await _in_thread(self.sync.selector, path, strategy, error_threshold=error_threshold,
                                down_for=down_for)

    async def _update_in_thread(self, path: str, properties: dict[str, Any]) -> None:
        """The synchronous compare-and-set, which checks property links, in the executor."""
        view = await _in_thread(self.sync.properties, path, False)
        await _in_thread(view.update, properties)

    async def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties as a plain dict (links followed, read once).

        One pipelined read; a path through a symbolic link or properties with
        property links are resolved in the executor.
        """
        try:
            data, _ = await self._bridge.call(self.sync.client.get_async, check_path(path))
        except NoNodeError:  # perhaps a symbolic link on the way
            return await _in_thread(self.sync.get_properties, path)
        properties = decode(data)
        if any(key.endswith(PROPERTY_LINK_SUFFIX) for key in properties):
            return await _in_thread(self.sync.get_properties, path)
        return properties

    async def resolve(self, path: str) -> str:
        """:meth:`zkservices.ZooKeeper.resolve`, awaited."""
        return await _in_thread(self.sync.resolve, path)

    async def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete; False on timeout."""
        return await _in_thread(self.sync.wait_recovered, timeout)

    async def close(self) -> None:
        """Close the session (see :meth:`zkservices.ZooKeeper.close`)."""
        await _in_thread(self.sync.close)

    async def __aenter__(self) -> "AsyncZooKeeper":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncZooKeeper {self.sync!r}>"
