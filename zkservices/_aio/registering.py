"""Registrations written through awaited calls, kept in the session's registrar.

Registering, unregistering and forgetting a registration are the steps the
synchronous registrar runs (:mod:`zkservices._steps.registering`: the registrar's
table entered and left the same way, the same nodes created and deleted), awaited
here on the loop; from its recording on a registration is in the registrar's table,
so a session loss restores it like any other.  After a write, the session's views
are let catch up (settled) without blocking the loop.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .._formats import Format
from .._steps.registering import forgetting, unregistering
from .._session.registrar import Registrar, Registration
from .._znode.paths import Address
from .ops import AsyncOps

__all__ = ["AsyncRegistrar"]


class AsyncRegistrar:
    """Register and unregister through ``ops`` (awaited), in ``registrar``'s table."""

    def __init__(self, ops: AsyncOps, registrar: Registrar) -> None:
        self.ops = ops
        self.registrar = registrar

    async def register(self, path: str, address: Address, *, acl: Sequence[Any] | None,
                       properties: Mapping[str, Any], format: str | Format | None) -> Registration:
        """``Registrar.register`` with every round trip awaited (same arguments, same errors)."""
        step = self.registrar.registering(path, address, acl=acl, properties=properties, format=format)
        registration = await self.ops.run(step)
        await self.ops.settle()
        return registration

    async def forget(self, registration: Registration) -> None:
        """``registration.unregister()``, awaited."""
        await self.ops.run(forgetting(self.registrar, registration))
        await self.ops.settle()

    async def unregister(self, path: str, address: Address) -> None:
        """``Registrar.unregister``, awaited: the table first, then the deletes."""
        await self.ops.run(unregistering(self.registrar, path, address))
        await self.ops.settle()

    def __repr__(self) -> str:
        return f"<AsyncRegistrar {self.registrar!r}>"
