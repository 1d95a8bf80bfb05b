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

import logging
from typing import Any, Mapping, Sequence

from .._formats import Format
from .._steps.curator import check_curator_directory
from .._steps.registering import create_member, put_node
from .._session.registrar import Registrar, Registration, address_names
from .._session.registration import plan_registration
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
        """Create ``node`` as ours, replacing a node of another session (the step ``Registrar._put`` runs)."""
        core = self.ops.core
        return await self.ops.run(put_node(node, lambda: core.session_id))

    async def _put_member(self, node: Any) -> str:
        """Create the sequential ``node`` once (the step ``members.create_member`` runs):
        an attempt after a transient error first looks for a member an unseen create
        made.  Each attempt holds the node's lock (the restore after a session loss
        takes it too), never while waiting for the session."""
        core = self.ops.core
        return await self.ops.run(create_member(node, lambda: core.session_id, owned=self.registrar.owned_paths))

    def __repr__(self) -> str:
        return f"<AsyncRegistrar {self.registrar!r}>"

