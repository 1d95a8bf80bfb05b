"""Symbolic links (``'name ->': target``) and property links (``'name =>': 'path [prop]'``).

Both kinds of relative target are resolved from the node that holds the link:
on ``/a``, ``b -> c`` names ``/a/c`` and ``b -> ../c`` names ``/c``; a property
link ``t => ../cms threads`` on ``/fooservice`` reads property ``threads`` of
``/cms``.  A real child always wins over a link of the same name.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from kazoo.exceptions import NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NoNode
from .paths import check_path, join

__all__ = ["resolve", "linked_names", "parse_property_link", "LINK_SUFFIX", "PROPERTY_LINK_SUFFIX", "MAX_LINK_DEPTH"]

LINK_SUFFIX = " ->"
PROPERTY_LINK_SUFFIX = " =>"
MAX_LINK_DEPTH = 64

# (path) -> properties dict or None when the node does not exist
Reader = Callable[[str], "dict | None"]


def resolve(path: str, read: Reader, exists: Callable[[str], bool]) -> str:
    """Follow symbolic links in ``path``; return the real path.

    Raises :class:`~zkservices.NoNode` (a kazoo ``NoNodeError``) when some segment names neither a node nor a
    link, and :class:`LinkLoop` when links refer to each other in a loop.
    """
    check_path(path)
    if exists(path):
        return path
    return _resolve(path, read, exists, ())


def _resolve(path: str, read: Reader, exists: Callable[[str], bool], seen: tuple[str, ...]) -> str:
    # Walk up (without recursion: a path may have thousands of segments) to the
    # nearest node that exists, then resolve the missing segments downwards; only
    # following a link recurses, at most MAX_LINK_DEPTH deep.
    missing: list[tuple[str, str]] = []  # (the unresolved path, its last segment), innermost last
    while path != "/" and not exists(path):
        if len(seen) > MAX_LINK_DEPTH:
            raise LinkLoop(f"{seen[0]}: too many levels of symbolic links")
        parent, _, name = path.rpartition("/")
        missing.append((path, name))
        path = parent or "/"
    for unresolved, name in reversed(missing):
        # a segment holds no "/": appending it is join() without re-reading the whole path
        candidate = join(path, name) if name in (".", "..") else path.rstrip("/") + "/" + name
        if exists(candidate):
            path = candidate
            continue
        properties = read(path) or {}
        target = properties.get(name + LINK_SUFFIX)
        if not isinstance(target, str) or not target.strip():
            raise NoNode(unresolved)
        if candidate in seen:
            chain = " -> ".join(seen + (candidate,))
            raise LinkLoop(f"symbolic link loop: {chain}")
        path = _resolve(join(path, target.strip()), read, exists, seen + (candidate,))
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
    following property links through ``read``.

    ``visit`` is told each linked node path (so a view can watch it).  Raises
    :class:`BadPropertyLink` for a link that is malformed or names a missing
    node or property, :class:`LinkLoop` for a loop.
    """
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
        target_path = resolve_path(join(node_path, target))
    except NoNodeError:
        raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r} names a missing node") from None
    except ValueError as exc:  # invalid path, LinkLoop of symlinks
        if isinstance(exc, LinkLoop):
            raise
        raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r}: {exc}") from None
    if visit is not None:
        visit(target_path)
    target_properties = read(target_path)
    if target_properties is None:
        raise BadPropertyLink(f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {raw!r} names a missing node")
    target_name = target_name or name
    if target_name not in target_properties and target_name + PROPERTY_LINK_SUFFIX not in target_properties:
        raise BadPropertyLink(
            f"{node_path} '{name}{PROPERTY_LINK_SUFFIX}': {target_path} has no property {target_name!r}"
        )
    return follow_property(
        target_path, target_properties, target_name, read=read, resolve_path=resolve_path, seen=seen + (key,), visit=visit
    )
