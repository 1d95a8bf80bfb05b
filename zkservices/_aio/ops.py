"""Round trips of one session awaited on the running loop: reads, symbolic and
property links, compare-and-set writes, and settling views after a write.

The link algorithms are the synchronous ones of :mod:`zkservices._znode.links` and
:mod:`zkservices._session.writes`, run over a :class:`Replay`: a cache of the reads
made so far.  A read the cache does not hold stops the algorithm (``_Miss``); the read
is awaited through the bridge and the algorithm runs again from the start.  Link
chains are short, so the replays cost little, and the rules (a real child wins over a
link, loops, missing targets, the error messages) are exactly the synchronous API's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any, Callable, Mapping, TypeVar, cast

from kazoo.exceptions import BadVersionError, NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NodeDeleted, SessionClosed
from .._znode.encoding import decode
from .._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, PROPERTY_LINK_SUFFIX, follow_property, linked_names
from .._znode.links import resolve as resolve_links
from .._znode.paths import check_path, join, split
from .._session.bridge import AsyncBridge
from .._session.core import SessionCore
from .._session.kazoo_internals import access
from .._session.retry import authorized
from .._session.writes import check_property_links, next_properties

__all__ = ["AsyncOps", "Replay", "has_links"]

log = logging.getLogger("zkservices.aio")

T = TypeVar("T")

Written = Callable[[str, bytes], None]


def has_links(properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` hold a property link (``'name =>'``)."""
    return any(key.endswith(PROPERTY_LINK_SUFFIX) for key in properties)


class _Miss(Exception):
    """A read the replay cache does not hold yet (never leaves :meth:`Replay.run`)."""

    def __init__(self, kind: str, path: str) -> None:
        super().__init__(kind, path)
        self.kind = kind
        self.path = path


class Replay:
    """The reads of one operation, for the synchronous link algorithms.

    ``read_properties``/``exists``/``resolve`` answer from the cache or raise
    ``_Miss``; :meth:`run` awaits each missing read and runs the algorithm again.
    It quacks like the parts of a SessionCore that the link checks use.
    """

    def __init__(self, ops: "AsyncOps") -> None:
        self._ops = ops
        self._properties: dict[str, dict | None] = {}
        self._exists: dict[str, bool] = {}

    def read_properties(self, path: str) -> dict | None:
        try:
            return self._properties[path]
        except KeyError:
            raise _Miss("read", path) from None

    def exists(self, path: str) -> bool:
        try:
            return self._exists[path]
        except KeyError:
            raise _Miss("exists", path) from None

    def resolve(self, path: str) -> str:
        return resolve_links(path, self.read_properties, self.exists)

    def know(self, path: str, properties: dict | None) -> None:
        """Put a read made elsewhere into the cache."""
        self._properties[path] = properties
        self._exists.setdefault(path, properties is not None)

    async def run(self, algorithm: Callable[[], T]) -> T:
        """``algorithm()``, its missing reads awaited one at a time."""
        while True:
            try:
                return algorithm()
            except _Miss as miss:
                if miss.kind == "read":
                    self.know(miss.path, await self._ops.read_properties(miss.path))
                else:
                    self._exists[miss.path] = await self._ops.exists(miss.path)

    def __repr__(self) -> str:
        return f"<Replay {len(self._properties)} read(s), {len(self._exists)} exists>"


