"""zkservices for asyncio programs.

The same concepts as :class:`zkservices.ZooKeeper`, without blocking the event
loop and without a thread per call: every round trip -- reads, writes, following
links, registering, unregistering -- is sent as kazoo's asynchronous request and
awaited on the running loop, so concurrent awaits are pipelined, and retried through
connection trouble and session expiry like every call of the library.  Views are
opened and refreshed on the session's worker thread, as the synchronous ones are;
their changes arrive as an ``async for`` stream::

    async with zkservices.aio.AsyncZooKeeper("127.0.0.1:2181") as zk:
        await zk.register_server("/svc/providers", ("10.0.0.1", 8080))
        async with await zk.children("/svc/providers") as providers:
            async for names in providers.changes():
                print(sorted(names))

A stream starts with the current state, then yields each new state; when the
consumer is slower than the changes, intermediate states are skipped (it
always gets the latest).  A deleted node yields an empty state and sets the
view's ``deleted``.  ``updates()`` of children and providers yields each state
with the change object a callback of the synchronous view is given
(:class:`~zkservices.ChildrenChange`, :class:`~zkservices.ProvidersChange`).

Every operation of :class:`zkservices.ZooKeeper` that the asyncio front offers has
the same name, arguments, return value and errors here, awaitable where it talks
to ZooKeeper; a write returns once the session's own views have seen it.

Opening and closing run in the loop's default executor because they wait for
kazoo's own threads: opening (``async with AsyncZooKeeper(...)`` or :func:`connect`;
kazoo's ``start`` blocks until a server answers) and :meth:`AsyncZooKeeper.close`
(kazoo's ``stop`` joins its connection thread).
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence, overload

from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.protocol.states import ZnodeStat

from .errors import NoNode, NotAuthorized
from ._aio.nodes import AsyncNodes
from ._aio.ops import AsyncOps
from ._aio.registering import AsyncRegistrar
from ._aio.views import AsyncChildren, AsyncProperties, AsyncProviders
from ._formats import Format, provider_format_argument
from ._session import Registration, Selector
from ._session.tls import TLS
from ._tree import Change, TreeInput
from ._tree import ops as tree_ops
from ._types import Progress
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
    resync_jitter: float = 0.0,
) -> "AsyncZooKeeper":
    """Open a session (the arguments of :class:`zkservices.ZooKeeper`).

    Runs in the loop's default executor: kazoo's ``start`` blocks until a server
    answers (or ``timeout`` passes), and nothing else can tell when it does.

    :raises FailedConnect: no server answered within ``timeout`` (and ``wait`` is false).
    :raises ValueError: ``client`` was not started, or a bad ``tls``.
    """
    zk = AsyncZooKeeper(connection_string, session_timeout, wait, auth=auth, read_only=read_only, client=client,
                        timeout=timeout, acl=acl, tls=tls, resync_jitter=resync_jitter)
    await zk._open()
    return zk


#: What an AsyncZooKeeper has once its session is open.
_OPENED = frozenset({"sync", "_ops", "_registrar", "_nodes"})


class AsyncZooKeeper:
    """An asyncio front for :class:`zkservices.ZooKeeper` (``.sync`` is the wrapped helper).

    ``async with AsyncZooKeeper(connection_string, ...) as zk:`` opens a session (the
    arguments of :class:`zkservices.ZooKeeper`) without blocking the loop and closes it
    at the end; :func:`connect` opens one as well.  ``AsyncZooKeeper(zk)`` wraps the
    open :class:`zkservices.ZooKeeper` ``zk`` instead: registrations and views made
    here are then the session's own (restored and re-armed after a session loss like
    those made with ``zk``).

    Any number of loops may use one ``AsyncZooKeeper``; each awaited call completes
    on the loop that awaited it.  Before the session is open its calls raise
    RuntimeError.

    :raises TypeError: both a ``ZooKeeper`` and connection options.
    """

    sync: ZooKeeper
    _ops: AsyncOps
    _registrar: AsyncRegistrar
    _nodes: AsyncNodes

    def __init__(
        self,
        connection_string: "str | ZooKeeper | None" = None,
        session_timeout: float = 10.0,
        wait: bool = False,
        *,
        auth: Sequence[tuple[str, str]] | None = None,
        read_only: bool = False,
        client: KazooClient | None = None,
        timeout: float = 10.0,
        acl: Sequence[Any] | None = None,
        tls: TLS | bool | None = None,
        resync_jitter: float = 0.0,
        zk: ZooKeeper | None = None,
    ) -> None:
        if isinstance(connection_string, ZooKeeper):
            zk, connection_string = _alone(zk is None, connection_string), None
        self._opening: asyncio.Lock | None = None
        self._connect: Callable[[], ZooKeeper] | None = None
        if zk is not None:
            options = (connection_string, session_timeout, wait, auth, read_only, client, timeout, acl, tls,
                       resync_jitter)
            self._wrap(_alone(options == (None, 10.0, False, None, False, None, 10.0, None, None, 0.0), zk))
        else:
            self._connect = functools.partial(ZooKeeper, connection_string, session_timeout, wait, auth=auth,
                                              read_only=read_only, client=client, timeout=timeout, acl=acl, tls=tls,
                                              resync_jitter=resync_jitter)

    def _wrap(self, zk: ZooKeeper) -> None:
        self.sync = zk
        self._ops = AsyncOps(zk.core, written=zk.registrar.written)
        self._registrar = AsyncRegistrar(self._ops, zk.registrar)
        self._nodes = AsyncNodes(self._ops)
        self._connect = None

    async def _open(self) -> None:
        """Open the session in the loop's default executor (once; later calls return)."""
        if self._connect is None:
            return
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            connect = self._connect
            if connect is not None:
                self._wrap(await asyncio.get_running_loop().run_in_executor(None, connect))

    if not TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any:  # only for what is missing: the session before it is open
            if name in _OPENED:
                raise RuntimeError(f"{self!r} is not open: use `async with AsyncZooKeeper(...)` or "
                                   "`await zkservices.aio.connect(...)`")
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        except NoAuthError:
            raise NotAuthorized(path, "read") from None

    async def exists(self, path: str) -> ZnodeStat | None:
        """The node's stat, or None when it does not exist (pipelined).

        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._ops.bridge.call(self.sync.client.exists_async, check_path(path))

    @overload
    async def get_children(self, path: str, *, include_data: Literal[False] = False) -> list[str]: ...

    @overload
    async def get_children(self, path: str, *, include_data: Literal[True]) -> tuple[list[str], ZnodeStat]: ...

    @overload
    async def get_children(self, path: str, *,
                           include_data: bool = False) -> list[str] | tuple[list[str], ZnodeStat]: ...

    async def get_children(self, path: str, *,
                           include_data: bool = False) -> list[str] | tuple[list[str], ZnodeStat]:
        """The node's child names, unsorted, as kazoo returns them; with ``include_data``
        (keyword-only: the synchronous call's second parameter is a kazoo watcher), a
        ``(names, stat)`` pair (pipelined).

        :raises NoNode: the node is missing.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        call = self._ops.bridge.call
        try:
            if include_data:
                return await call(self.sync.client.get_children_async, check_path(path), include_data=True)
            return await call(self.sync.client.get_children_async, check_path(path))
        except NoNodeError:
            raise NoNode(path) from None
        except NoAuthError:
            raise NotAuthorized(path, "list") from None

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
        await self._ops.update_properties(path, properties)
        await self._ops.settle()

    # -- node calls (as zkservices.ZooKeeper's: same arguments, results, errors) -------

    async def create(self, path: str, value: bytes = b"", acl: Any = None, ephemeral: bool = False,
                     sequence: bool = False, makepath: bool = False) -> str:
        """Create a node with raw data; its path (with the sequence suffix), as
        :meth:`zkservices.ZooKeeper.create`.

        :raises NoNode: the parent is missing (without ``makepath``); it names the parent.
        :raises NotAuthorized: ZooKeeper refuses the create.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._nodes.create(path, value, acl, ephemeral, sequence, makepath)

    async def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        """Replace a node's raw data (``version``: only if it still has that version); its
        new stat, as :meth:`zkservices.ZooKeeper.set`.

        :raises NoNode: the node is missing.
        :raises NotAuthorized: ZooKeeper refuses the write.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._nodes.set(path, value, version)

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> bool | None:
        """Delete a node (``recursive``: with everything below it, each level pipelined),
        as :meth:`zkservices.ZooKeeper.delete`: True, or None for a recursive delete of a
        node that existed.

        :raises NoNode: the node is missing (not when ``recursive``).
        :raises NotAuthorized: ZooKeeper refuses a delete.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._nodes.delete(path, version, recursive)

    async def ensure_path(self, path: str, acl: Any = None) -> str | bool:
        """Create ``path`` and its missing parents (empty data, the default ACL unless
        ``acl``), as :meth:`zkservices.ZooKeeper.ensure_path`: the path when this call
        created the node, True when it existed already.

        :raises NotAuthorized: ZooKeeper refuses a create.
        :raises InvalidPath: ``path`` is not a valid path.
        """
        return await self._nodes.ensure_path(path, acl)

    async def ln(self, target: str, source: str) -> None:
        """Make ``source`` a symbolic link to ``target``, as :meth:`zkservices.ZooKeeper.ln`
        (a ``target`` ending in ``/`` gets the source's name appended).

        :raises NoNode: ``source``'s parent does not exist.
        :raises InvalidPath: ``source`` is not a valid path.
        """
        await self._nodes.ln(target, source)

    # -- registration --------------------------------------------------------------

    async def register_server(self, path: str, address: Address, acl: Sequence[Any] | None = None, *,
                              provider_format: str | Format | None = None, **properties: Any) -> Registration:
        """Register this server below ``path``, the providers node (see
        :meth:`zkservices.ZooKeeper.register_server`; ``format=`` is the deprecated
        spelling of ``provider_format=``), every round trip awaited on the loop.

        The registration is the session's like any other: restored after a session
        loss, removed by :meth:`unregister` (or by ``Registration.unregister()``,
        which blocks: from a coroutine prefer :meth:`unregister_registration`).

        :raises ValueError: a bad address, format or properties (nothing is written).
        :raises TypeError: both ``provider_format`` and ``format`` were given.
        :raises ValueTooLarge: the node's data is too large.
        :raises InvalidPath: ``path`` is not a valid path.
        :raises NotAuthorized: ZooKeeper refuses a create.
        """
        provider_format = provider_format_argument(provider_format, properties)
        return await self._registrar.register(path, address, acl=acl, properties=properties, format=provider_format)

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

    async def children(self, path: str, *, missing_ok: bool = False) -> AsyncChildren:
        """A self-updating view of ``path``'s children.

        Opened on the session's worker thread, where views are refreshed (its first
        read is ordered with its refreshes), awaited without blocking the loop.

        :raises NoNode: ``path`` does not exist, unless ``missing_ok`` (as for
            :meth:`zkservices.ZooKeeper.children`: the view starts empty and deleted,
            and fills once the node appears).
        """
        view = await self._ops.on_worker(functools.partial(self.sync.children, path, missing_ok=missing_ok))
        return AsyncChildren(view, self._ops)

    async def properties(self, path: str, watch: bool = True, *, missing_ok: bool = False) -> AsyncProperties:
        """A self-updating view of ``path``'s properties (opened as :meth:`children`;
        ``watch=False``: read once, no stream).

        :raises NoNode: ``path`` does not exist, unless ``missing_ok`` (as for :meth:`children`).
        """
        view = await self._ops.on_worker(functools.partial(self.sync.properties, path, watch, missing_ok=missing_ok))
        return AsyncProperties(view, self._ops)

    async def providers(self, path: str, *, missing_ok: bool = False) -> AsyncProviders:
        """A self-updating view of ``path``'s providers in any format (see
        :meth:`zkservices.ZooKeeper.providers`; opened as :meth:`children`).

        :raises NoNode: ``path`` does not exist, unless ``missing_ok`` (as for :meth:`children`).
        """
        view = await self._ops.on_worker(functools.partial(self.sync.providers, path, missing_ok=missing_ok))
        return AsyncProviders(view, self._ops)

    async def selector(self, path: str, strategy: str = "round-robin", *, error_threshold: int = 2,
                       down_for: float = 30.0) -> Selector:
        """A :class:`~zkservices.Selector` (see :meth:`zkservices.ZooKeeper.selector`;
        its view is opened as :meth:`children`).

        The same class as the synchronous front's: nothing of it waits once made, so
        coroutines call ``get()``, ``note_error()``, ``lease()`` (``async with
        selector.lease() as provider`` works as well as ``with``) and ``close()``
        directly on the loop; ``async with selector:`` closes it.

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
        thread, and the session's worker is joined too.  Nothing to do for a session
        never opened.
        """
        if "sync" in vars(self):
            await asyncio.get_running_loop().run_in_executor(None, self.sync.close)

    async def __aenter__(self) -> "AsyncZooKeeper":
        """Open the session (unless open already, e.g. from :func:`connect`).

        :raises FailedConnect: no server answered within ``timeout`` (and ``wait`` is false).
        """
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        zk = vars(self).get("sync")
        return f"<AsyncZooKeeper {zk!r}>" if zk is not None else "<AsyncZooKeeper not open>"

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


def _alone(alone: bool, zk: ZooKeeper) -> ZooKeeper:
    if not alone:
        raise TypeError("AsyncZooKeeper(zk) wraps an open ZooKeeper: pass it alone, without connection options")
    return zk
