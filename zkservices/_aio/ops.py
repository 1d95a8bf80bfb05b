"""Round trips of one session awaited on the running loop: reads, symbolic and
property links, compare-and-set writes, and settling views after a write.

The algorithms are the sans-I/O steps of :mod:`zkservices._steps` -- the very ones
the synchronous API runs on its blocking driver -- run here on the awaiting driver
(:class:`~zkservices._session.drivers.AsyncDriver`, over the asyncio bridge), so the
rules (a real child wins over a link, loops, missing targets, the error messages)
are exactly the synchronous API's.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, TypeVar

from ..errors import SessionClosed
from .._steps import Step, links, settle, writes
from .._session.bridge import AsyncBridge
from .._session.core import SessionCore
from .._session.drivers import AsyncDriver

__all__ = ["AsyncOps"]

T = TypeVar("T")

Written = Callable[[str, bytes], None]


class AsyncOps:
    """The awaited round trips of one session core (see the module documentation).

    :param core: the session; its client makes the calls, its worker runs views.
    :param written: told of every write to a node (the registrar follows it).
    """

    def __init__(self, core: SessionCore, *, written: Written | None = None) -> None:
        self.core = core
        self.bridge = AsyncBridge(core)
        self.driver = AsyncDriver(self.bridge)
        self.written = written

    @property
    def client(self) -> Any:
        return self.core.client

    async def run(self, step: Step[T]) -> T:
        """``step`` run to its end on the awaiting driver."""
        return await self.driver.run(step)

    # -- reads -------------------------------------------------------------------

    async def read_properties(self, path: str) -> dict | None:
        """The decoded properties of ``path``; None when it does not exist."""
        return await self.run(links.read_properties(path))

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return await self.run(links.node_exists(path))

    async def resolve(self, path: str) -> str:
        """Follow symbolic links (as ``SessionCore.resolve``).  Raises NoNode, LinkLoop, InvalidPath."""
        return await self.run(links.resolve(path))

    async def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties with property links followed, read once (as
        ``ZooKeeper.get_properties``).  One round trip without links."""
        return await self.run(links.get_properties(path))

    # -- writes ------------------------------------------------------------------

    async def compare_and_set(self, path: str, make: Callable[[dict], dict], *, merging: bool,
                              missing: Callable[[str], Exception] | None = None) -> bytes:
        """The compare-and-set step, awaited: read, ``make`` the new properties, write
        if the version is unchanged, else again.  Returns the bytes written (and tells
        ``written``).

        :raises NodeDeleted: the node is missing (or deleted while written); ``missing(path)`` if given.
        :raises ValueError: ``merging`` into data that is not a JSON object, or
            properties that cannot be stored.
        :raises BadPropertyLink: the write would make a property link bad (or LinkLoop).
        """
        encoded = await self.run(writes.compare_and_set(path, make, merging=merging, missing=missing))
        if self.written is not None:
            self.written(path, encoded)
        return encoded

    async def update_properties(self, path: str, properties: Mapping[str, Any]) -> bytes:
        """The update-properties step (a compare-and-set merge), awaited; tells ``written``."""
        encoded = await self.run(writes.update_properties(path, dict(properties)))
        if self.written is not None:
            self.written(path, encoded)
        return encoded

    async def resolve_or_create(self, path: str, *, acl: Any = None) -> str:
        """The resolve-or-create step, awaited: resolve ``path``, creating what is
        missing below the deepest existing node (a dangling link gets its target).

        :raises NotAuthorized: ZooKeeper refuses to create a node.
        :raises LinkLoop: too many levels of symbolic links.
        """
        return await self.run(writes.resolve_or_create(path, acl=acl if acl is not None else self.core.default_acl()))

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
        await self.run(settle(timeout))

    def __repr__(self) -> str:
        return f"<AsyncOps {self.core!r}>"
