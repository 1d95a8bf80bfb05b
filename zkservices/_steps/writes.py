"""Writes that keep links intact, as steps: compare-and-set of properties, checks of
property links, and finding (or creating) the real node behind a path with links.

The drivers retry every round trip through connection trouble: a write made while
the session is suspended or being replaced waits, re-reads and retries; it never
raises a transient error to the caller.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from kazoo.exceptions import BadVersionError, NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NoNode, NodeDeleted
from .._znode.encoding import decode, encode, is_json_object
from .._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, PROPERTY_LINK_SUFFIX, following, linked_names
from .._znode.paths import check_path, join, split
from .links import has_links, on_server, read_properties, resolve
from .requests import Step, authorized, ensure_path, get, set_data

__all__ = ["compare_and_set", "update_properties", "next_properties", "check_property_links", "resolve_or_create"]

log = logging.getLogger("zkservices.writes")


def _deleted(path: str, *, writing: bool) -> Exception:
    if writing:
        return NodeDeleted(f"{path} was deleted while it was written; not re-creating it")
    return NodeDeleted(f"{path} does not exist; not creating it")


def compare_and_set(
    path: str,
    make: Callable[[dict], dict],
    *,
    merging: bool,
    missing: Callable[[str], Exception] | None = None,
) -> Step[bytes]:
    """Read ``path``, compute new properties with ``make``, write them if the version
    is unchanged, else re-read and retry.  Returns the bytes written.

    Raises NodeDeleted when the node is missing (``missing(path)`` instead, when
    given), ValueError when ``merging`` into data that is not a JSON object or when
    the new properties cannot be stored, and BadPropertyLink/LinkLoop when the write
    would make a property link bad.
    """
    while True:
        try:
            data, stat = yield get(path)
        except NoNodeError:
            raise (missing or (lambda p: _deleted(p, writing=False)))(path) from None
        old, new, encoded = next_properties(path, data, make, merging=merging)
        yield from check_property_links(path, new, old)
        try:
            with authorized("write", path):
                yield set_data(path, encoded, stat.version)
        except BadVersionError:
            log.debug("%s changed under us (version %d); retrying", path, stat.version)
            continue
        except NoNodeError:
            raise (missing or (lambda p: _deleted(p, writing=True)))(path) from None
        return encoded



def update_properties(path: str, properties: Mapping[str, Any]) -> Step[bytes]:
    """Merge ``properties`` into the node at ``path``, compare-and-set
    (``update_properties`` of both fronts).  Returns the bytes written.

    ``path`` is the node itself; only a write that brings property links resolves it
    through symbolic links first (as a view's ``update`` does).  Raises NoNode when the
    node is missing (NodeDeleted when a node resolved through links is deleted while
    written), ValueError for data that is not a JSON object or properties that cannot
    be stored, BadPropertyLink/LinkLoop when the write would make a property link bad.
    """
    check_path(path)

    def merge(old: dict) -> dict:
        return {**old, **properties}

    if has_links(properties):
        real = yield from resolve(path)
        return (yield from compare_and_set(real, merge, merging=True))
    return (yield from compare_and_set(path, merge, merging=True, missing=NoNode))

def next_properties(path: str, data: bytes, make: Callable[[dict], dict], *,
                    merging: bool) -> tuple[dict, dict, bytes]:
    """One step of a compare-and-set, without the round trips: the node's properties
    (from ``data``), the new ones ``make`` computes, and their encoding.

    Raises ValueError when ``merging`` into data that is not a JSON object or when the
    new properties cannot be stored.  The encoding (which validates names and values)
    comes before any check of property links, which assume str keys: a bad key must
    be a ValueError, not an AttributeError.
    """
    if merging and not is_json_object(data):
        raise ValueError(
            f"{path} holds data that is not a JSON object ({data[:40]!r}...); "
            "refusing to merge into it: use set() to replace it"
        )
    old = decode(data)
    new = make(dict(old))
    return old, new, encode(new, path=path)


def check_property_links(path: str, properties: Mapping[str, Any],
                         old: Mapping[str, Any] | None = None) -> Step[None]:
    """Raise BadPropertyLink/LinkLoop if a property link in ``properties`` would be bad.

    With ``old`` (the node's properties before the write), a link this write leaves as
    it was and that was already bad before is let through: a link whose target an
    operator deleted must not block every unrelated update of the node.  A write that
    breaks a link, or writes a bad one, is still refused.
    """

    def check(props: Mapping[str, Any], name: str) -> Step[Any]:
        return (yield from on_server(following(path, dict(props), name), {path: dict(props)}))

    for name in linked_names(properties):
        key = name + PROPERTY_LINK_SUFFIX
        try:
            yield from check(properties, name)
        except (BadPropertyLink, LinkLoop):
            if old is None or name in old or key not in old or old[key] != properties[key]:
                raise
            try:
                yield from check(old, name)
            except (BadPropertyLink, LinkLoop):
                continue  # bad before this write already: not this write's doing
            raise


def resolve_or_create(path: str, *, acl: Any, _depth: int = 0) -> Step[str]:
    """Resolve ``path``; create what is missing below the deepest existing node.

    A missing segment that is a dangling symbolic link gets its target created (a
    write through a link lands on the real node), never a real node that would
    silently shadow the link.  Missing nodes get ``acl``; raises NotAuthorized when
    ZooKeeper refuses to create one, LinkLoop for too many levels of links.
    """
    check_path(path)
    try:
        return (yield from resolve(path))
    except NoNodeError:
        pass
    parent, name = split(path)
    real_parent = (yield from resolve_or_create(parent, acl=acl, _depth=_depth)) if parent != path else "/"
    real = join(real_parent, name)
    try:
        return (yield from resolve(real))
    except NoNodeError:
        pass
    target = ((yield from read_properties(real_parent)) or {}).get(name + LINK_SUFFIX)
    if isinstance(target, str) and target.strip():
        if _depth > MAX_LINK_DEPTH:
            raise LinkLoop(f"{path}: too many levels of symbolic links")
        return (yield from resolve_or_create(join(real_parent, target.strip()), acl=acl, _depth=_depth + 1))
    with authorized("create", real):
        yield ensure_path(real, acl)
    return real
