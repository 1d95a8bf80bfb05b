"""Self-updating views of a node: :class:`Children` and :class:`Properties`.

A view keeps a copy of the node's children or properties that is refreshed
whenever ZooKeeper reports a change.  kazoo calls our watcher on its event
thread; the watcher only asks the owner's worker for a refresh, and the
worker reads the node (re-arming the watch) and calls the callbacks, in order.

Watches are one-shot in ZooKeeper and kazoo forgets them when the connection
drops or the session expires (it then calls each watcher with an event of type
NONE); every event, NONE included, leads to a refresh that retries until the
client is connected again -- or, for a view that watches one node and whose
state is as of its last read, that is re-armed with many others by one SetWatches
(see :class:`~zkservices._session.viewset.ViewSet`).  Callbacks are called only
when what they see changed.  What views share is in :mod:`.viewbase`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from kazoo.exceptions import NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NodeDeleted
from .._znode.encoding import decode
from .._znode.links import PROPERTY_LINK_SUFFIX, follow_property, linked_names
from .callbacks import Callback
from .viewbase import View as _View
from .writes import compare_and_set

__all__ = ["Children", "Properties", "ChildrenChange"]

log = logging.getLogger("zkservices.views")

class ChildrenChange:
    """What changed between two calls of a :class:`Children` callback: the names
    ``added`` and ``removed`` (frozensets).

    A change handed to a callback is computed when first asked for: a view over
    many children compares the old and new names only for callbacks that look.
    Compared and hashed by value; immutable.
    """

    __slots__ = ("_added", "_removed", "_old", "_new")
    __match_args__ = ("added", "removed")

    def __init__(self, added: Iterable[str] = frozenset(), removed: Iterable[str] = frozenset()) -> None:
        self._added: frozenset[str] | None = frozenset(added)
        self._removed: frozenset[str] | None = frozenset(removed)
        self._old: Sequence[str] = ()
        self._new: Sequence[str] = ()

    @classmethod
    def between(cls, old: Sequence[str], new: Sequence[str]) -> "ChildrenChange":
        """The change from the names ``old`` to the names ``new`` (computed lazily)."""
        change = cls.__new__(cls)
        change._added = change._removed = None
        change._old, change._new = old, new
        return change

    def _compute(self) -> None:
        before, after = frozenset(self._old), frozenset(self._new)
        added = after - before
        # as many names before as kept now: none removed (a child added), no second difference
        self._removed = before - after if len(before) != len(after) - len(added) else frozenset()
        self._added = added
        self._old = self._new = ()

    @property
    def added(self) -> frozenset[str]:
        """Names that are children now and were not before."""
        added = self._added
        if added is None:
            self._compute()
            added = self._added
        return added  # type: ignore[return-value]

    @property
    def removed(self) -> frozenset[str]:
        """Names that were children before and are not now."""
        removed = self._removed
        if removed is None:
            self._compute()
            removed = self._removed
        return removed  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChildrenChange):
            return NotImplemented
        return self.added == other.added and self.removed == other.removed

    def __hash__(self) -> int:
        return hash((self.added, self.removed))

    def __repr__(self) -> str:
        return f"ChildrenChange(added={self.added!r}, removed={self.removed!r})"


@dataclass(frozen=True)
class _LinkError:
    """A bad property link as stored in a view's state: compared by value.

    (Storing the exception itself made every refresh look like a change,
    since exceptions compare by identity: callbacks ran for non-changes,
    e.g. after each reconnect.)
    """

    kind: type
    args: tuple


_NO_LINKS: dict = {}  # the links of every Properties view without any (shared: never modified)


class Children(_View):
    """The names of a node's children, always current (iterable, sized, container).

    Callbacks get the view, and a :class:`ChildrenChange` when they take a
    second parameter; when the node is deleted they are called with no
    arguments where their signature allows.  Iteration is in name order.
    """

    _kind = "children"
    # The names as the server sent them (a list), or sorted (a tuple): sorted
    # when first iterated, so that a change costs one read and no sort.
    _state: "list[str] | tuple[str, ...]" = ()

    def _start_fetch(self) -> Any:
        return self._core.client.get_children_async(self.real_path, watch=self._watch())

    def _finish_fetch(self, result: Any) -> list[str]:
        return result.get()

    def _empty(self) -> tuple[str, ...]:
        return ()

    def _differs(self, old: Any, new: Any) -> bool:
        if len(old) != len(new):
            return True
        if type(old) is type(new) and old == new:
            return False
        return set(old) != set(new)  # same length, another order (or a rename)

    def _rewatch_plan(self) -> tuple[bool, str] | None:
        if self.deleted or self._watched_paths or self._prefetched is not None or not self.watching:
            return None
        return (False, self.real_path)

    def _names(self) -> tuple[str, ...]:
        """The names, sorted (sorting once per change, when first asked)."""
        state = self._state
        if isinstance(state, tuple):
            return state
        ordered = tuple(sorted(state))
        with self._lock:
            if self._state is state:
                self._state = ordered
        return ordered

    def _call_one(self, callback: Callback, old: Any, new: Any, deleted: bool) -> None:
        if deleted and callback.min_args == 0:
            callback()
            return
        if callback.max_args < 2:  # the change is computed only for callbacks that take it
            callback(self)
            return
        callback(self, ChildrenChange.between(old, new))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, name: object) -> bool:
        return name in self._state

    def __repr__(self) -> str:
        return f"<Children {self._status()} {list(self._names())!r}>"


class Properties(_View, Mapping[str, Any]):
    """A node's JSON properties as a mapping, always current (unless ``watch=False``).

    Writes (:meth:`update`, :meth:`set`, item assignment and deletion) are
    version-checked compare-and-set loops: concurrent writers lose nothing.
    """

    _kind = "properties"
    _state: tuple[dict, dict] = ({}, _NO_LINKS)  # (own properties, {linked name: value or error})

    # -- reading -------------------------------------------------------

    def _start_fetch(self) -> Any:
        return self._core.client.get_async(self.real_path, watch=self._watch())

    def _finish_fetch(self, result: Any) -> tuple[dict, dict]:
        data, _stat = result.get()
        own = decode(data)
        return own, self._follow_links(own)

    def _follow_links(self, own: dict) -> dict:
        if not any(key.endswith(PROPERTY_LINK_SUFFIX) for key in own):
            return _NO_LINKS
        linked: dict[str, Any] = {}
        watch = self._watch()
        client = self._core.client

        def read(path: str) -> dict | None:
            if path == self.real_path:
                return own
            try:
                data, _ = client.get(path, watch=watch)
            except NoNodeError:
                if watch is not None:
                    client.exists(path, watch=watch)
                return None
            return decode(data)

        def resolve_path(path: str) -> str:
            try:
                return self._core.resolve(path)
            except NoNodeError:
                # The link's target node is missing: watch for its creation.
                # (Without this, a link whose target was deleted and created
                # again stayed bad in the view until something else changed.)
                if watch is not None:
                    client.exists(path, watch=watch)
                    self._note_watched(path)
                raise

        def visit(path: str) -> None:
            self._note_watched(path)

        for name in linked_names(own):
            try:
                linked[name] = follow_property(
                    self.real_path, own, name, read=read, resolve_path=resolve_path, visit=visit
                )
            except (BadPropertyLink, LinkLoop) as exc:
                linked[name] = _LinkError(type(exc), exc.args)
        return linked

    def _empty(self) -> tuple[dict, dict]:
        return ({}, _NO_LINKS)

    def _rewatch_plan(self) -> tuple[bool, str] | None:
        if (self.deleted or self._watched_paths or self._state[1] or self._prefetched is not None
                or not self.watching):
            return None
        return (True, self.real_path)

    def __getitem__(self, key: str) -> Any:
        own, linked = self._state
        if key in own:
            return own[key]
        if key + PROPERTY_LINK_SUFFIX in own:
            value = linked.get(key)
            if isinstance(value, _LinkError):
                raise value.kind(*value.args)
            return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        own, _ = self._state
        for key in own:
            if key.endswith(PROPERTY_LINK_SUFFIX):
                name = key[: -len(PROPERTY_LINK_SUFFIX)]
                if name not in own:
                    yield name
            else:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        own, _ = self._state
        return isinstance(key, str) and (key in own or key + PROPERTY_LINK_SUFFIX in own)

    def _call_one(self, callback: Callback, old: Any, new: Any, deleted: bool) -> None:
        if deleted and callback.min_args == 0:
            callback()
        else:
            callback(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._state[0]) == dict(other) if not isinstance(other, Properties) else self._state == other._state
        return NotImplemented

    # Views are compared by content but hashed by identity: the owner keeps them in sets.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<Properties {self._status()} {self._state[0]!r}>"

    # -- writing -------------------------------------------------------

    def update(self, *args: Mapping[str, Any], **properties: Any) -> None:
        """Merge properties into the node (keyword arguments win over the mapping)."""
        new = _merge_args("update", args, properties)
        self._write(lambda old: {**old, **new}, merging=True)

    def set(self, *args: Mapping[str, Any], **properties: Any) -> None:
        """Replace all properties of the node (``set()`` stores ``{}``)."""
        new = _merge_args("set", args, properties)
        self._write(lambda old: new, merging=False)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        def without(old: dict) -> dict:
            if key not in old and key + PROPERTY_LINK_SUFFIX not in old:
                raise KeyError(key)
            return {k: v for k, v in old.items() if k not in (key, key + PROPERTY_LINK_SUFFIX)}

        self._write(without, merging=True)

    def _write(self, make: Callable[[dict], dict], *, merging: bool) -> None:
        if self.closed:
            raise ValueError(f"{self!r} is closed")
        if self.deleted:
            raise NodeDeleted(f"{self.real_path} was deleted; not re-creating it")
        data = compare_and_set(self._core, self.real_path, make, merging=merging, written=self._written)
        if not self.watching:
            own = decode(data)
            self._state = (own, self._follow_links(own))
        self._core.settle()


def _merge_args(what: str, args: tuple, properties: dict) -> dict:
    if len(args) > 1:
        raise TypeError(f"{what}() takes at most one positional mapping")
    new = dict(args[0]) if args else {}
    new.update(properties)
    return new

