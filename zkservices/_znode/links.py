"""Symbolic links (``'name ->': target``) and property links (``'name =>': 'path [prop]'``).

Both kinds of relative target are resolved from the node that holds the link:
on ``/a``, ``b -> c`` names ``/a/c`` and ``b -> ../c`` names ``/c``; a property
link ``t => ../cms threads`` on ``/fooservice`` reads property ``threads`` of
``/cms``.  A real child always wins over a link of the same name.

The algorithms are written once, without I/O, as generators (:func:`resolving`,
:func:`following`) that yield the questions they need answered -- a node's
properties (:class:`ReadProperties`), whether it exists (:class:`NodeExists`), a
path with its links followed (:class:`Resolve`) -- and are sent the answers (or
have the error thrown in).  :func:`answer` runs one over plain functions (a view's
watched reads, a tree held in memory: :func:`resolve`, :func:`follow_property`);
:func:`serve` over a function that is itself such a generator (the session's reads
as round trips, for the blocking and the awaiting drivers alike).
"""

from __future__ import annotations

from typing import Any, Callable, Generator, Iterator, Mapping, NamedTuple, Union

from kazoo.exceptions import NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NoNode
from .paths import check_path, join
from .stepping import advance

__all__ = [
    "resolve", "resolving", "follow_property", "following", "linked_names", "parse_property_link",
    "ReadProperties", "NodeExists", "Resolve", "Query", "answer", "serve",
    "LINK_SUFFIX", "PROPERTY_LINK_SUFFIX", "MAX_LINK_DEPTH",
]

LINK_SUFFIX = " ->"
PROPERTY_LINK_SUFFIX = " =>"
MAX_LINK_DEPTH = 64

# (path) -> properties dict or None when the node does not exist
Reader = Callable[[str], "dict | None"]


class ReadProperties(NamedTuple):
    """Asked: the decoded properties of ``path`` (None: no such node)."""

    path: str


class NodeExists(NamedTuple):
    """Asked: whether ``path`` exists."""

    path: str


class Resolve(NamedTuple):
    """Asked: ``path`` with its symbolic links followed (raises NoNodeError, LinkLoop, ValueError)."""

    path: str


Query = Union[ReadProperties, NodeExists, Resolve]

#: A link algorithm: yields queries, is sent their answers, returns its result.
Asking = Generator[Query, Any, Any]


def answer(step: Generator[Any, Any, Any], read: Reader, exists: Callable[[str], bool] | None = None,
           resolve_path: Callable[[str], str] | None = None) -> Any:
    """Run ``step`` answering its queries with plain functions: ``read``, ``exists``
    and ``resolve_path`` (default: :func:`resolving` over ``read`` and ``exists``).
    What a function raises is thrown into the step, as the round trip's error is."""

    def ask(query: Any) -> Generator[Any, Any, Any]:
        if query.__class__ is ReadProperties:
            return read(query.path)
        if query.__class__ is NodeExists:
            assert exists is not None
            return exists(query.path)
        if resolve_path is not None:
            return resolve_path(query.path)
        return answer(resolving(query.path), read, exists)
        yield  # (a step that needs no round trip)

    done, result = advance(serve(step, ask), None, None)
    assert done
    return result


def serve(step: Generator[Any, Any, Any],
          ask: Callable[[Any], Generator[Any, Any, Any]]) -> Generator[Any, Any, Any]:
    """Run ``step`` as a step of its own: each query it yields is answered by the
    generator ``ask(query)`` (whose requests are yielded on, to whoever drives this
    one); what ``ask`` raises is thrown into ``step``."""
    value: Any = None
    error: BaseException | None = None
    while True:
        done, query = advance(step, value, error)
        if done:
            return query
        value = error = None
        try:
            value = yield from ask(query)
        except Exception as exc:
            error = exc


def resolve(path: str, read: Reader, exists: Callable[[str], bool]) -> str:
    """Follow symbolic links in ``path``; return the real path (:func:`resolving`
    over plain functions).

    Raises :class:`~zkservices.NoNode` (a kazoo ``NoNodeError``) when some segment names neither a node nor a
    link, and :class:`LinkLoop` when links refer to each other in a loop.
    """
    return answer(resolving(path), read, exists)


def resolving(path: str) -> Generator[Query, Any, str]:
    """Follow symbolic links in ``path``: the real path (asks :class:`NodeExists`
    and :class:`ReadProperties`).  Raises as :func:`resolve` does."""
    check_path(path)
    if (yield NodeExists(path)):
        return path
    return (yield from _resolving(path, ()))


