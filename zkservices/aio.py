"""zkservices for asyncio programs.

The same concepts as :class:`zkservices.ZooKeeper`, without blocking the event
loop and without a thread per call: every round trip -- reads, writes, following
links, registering, unregistering -- is sent as kazoo's asynchronous request and
awaited on the running loop, so concurrent awaits are pipelined, and retried through
connection trouble and session expiry like every call of the library.  Views are
opened and refreshed on the session's worker thread, as the synchronous ones are;
their changes arrive as an ``async for`` stream::

    async with await zkservices.aio.connect("127.0.0.1:2181") as zk:
        await zk.register_server("/svc/providers", ("10.0.0.1", 8080))
        async with await zk.children("/svc/providers") as providers:
            async for names in providers.changes():
                print(sorted(names))

A stream starts with the current state, then yields each new state; when the
consumer is slower than the changes, intermediate states are skipped (it
always gets the latest).  A deleted node yields an empty state and sets the
view's ``deleted``.

Two calls run in the loop's default executor because they wait for kazoo's own
threads: :func:`connect` (kazoo's ``start`` blocks until a server answers) and
:meth:`AsyncZooKeeper.close` (kazoo's ``stop`` joins its connection thread).
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any, Sequence

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import ZnodeStat

from .errors import NoNode
from ._aio.ops import AsyncOps
from ._aio.registering import AsyncRegistrar
from ._aio.views import AsyncChildren, AsyncProperties, AsyncProviders
from ._formats import Format
from ._session import Registration, Selector
from ._session.tls import TLS
from ._tree import Change, TreeInput
from ._tree import ops as tree_ops
from ._types import Progress
from ._steps import has_links
from ._znode.paths import Address, check_path, normalize
from ._zookeeper import ZooKeeper

__all__ = ["connect", "AsyncZooKeeper", "AsyncChildren", "AsyncProperties", "AsyncProviders"]


async def connect(
    connection_string: str | None = None,
    session_timeout: float = 10.0,
    wait: bool = False,
    *,
    auth: Sequence[tuple[str, str]] | None = None,
    read_only: bool = False,
    client: KazooClient | None = None,
    timeout: float = 10.0,
    acl: Sequence[Any] | None = None,
    tls: TLS | bool | None = None,
) -> "AsyncZooKeeper":
    """Open a session (the arguments of :class:`zkservices.ZooKeeper`).

    Runs in the loop's default executor: kazoo's ``start`` blocks until a server
    answers (or ``timeout`` passes), and nothing else can tell when it does.

    :raises FailedConnect: no server answered within ``timeout`` (and ``wait`` is false).
    :raises ValueError: ``client`` was not started, or a bad ``tls``.
    """
    loop = asyncio.get_running_loop()
    make = functools.partial(ZooKeeper, connection_string, session_timeout, wait, auth=auth, read_only=read_only,
                             client=client, timeout=timeout, acl=acl, tls=tls)
    return AsyncZooKeeper(await loop.run_in_executor(None, make))


class AsyncZooKeeper:
    """An asyncio front for :class:`zkservices.ZooKeeper` (``.sync`` is the wrapped helper).

    :param zk: the session; registrations and views made here are the session's own
        (restored and re-armed after a session loss like those made with ``zk``).

    Any number of loops may use one ``AsyncZooKeeper``; each awaited call completes
    on the loop that awaited it.
    """

    def __init__(self, zk: ZooKeeper) -> None:
        self.sync = zk
        self._ops = AsyncOps(zk.core, written=zk.registrar.written)
        self._registrar = AsyncRegistrar(self._ops, zk.registrar)

    # -- reads -----------------------------------------------------------------

    async def get(self, path: str) -> tuple[bytes, ZnodeStat]:
        """The node's raw data and stat (pipelined).

        :raises NoNode: the node is missing.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        try:
            return await self._ops.bridge.call(self.sync.client.get_async, check_path(path))
        except NoNodeError:
            raise NoNode(path) from None

    async def exists(self, path: str) -> ZnodeStat | None:
        """The node's stat, or None when it does not exist (pipelined).

        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._ops.bridge.call(self.sync.client.exists_async, check_path(path))

    async def get_children(self, path: str) -> list[str]:
        """The node's child names (pipelined).

        :raises NoNode: the node is missing.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        try:
            return await self._ops.bridge.call(self.sync.client.get_children_async, check_path(path))
        except NoNodeError:
            raise NoNode(path) from None

    async def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties as a plain dict (links followed, read once), as
        :meth:`zkservices.ZooKeeper.get_properties`.

        One pipelined read; each symbolic link on the way and each property link is
        one more, awaited on the loop.

        :raises NoNode: the node (or a segment of ``path``) is missing.
        :raises BadPropertyLink: a property link is malformed or names a missing
            node or property.
        :raises LinkLoop: links loop.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._ops.get_properties(path)

    async def resolve(self, path: str) -> str:
        """Follow symbolic links in ``path``; the real path (as
        :meth:`zkservices.ZooKeeper.resolve`: ``.`` and ``..`` are resolved first).

        :raises NoNode: a segment is neither a node nor a link.
        :raises LinkLoop: links loop.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._ops.resolve(normalize(path))

    # -- writes ----------------------------------------------------------------

    async def update_properties(self, path: str, **properties: Any) -> None:
        """Merge ``properties`` into the node's properties, compare-and-set, pipelined.

        Writes involving property links (new or existing) resolve ``path`` through
        symbolic links and check the links, as :meth:`zkservices.Properties.update`.

        :raises NoNode: the node is missing.
        :raises NodeDeleted: a node with property links was deleted while written.
        :raises ValueError: the data is not a JSON object, or a value cannot be stored.
        :raises BadPropertyLink: the write would make a property link bad.
        """
        if has_links(properties):  # written through symbolic links, as Properties.update
            real = await self._ops.resolve(check_path(path))
            await self._ops.compare_and_set(real, lambda old: {**old, **properties}, merging=True)
        else:
            await self._ops.compare_and_set(check_path(path), lambda old: {**old, **properties}, merging=True,
                                            missing=NoNode)
        await self._ops.settle()

    # -- registration --------------------------------------------------------------

    async def register_server(self, path: str, address: Address, acl: Sequence[Any] | None = None, *,
                              format: str | Format = "zkservices", **properties: Any) -> Registration:
        """Register this server below ``path`` (see :meth:`zkservices.ZooKeeper.register_server`),
        every round trip awaited on the loop.

        The registration is the session's like any other: restored after a session
        loss, removed by :meth:`unregister` (or by ``Registration.unregister()``,
        which blocks: from a coroutine prefer :meth:`unregister_registration`).

        :raises ValueError: a bad address, format or properties (nothing is written).
        :raises ValueTooLarge: the node's data is too large.
        :raises InvalidPath: ``path`` is not a valid path.
        :raises NotAuthorized: ZooKeeper refuses a create.
        """
        return await self._registrar.register(path, address, acl=acl, properties=properties, format=format)

    async def unregister(self, path: str, address: Address) -> None:
        """Remove a registration made by this session (as :meth:`zkservices.ZooKeeper.unregister`).

        :raises ValueError: a bad address.
        :raises NoNode: ``path`` is not registered here and does not resolve.
        """
        await self._registrar.unregister(path, address)

    async def unregister_registration(self, registration: Registration) -> None:
        """``registration.unregister()`` awaited on the loop (idempotent): its nodes
        are deleted and never come back."""
        await self._registrar.forget(registration)

    # -- views -------------------------------------------------------------------

    async def children(self, path: str) -> AsyncChildren:
        """A self-updating view of ``path``'s children.

        Opened on the session's worker thread, where views are refreshed (its first
        read is ordered with its refreshes), awaited without blocking the loop.

        :raises NoNode: ``path`` does not exist.
        """
        return AsyncChildren(await self._ops.on_worker(self.sync.children, path), self._ops)

    async def properties(self, path: str) -> AsyncProperties:
        """A self-updating view of ``path``'s properties (opened as :meth:`children`).

        :raises NoNode: ``path`` does not exist.
        """
        return AsyncProperties(await self._ops.on_worker(self.sync.properties, path), self._ops)

    async def providers(self, path: str) -> AsyncProviders:
        """A self-updating view of ``path``'s providers in any format (see
        :meth:`zkservices.ZooKeeper.providers`; opened as :meth:`children`).

        :raises NoNode: ``path`` does not exist.
        """
        return AsyncProviders(await self._ops.on_worker(self.sync.providers, path), self._ops)

    async def selector(self, path: str, strategy: str = "round-robin", *, error_threshold: int = 2,
                       down_for: float = 30.0) -> Selector:
        """A :class:`~zkservices.Selector` (see :meth:`zkservices.ZooKeeper.selector`;
        its view is opened as :meth:`children`).

        Its ``get()``, ``note_error()`` and ``lease()`` never wait for ZooKeeper, so
        coroutines call them directly (``async with selector.lease() as provider``
        works as well as ``with``); ``close()`` too.

        :raises NoNode: ``path`` does not exist.
        :raises ValueError: an unknown strategy, a bad threshold or duration.
        """
        make = functools.partial(self.sync.selector, path, strategy, error_threshold=error_threshold,
                                 down_for=down_for)
        return await self._ops.on_worker(make)

    # -- the session -------------------------------------------------------------

    async def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete; False on timeout.
        Polls on the loop (every 10 ms), no thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.sync.wait_recovered(0):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        """Close the session (see :meth:`zkservices.ZooKeeper.close`).

        Runs in the loop's default executor: kazoo's ``stop`` joins its connection
        thread, and the session's worker is joined too.
        """
        await asyncio.get_running_loop().run_in_executor(None, self.sync.close)

    async def __aenter__(self) -> "AsyncZooKeeper":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncZooKeeper {self.sync!r}>"

    # -- trees (the tree steps of the synchronous API, on the awaiting driver) -----

    async def export_tree(self, path: str = "/", ephemeral: bool = False, name: str | None = None,
                          format: str = "text", *, progress: Progress | None = None) -> str:
        """The tree at ``path`` in the text or the YAML form (as
        :meth:`zkservices.ZooKeeper.export_tree`: the same reads, pipelined, awaited
        on the loop; ``progress`` is called on the loop).

        :raises ValueError: an unknown ``format`` or an invalid ``name``.
        :raises NoNodeError: there is no node at ``path`` (or the chroot is missing).
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return await self._ops.run(tree_ops.exporting(path, ephemeral, name, format, progress=progress))

    async def import_tree(self, text: TreeInput, path: str = "/", trim: bool | None = None,
                          acl: Sequence[Any] | None = None, dry_run: bool = False, *,
                          filename: str | None = None, progress: Progress | None = None) -> list[Change]:
        """Import a tree (text or YAML, or a parsed Node) below ``path`` (as
        :meth:`zkservices.ZooKeeper.import_tree`: checked first, written in
        pipelined transactions, planned again when another client changes the tree
        meanwhile), awaited on the loop.

        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises TreeError: naming the line, for a bad tree; nothing is changed.
        :raises TypeError: ``text`` is not a tree, or ``trim`` not True/False/None.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        core = self.sync.core
        done = await self._ops.run(tree_ops.importing(
            text, path, trim, acl, dry_run, filename=filename, progress=progress, auth=core.auth,
            default_acl=core.default_acl()))
        if done and not dry_run:
            await self._ops.settle()
        return done

    async def delete_recursive(self, path: str, dry_run: bool = False, force: bool = False,
                               ignore_if_ephemeral: bool = False) -> list[Change]:
        """Delete ``path`` and everything below it, children first (as
        :meth:`zkservices.ZooKeeper.delete_recursive`), awaited on the loop.

        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises NoNodeError: there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        done = await self._ops.run(tree_ops.deleting(path, dry_run, force, ignore_if_ephemeral))
        if not dry_run:
            await self._ops.settle()
        return done

