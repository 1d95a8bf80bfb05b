"""The async views: a synchronous view of the session underneath, streams of its
changes for ``async for`` (:mod:`.streams`), writes awaited on the loop.

A view is refreshed on the session's worker thread as every view is (and re-armed
after a session loss by the view registry); its streams are callbacks of it.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Callable, Generic, Iterator, Mapping, TypeVar

from ..errors import BadPropertyLink, LinkLoop, NodeDeleted
from .._formats import Provider
from .._session.providers import Providers, ProvidersChange
from .._session.views import Children, ChildrenChange, Properties
from .ops import AsyncOps
from .streams import states, with_changes

__all__ = ["AsyncChildren", "AsyncProperties", "AsyncProviders"]

log = logging.getLogger("zkservices.aio")

V = TypeVar("V", Children, Properties, Providers)
S = TypeVar("S")
A = TypeVar("A", bound="_AsyncView[Any, Any]")


class _AsyncView(Generic[V, S]):
    """What the async views share: the wrapped view (``view``), a stream of
    changes, an async lifecycle."""

    def __init__(self, view: V, ops: AsyncOps) -> None:
        self.view: V = view
        self._ops = ops

    @property
    def path(self) -> str:
        """The path the view was made for."""
        return self.view.path

    @property
    def real_path(self) -> str:
        """The node the view reads (links followed)."""
        return self.view.real_path

    @property
    def deleted(self) -> bool:
        """Whether the node is deleted now."""
        return self.view.deleted

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.view.closed

    def _snapshot(self) -> S:
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        return iter(self.view)

    def __len__(self) -> int:
        return len(self.view)

    def __contains__(self, name: object) -> bool:
        return name in self.view

    def changes(self) -> AsyncIterator[S]:
        """Yield the current state, then every new state (latest wins when behind).

        The stream is a callback of the view, added on the session's worker (awaited,
        no executor) and removed when the iteration ends.

        :raises ValueError: the view is closed.
        """
        return states(self.view, self._ops, self._snapshot)

    async def close(self) -> None:
        """Stop watching; streams from :meth:`changes` end.  Waits for nothing."""
        self.view.close()

    async def __aenter__(self: A) -> A:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.view!r}>"


class AsyncChildren(_AsyncView[Children, "tuple[str, ...]"]):
    """Children of a node; ``changes()`` yields sorted tuples of names, ``updates()``
    those with the :class:`~zkservices.ChildrenChange` a callback of the view gets."""

    def _snapshot(self) -> tuple[str, ...]:
        return tuple(self.view)

    def updates(self) -> AsyncIterator[tuple[tuple[str, ...], ChildrenChange]]:
        """Yield ``(names, change)``: the states of :meth:`changes`, each with the
        :class:`~zkservices.ChildrenChange` a callback of the view gets for it -- the
        first from no names, one that follows a deletion to ``()`` (``deleted`` is then
        set).  When behind, states are skipped and the change covers everything since
        the pair before (empty when what happened cancelled out).

        :raises ValueError: the view is closed.
        """
        return with_changes(self.view, self._ops, self._snapshot, (), ChildrenChange.between)


class AsyncProperties(_AsyncView[Properties, "dict[str, Any]"]):
    """Properties of a node; ``changes()`` yields plain dicts; writes are awaitable."""

    def _snapshot(self) -> dict[str, Any]:
        # A property link that is broken (or loops) is left out and logged, as
        # ServerSet does: raising here would remove the stream's callback, and the
        # stream would then wait forever without a word.
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
        """Merge properties into the node, compare-and-set (as :meth:`zkservices.Properties.update`),
        every round trip awaited on the loop.

        :raises NodeDeleted: the node was deleted.
        :raises ValueError: the view is closed, the node's data is not a JSON object, or
            a value cannot be stored.
        :raises BadPropertyLink: the write would make a property link bad.
        :raises TypeError: more than one positional mapping.
        """
        new = _merge_args("update", args, properties)
        await self._write(lambda old: {**old, **new}, merging=True)

    async def set(self, *args: Mapping[str, Any], **properties: Any) -> None:
        """Replace all properties of the node (as :meth:`zkservices.Properties.set`),
        awaited on the loop; raises as :meth:`update` does."""
        new = _merge_args("set", args, properties)
        await self._write(lambda old: new, merging=False)

    async def _write(self, make: Callable[[dict], dict], *, merging: bool) -> None:
        view = self.view
        if view.closed:
            raise ValueError(f"{view!r} is closed")
        if view.deleted:
            raise NodeDeleted(f"{view.real_path} was deleted; not re-creating it")
        await self._ops.compare_and_set(view.real_path, make, merging=merging)
        await self._ops.settle()


class AsyncProviders(_AsyncView[Providers, "dict[str, Provider]"]):
    """Providers of a service; ``changes()`` yields dicts name → :class:`~zkservices.Provider`."""

    def _snapshot(self) -> dict[str, Provider]:
        return dict(self.view.snapshot())

    def updates(self) -> AsyncIterator[tuple[dict[str, Provider], ProvidersChange]]:
        """Yield ``(providers, change)``: the states of :meth:`changes`, each with the
        :class:`~zkservices.ProvidersChange` a callback of the view gets for it (the
        first from no providers); when behind, the change covers everything since the
        pair before, as :meth:`AsyncChildren.updates` does.

        :raises ValueError: the view is closed.
        """
        return with_changes(self.view, self._ops, self._snapshot, {}, ProvidersChange.between)

    def __getitem__(self, name: str) -> Provider:
        return self.view[name]


def _merge_args(what: str, args: tuple[Mapping[str, Any], ...], properties: dict[str, Any]) -> dict[str, Any]:
    if len(args) > 1:
        raise TypeError(f"{what}() takes at most one positional mapping")
    new = dict(args[0]) if args else {}
    new.update(properties)
    return new