def _resolving(path: str, seen: tuple[str, ...]) -> Generator[Query, Any, str]:
    # Walk up (without recursion: a path may have thousands of segments) to the
    # nearest node that exists, then resolve the missing segments downwards; only
    # following a link recurses, at most MAX_LINK_DEPTH deep.
    missing: list[tuple[str, str]] = []  # (the unresolved path, its last segment), innermost last
    while path != "/" and not (yield NodeExists(path)):
        if len(seen) > MAX_LINK_DEPTH:
            raise LinkLoop(f"{seen[0]}: too many levels of symbolic links")
        parent, _, name = path.rpartition("/")
        missing.append((path, name))
        path = parent or "/"
    for unresolved, name in reversed(missing):
        # a segment holds no "/": appending it is join() without re-reading the whole path
        candidate = join(path, name) if name in (".", "..") else path.rstrip("/") + "/" + name
        if (yield NodeExists(candidate)):
            path = candidate
            continue
        properties = (yield ReadProperties(path)) or {}
        target = properties.get(name + LINK_SUFFIX)
        if not isinstance(target, str) or not target.strip():
            raise NoNode(unresolved)
        if candidate in seen:
            chain = " -> ".join(seen + (candidate,))
            raise LinkLoop(f"symbolic link loop: {chain}")
        path = yield from _resolving(join(path, target.strip()), seen + (candidate,))
    return path


def linked_names(properties: Mapping[str, Any]) -> Iterator[str]:
    """The names of the property links in ``properties`` (``'name =>'`` keys), in key
    order, leaving out those a property of the same name shadows (it wins)."""
    for key in properties:
        if key.endswith(PROPERTY_LINK_SUFFIX):
            name = key[: -len(PROPERTY_LINK_SUFFIX)]
            if name not in properties:
                yield name


def parse_property_link(text: Any, *, where: str = "?") -> tuple[str, str | None]:
    """``'path [name]'`` → ``(path, name or None)``; BadPropertyLink when malformed."""
    if not isinstance(text, str) or not text.strip():
        raise BadPropertyLink(f"{where}: property link {text!r} is empty or not text")
    parts = text.split()
    if len(parts) > 2:
        raise BadPropertyLink(f"{where}: property link {text!r} must be 'PATH [PROPERTY]'")
    target = parts[0]
    return target, (parts[1] if len(parts) == 2 else None)


def follow_property(
    node_path: str,
    properties: dict,
    name: str,
    *,
    read: Reader,
    resolve_path: Callable[[str], str],
    seen: tuple[tuple[str, str], ...] = (),
    visit: Callable[[str], None] | None = None,
) -> Any:
    """Return property ``name`` of the node at ``node_path`` (with ``properties``),
    following property links through ``read`` (:func:`following` over plain functions).

    ``visit`` is told each linked node path (so a view can watch it).  Raises
    :class:`BadPropertyLink` for a link that is malformed or names a missing
    node or property, :class:`LinkLoop` for a loop.
    """
    return answer(following(node_path, properties, name, seen=seen, visit=visit), read, None, resolve_path)


def following(
    node_path: str,
    properties: Mapping[str, Any],
    name: str,
    *,
    seen: tuple[tuple[str, str], ...] = (),
    visit: Callable[[str], None] | None = None,
) -> Generator[Query, Any, Any]:
    """Property ``name`` of the node at ``node_path`` with property links followed
    (asks :class:`Resolve` for each link's target, then :class:`ReadProperties`).
    Raises as :func:`follow_property` does."""
    while True:
        key = (node_path, name)
        if key in seen:
            chain = " => ".join(f"{p} {n}" for p, n in seen + (key,))
            raise LinkLoop(f"property link loop: {chain}")
        if name in properties:
            return properties[name]
        raw = properties.get(name + PROPERTY_LINK_SUFFIX)
        where = f"{node_path} {name!r}"
        if raw is None:
            raise BadPropertyLink(f"{where}: no such property")
        target, target_name = parse_property_link(raw, where=f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}'")
        try:
            target_path = yield Resolve(join(node_path, target))
        except NoNodeError:
            raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r} names a missing node") from None
        except ValueError as exc:  # invalid path, LinkLoop of symlinks
            if isinstance(exc, LinkLoop):
                raise
            raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r}: {exc}") from None
        if visit is not None:
            visit(target_path)
        target_properties = yield ReadProperties(target_path)
        if target_properties is None:
            raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r} names a missing node")
        target_name = target_name or name
        if target_name not in target_properties and target_name + PROPERTY_LINK_SUFFIX not in target_properties:
            raise BadPropertyLink(
                f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {target_path} has no property {target_name!r}"
            )
        seen, node_path, properties, name = seen + (key,), target_path, target_properties, target_name
