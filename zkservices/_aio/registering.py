"""Registrations written through awaited calls, kept in the session's registrar.

A registration is checked and recorded in the registrar's table (``plan_registration``,
``Registrar.record``) exactly as the synchronous ``register`` does; from then on the
registration is in its table, so a session loss restores it like any other.  The
nodes are then created here (each reported with ``Registrar.created``; unregistering
takes them out with ``Registrar.forget_*`` before the deletes) with the round trips of
``Registrar.register`` and
:func:`~zkservices._session.members.create_member`, awaited on the loop: a node of
another session is replaced, a sequential member whose create may have happened
unseen is looked for before trying again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping, Sequence

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from .._formats import Format
from .._steps.curator import check_curator_directory
from .._session.registrar import Registrar, Registration, address_names
from .._session.members import candidates, choose_member, member_parent
from .._session.registration import plan_registration
from .._session.retry import authorized
from .._znode.paths import Address, join
from .ops import AsyncOps

__all__ = ["AsyncRegistrar"]

log = logging.getLogger("zkservices.registration")


class AsyncRegistrar:
    """Register and unregister through ``ops`` (awaited), in ``registrar``'s table."""

    def __init__(self, ops: AsyncOps, registrar: Registrar) -> None:
        self.ops = ops
        self.registrar = registrar

    async def register(self, path: str, address: Address, *, acl: Sequence[Any] | None,
                       properties: Mapping[str, Any], format: str | Format | None) -> Registration:
        """``Registrar.register`` with every round trip awaited (same arguments, same errors)."""
        registrar = self.registrar
        plan = plan_registration(path, address, properties=properties, format=format)
        real = await self.ops.resolve_or_create(path)
        if plan.format.name == "zkservices":
            await self.ops.run(check_curator_directory(real, properties))
        registration = registrar.record(plan, real, acl=acl)
        try:
            for node in registration.nodes:
                created = await (self._put_member(node) if node.prefix is not None else self._put(node))
                registrar.created(node, created)
        except BaseException:
            await self.forget(registration)
            raise
        await self.ops.settle()
        return registration

    async def forget(self, registration: Registration) -> None:
        """``registration.unregister()``, awaited."""
        if not registration.active:
            return
        registration.active = False
        await self.ops.delete(self.registrar.forget_nodes(registration.nodes))
        await self.ops.settle()

    async def unregister(self, path: str, address: Address) -> None:
        """``Registrar.unregister``, awaited: the table first, then the deletes."""
        paths = self.registrar.forget_known(path, address)
        if paths is None:
            real = await self.ops.resolve(path)
            paths = self.registrar.forget_paths([join(real, name) for name in sorted(address_names(address))])
        await self.ops.delete(paths)
        await self.ops.settle()

    # -- one node ------------------------------------------------------------------

    async def _put(self, node: Any) -> str:
        """Create ``node`` as ours, replacing a node of another session (``Registrar._put``)."""
        ops, client, core = self.ops, self.ops.client, self.ops.core
        call = ops.bridge.call
        while True:
            try:
                with authorized("create", node.path):
                    await call(client.create_async, node.path, node.data, acl=node.acl, ephemeral=node.ephemeral,
                               makepath=True)
                return node.path
            except NodeExistsError:
                pass
            try:
                data, stat = await call(client.get_async, node.path)
            except NoNodeError:
                continue
            if stat.ephemeralOwner == (core.session_id if node.ephemeral else 0) and data == node.data:
                return node.path
            if stat.ephemeralOwner == core.session_id:
                if data != node.data:
                    await call(client.set_async, node.path, node.data)
                return node.path
            log.warning("%s exists under another session (0x%x); replacing it", node.path, stat.ephemeralOwner)

            def replace(stat: Any = stat) -> "asyncio.Future[Any]":
                transaction = client.transaction()
                transaction.delete(node.path, version=stat.version)
                transaction.create(node.path, node.data, acl=node.acl, ephemeral=node.ephemeral)
                return ops.bridge.send(transaction.commit_async)

            with authorized("replace", node.path):
                results = await ops.bridge.retry(replace)
            if not any(isinstance(r, Exception) for r in results):
                return node.path
            if not any(isinstance(r, (BadVersionError, NoNodeError, NodeExistsError)) for r in results):
                with authorized("replace", node.path):
                    raise next(r for r in results if isinstance(r, Exception))

    async def _put_member(self, node: Any) -> str:
        """Create the sequential ``node`` once (``members.create_member``): an attempt
        after a transient error first looks for a member an unseen create made.  Each
        attempt holds the node's lock (the restore after a session loss takes it too),
        never while waiting for the session."""
        ops, client, core = self.ops, self.ops.client, self.ops.core
        send = ops.bridge.send
        tried = False

        async def attempt() -> str:
            nonlocal tried
            while not node.lock.acquire(blocking=False):
                await asyncio.sleep(0.005)
            try:
                if node.path is not None:
                    stat = await send(client.exists_async, node.path)
                    if stat is not None and stat.ephemeralOwner == core.session_id:
                        return str(node.path)
                    if stat is not None:
                        try:
                            await send(client.delete_async, node.path, stat.version)
                        except NoNodeError:
                            pass
                if tried:
                    found = await self._find_own_member(node)
                    if found is not None:
                        return found
                tried = True
                with authorized("create", node.prefix):
                    return str(await send(client.create_async, node.prefix, node.data, acl=node.acl, ephemeral=True,
                                          sequence=True, makepath=True))
            finally:
                node.lock.release()

        return str(await ops.bridge.retry(attempt))

    async def _find_own_member(self, node: Any) -> str | None:
        """``members.find_own_member``, awaited (raises transient errors to the attempt)."""
        ops, client = self.ops, self.ops.client
        names = await ops.bridge.send(client.get_children_async, member_parent(node))
        paths = candidates(node, names, self.registrar.owned_paths())
        results = await asyncio.gather(*(ops.bridge.send(client.get_async, p) for p in paths), return_exceptions=True)
        reads = []
        for path, result in zip(paths, results):
            if isinstance(result, NoNodeError):
                continue
            if isinstance(result, BaseException):
                raise result
            data, stat = result
            reads.append((path, data, stat))
        found, extra = choose_member(node, ops.core.session_id, reads)
        for path in extra:
            try:
                await ops.bridge.send(client.delete_async, path)
            except NoNodeError:
                pass
        return found

    def __repr__(self) -> str:
        return f"<AsyncRegistrar {self.registrar!r}>"

