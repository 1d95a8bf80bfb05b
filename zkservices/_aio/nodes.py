"""The node calls of :class:`zkservices.ZooKeeper` awaited on the loop: ``create``,
``set``, ``delete`` (recursive too), ``ensure_path`` and ``ln``.

Each is the synchronous call's twin: the same path checks, the same errors
(NoNode naming the missing node, NotAuthorized naming the refused one), the same
return values, and the same settling after a write, so the session's own views
have seen the write when the call returns.  Every round trip goes through the
session's bridge (requests made in one turn of the loop go out together) and is
retried through connection trouble as the synchronous calls are.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import ZnodeStat

from ..errors import NoNode
from .._znode.links import LINK_SUFFIX
from .._znode.paths import check_path, normalize, split
from .._session.retry import authorized
from .ops import AsyncOps

__all__ = ["AsyncNodes"]


class AsyncNodes:
    """The awaited node calls of one session (see the module documentation).

    :param ops: the session's awaited round trips (its bridge, its settling, and
        who is told of writes).
    """

    def __init__(self, ops: AsyncOps) -> None:
        self._ops = ops

    async def create(self, path: str, value: bytes = b"", acl: Any = None, ephemeral: bool = False,
                     sequence: bool = False, makepath: bool = False) -> str:
        """``ZooKeeper.create``: the new node's path (with its sequence suffix)."""
        check_path(path)
        ops = self._ops
        acl = acl if acl is not None else ops.core.default_acl()
        try:
            with authorized("create", path):
                result = await ops.bridge.call(ops.client.create_async, path, value, acl=acl, ephemeral=ephemeral,
                                               sequence=sequence, makepath=makepath)
        except NoNodeError:
            raise NoNode(split(path)[0]) from None
        await ops.settle()
        return result

    async def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        """``ZooKeeper.set``: the node's new stat."""
        check_path(path)
        ops = self._ops
        try:
            with authorized("write", path):
                result = await ops.bridge.call(ops.client.set_async, path, value, version)
        except NoNodeError:
            raise NoNode(path) from None
        if ops.written is not None:
            ops.written(path, value)
        await ops.settle()
        return result

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> bool | None:
        """``ZooKeeper.delete``: True, or None for a recursive delete of a node that existed."""
        check_path(path)
        if not isinstance(recursive, bool):
            raise TypeError("Invalid type for 'recursive' (bool expected)")
        ops = self._ops
        try:
            with authorized("delete", path):
                if recursive:
                    result = await self._delete_tree(path)
                else:
                    result = await ops.bridge.call(ops.client.delete_async, path, version)
        except NoNodeError:
            raise NoNode(path) from None
        await ops.settle()
        return result

    async def _delete_tree(self, path: str) -> bool | None:
        """kazoo's recursive delete, each level's subtrees concurrently: True when
        ``path`` was missing already, else None; nodes gone meanwhile count as deleted."""
        bridge, client = self._ops.bridge, self._ops.client
        try:
            children = await bridge.call(client.get_children_async, path)
        except NoNodeError:
            return True
        if children:
            prefix = path if path == "/" else path + "/"
            outcomes = await asyncio.gather(*(self._delete_tree(prefix + child) for child in children),
                                            return_exceptions=True)
            for outcome in outcomes:  # every subtree done (none left running), then the first error
                if isinstance(outcome, BaseException):
                    raise outcome
        try:
            await bridge.call(client.delete_async, path)
        except NoNodeError:
            pass
        return None

    async def ensure_path(self, path: str, acl: Any = None) -> str | bool:
        """``ZooKeeper.ensure_path``: the path when this call created the node, True
        when it existed."""
        ops = self._ops
        acl = acl if acl is not None else ops.core.default_acl()
        with authorized("create", path):
            result = await ops.bridge.call(ops.client.ensure_path_async, check_path(path), acl)
        await ops.settle()
        return result

    async def ln(self, target: str, source: str) -> None:
        """``ZooKeeper.ln``: ``source`` becomes a symbolic link to ``target``."""
        check_path(source)
        parent, name = split(source)
        if target.endswith("/"):
            target = target + name
        ops = self._ops
        real_parent = await ops.resolve(normalize(parent))
        await ops.compare_and_set(real_parent, lambda old: {**old, name + LINK_SUFFIX: target}, merging=True)
        await ops.settle()

    def __repr__(self) -> str:
        return f"<AsyncNodes {self._ops.core!r}>"