class AsyncOps:
    """The awaited round trips of one session core (see the module documentation).

    :param core: the session; its client makes the calls, its worker runs views.
    :param written: told of every write to a node (the registrar follows it).
    """

    def __init__(self, core: SessionCore, *, written: Written | None = None) -> None:
        self.core = core
        self.bridge = AsyncBridge(core)
        self.written = written

    @property
    def client(self) -> Any:
        return self.core.client

    # -- reads -------------------------------------------------------------------

    async def read_properties(self, path: str) -> dict | None:
        """The decoded properties of ``path``; None when it does not exist."""
        try:
            data, _ = await self.bridge.call(self.client.get_async, path)
        except NoNodeError:
            return None
        return decode(data)

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return await self.bridge.call(self.client.exists_async, path) is not None

    async def resolve(self, path: str) -> str:
        """Follow symbolic links (as ``SessionCore.resolve``).  Raises NoNode, LinkLoop, InvalidPath."""
        replay = Replay(self)
        return await replay.run(lambda: replay.resolve(path))

    async def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties with property links followed, read once (as
        ``ZooKeeper.get_properties``).  One round trip without links."""
        check_path(path)
        try:
            data, _ = await self.bridge.call(self.client.get_async, path)
        except NoNodeError:  # perhaps a symbolic link on the way
            data = None
        if data is not None:
            own = decode(data)
            if not has_links(own):
                return own
            replay = Replay(self)
            real = path
        else:
            replay = Replay(self)
            real = await replay.run(lambda: replay.resolve(path))
            found = await self.read_properties(real)
            if found is None:  # deleted meanwhile: an empty view
                return {}
            own = found
        replay.know(real, own)
        return await self.follow_links(replay, real, own)

    async def follow_links(self, replay: Replay, real: str, own: dict) -> dict[str, Any]:
        """``own`` with its property links replaced by their values.  Raises the first
        BadPropertyLink or LinkLoop in key order, as reading a view's items does."""

        def follow_all() -> dict[str, Any]:
            linked: dict[str, Any] = {}
            for name in linked_names(own):
                try:
                    linked[name] = follow_property(real, own, name, read=replay.read_properties,
                                                   resolve_path=replay.resolve)
                except (BadPropertyLink, LinkLoop) as exc:
                    linked[name] = exc
            return linked

        linked = await replay.run(follow_all)
        result: dict[str, Any] = {}
        for key in own:
            if key.endswith(PROPERTY_LINK_SUFFIX):
                name = key[: -len(PROPERTY_LINK_SUFFIX)]
                if name in own:
                    continue
                value = linked[name]
                if isinstance(value, (BadPropertyLink, LinkLoop)):
                    raise type(value)(*value.args)
                result[name] = value
            else:
                result[key] = own[key]
        return result

    # -- writes ------------------------------------------------------------------

    async def check_property_links(self, path: str, properties: Mapping[str, Any],
                                   old: Mapping[str, Any] | None = None) -> None:
        """``writes.check_property_links`` over awaited reads."""
        if not has_links(properties):
            return
        replay = Replay(self)
        replay.know(path, dict(properties))
        await replay.run(lambda: check_property_links(cast(SessionCore, replay), path, properties, old))

    async def compare_and_set(self, path: str, make: Callable[[dict], dict], *, merging: bool) -> bytes:
        """``writes.compare_and_set``, awaited: read, ``make`` the new properties, write
        if the version is unchanged, else again.  Returns the bytes written.

        :raises NodeDeleted: the node is missing (or deleted while written).
        :raises ValueError: ``merging`` into data that is not a JSON object, or
            properties that cannot be stored.
        :raises BadPropertyLink: the write would make a property link bad (or LinkLoop).
        """
        client = self.client
        while True:
            try:
                data, stat = await self.bridge.call(client.get_async, path)
            except NoNodeError:
                raise NodeDeleted(f"{path} does not exist; not creating it") from None
            old, new, encoded = next_properties(path, data, make, merging=merging)
            await self.check_property_links(path, new, old)
            try:
                with authorized("write", path):
                    await self.bridge.call(client.set_async, path, encoded, stat.version)
            except BadVersionError:
                log.debug("%s changed under us (version %d); retrying", path, stat.version)
                continue
            except NoNodeError:
                raise NodeDeleted(f"{path} was deleted while it was written; not re-creating it") from None
            if self.written is not None:
                self.written(path, encoded)
            return encoded

    async def resolve_or_create(self, path: str, *, acl: Any = None, depth: int = 0) -> str:
        """``writes.resolve_or_create``, awaited: resolve ``path``, creating what is
        missing below the deepest existing node (a dangling link gets its target).

        :raises NotAuthorized: ZooKeeper refuses to create a node.
        :raises LinkLoop: too many levels of symbolic links.
        """
        check_path(path)
        try:
            return await self.resolve(path)
        except NoNodeError:
            pass
        parent, name = split(path)
        real_parent = await self.resolve_or_create(parent, acl=acl, depth=depth) if parent != path else "/"
        real = join(real_parent, name)
        try:
            return await self.resolve(real)
        except NoNodeError:
            pass
        target = (await self.read_properties(real_parent) or {}).get(name + LINK_SUFFIX)
        if isinstance(target, str) and target.strip():
            if depth > MAX_LINK_DEPTH:
                raise LinkLoop(f"{path}: too many levels of symbolic links")
            return await self.resolve_or_create(join(real_parent, target.strip()), acl=acl, depth=depth + 1)
        with authorized("create", real):
            await self.bridge.call(self.client.ensure_path_async, real,
                                   acl if acl is not None else self.core.default_acl())
        return real

    async def delete(self, paths: list[str]) -> None:
        """Delete ``paths`` pipelined; a node already gone counts as deleted.

        :raises NotAuthorized: ZooKeeper refuses a delete.
        """

        async def one(path: str) -> None:
            try:
                with authorized("delete", path):
                    await self.bridge.call(self.client.delete_async, path)
                log.info("unregistered %s", path)
            except NoNodeError:
                pass

        await asyncio.gather(*(one(path) for path in paths))

    # -- the session's worker and its views -----------------------------------------

    async def on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the session's worker thread (where views read and run their
        callbacks, in order), awaited without blocking the loop.

        :raises SessionClosed: the session is closed.
        """
        if self.core.closed:
            raise SessionClosed("the session was closed")
        return await asyncio.wrap_future(self.core.worker.submit(fn, *args))

    async def settle(self, timeout: float = 30.0) -> None:
        """``SessionCore.settle`` without blocking the loop: let this session's views
        catch up with what it just wrote (bounded, never fails)."""
        core = self.core
        if core.closed or not core.settle_needed():
            return
        marker: concurrent.futures.Future[None] = concurrent.futures.Future()
        try:
            access(self.client).on_event_thread(marker.set_result, None)
            await asyncio.wait_for(asyncio.wrap_future(marker), timeout)
            await asyncio.wait_for(self.on_worker(lambda: None), timeout)
            return
        except (asyncio.TimeoutError, RuntimeError):  # worker busy or stopped
            pass
        log.warning("views did not catch up with this session's write within %gs; continuing", timeout)

    def __repr__(self) -> str:
        return f"<AsyncOps {self.core!r}>"

