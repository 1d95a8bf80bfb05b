"""Writes that keep links intact: compare-and-set of properties, checks of property
links, and finding (or creating) the real node behind a path with links.

All of them go through the core's retry policy: a write made while the session is
suspended or being replaced waits, re-reads and retries; it never raises a transient
error to the caller.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from kazoo.exceptions import BadVersionError, NoNodeError

from ..errors import BadPropertyLink, LinkLoop, NoNode, NodeDeleted
from .._znode.encoding import decode, encode, is_json_object
from .._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, PROPERTY_LINK_SUFFIX, follow_property, linked_names
from .._znode.paths import check_path, join, split
from .core import SessionCore
from .retry import authorized

__all__ = ["compare_and_set", "next_properties", "check_property_links", "resolve_or_create", "update_properties"]

log = logging.getLogger("zkservices.writes")

Written = Callable[[str, bytes], None]


def compare_and_set(
    core: SessionCore,
    path: str,
    make: Callable[[dict], dict],
    *,
    merging: bool,
    written: Written | None = None,
) -> bytes:
    """Read ``path``, compute new properties with ``make``, write them if the version
    is unchanged, else re-read and retry.  Returns the bytes written.

    Raises NodeDeleted when the node is missing, ValueError when ``merging`` into data
    that is not a JSON object or when the new properties cannot be stored, and
    BadPropertyLink/LinkLoop when the write would make a property link bad.
    ``written(path, data)`` is told what was written (registrations follow it).
    """
    client = core.client
    while True:
        try:
            data, stat = core.retry(client.get, path)
        except NoNodeError:
            raise NodeDeleted(f"{path} does not exist; not creating it") from None
        old, new, encoded = next_properties(path, data, make, merging=merging)
        check_property_links(core, path, new, old)
        try:
            with authorized("write", path):
                core.retry(client.set, path, encoded, version=stat.version)
        except BadVersionError:
            log.debug("%s changed under us (version %d); retrying", path, stat.version)
            continue
        except NoNodeError:
            raise NodeDeleted(f"{path} was deleted while it was written; not re-creating it") from None
        if written is not None:
            written(path, encoded)
        return encoded


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


def check_property_links(
    core: SessionCore, path: str, properties: Mapping[str, Any], old: Mapping[str, Any] | None = None
) -> None:
    """Raise BadPropertyLink/LinkLoop if a property link in ``properties`` would be bad.

    With ``old`` (the node's properties before the write), a link this write leaves as
    it was and that was already bad before is let through: a link whose target an
    operator deleted must not block every unrelated update of the node.  A write that
    breaks a link, or writes a bad one, is still refused.
    """

    def check(props: Mapping[str, Any], name: str) -> None:
        def read(p: str) -> dict | None:
            return dict(props) if p == path else core.read_properties(p)

        follow_property(path, dict(props), name, read=read, resolve_path=core.resolve)

    for name in linked_names(properties):
        key = name + PROPERTY_LINK_SUFFIX
        try:
            check(properties, name)
        except (BadPropertyLink, LinkLoop):
            if old is None or name in old or key not in old or old[key] != properties[key]:
                raise
            try:
                check(old, name)
            except (BadPropertyLink, LinkLoop):
                continue  # bad before this write already: not this write's doing
            raise


def resolve_or_create(core: SessionCore, path: str, *, acl: Any = None, _depth: int = 0) -> str:
    """Resolve ``path``; create what is missing below the deepest existing node.

    A missing segment that is a dangling symbolic link gets its target created (a
    write through a link lands on the real node), never a real node that would
    silently shadow the link.  Missing nodes get ``acl`` (default: the core's default ACL);
    raises NotAuthorized when ZooKeeper refuses to create one.
    """
    check_path(path)
    try:
        return core.resolve(path)
    except NoNodeError:
        pass
    parent, name = split(path)
    real_parent = resolve_or_create(core, parent, acl=acl, _depth=_depth) if parent != path else "/"
    real = join(real_parent, name)
    try:
        return core.resolve(real)
    except NoNodeError:
        pass
    target = (core.read_properties(real_parent) or {}).get(name + LINK_SUFFIX)
    if isinstance(target, str) and target.strip():
        if _depth > MAX_LINK_DEPTH:
            raise LinkLoop(f"{path}: too many levels of symbolic links")
        return resolve_or_create(core, join(real_parent, target.strip()), acl=acl, _depth=_depth + 1)
    with authorized("create", real):
        core.retry(core.client.ensure_path, real, acl=acl if acl is not None else core.default_acl())
    return real


def update_properties(core: SessionCore, path: str, properties: Mapping[str, Any], *,
                      written: Written | None = None) -> bytes:
    """Merge ``properties`` into the node at ``path``, compare-and-set (``ZooKeeper.update_properties``).

    ``path`` is the node itself; only a write that brings property links resolves it
    through symbolic links first (as a view's ``update`` does).  Returns the bytes written.

    Raises NoNode when the node is missing, NodeDeleted when it is deleted while written,
    ValueError for data that is not a JSON object or properties that cannot be stored,
    BadPropertyLink/LinkLoop when the write would make a property link bad.
    """
    check_path(path)
    real = core.resolve(path) if any(key.endswith(PROPERTY_LINK_SUFFIX) for key in properties) else path
    read = False

    def merge(old: dict) -> dict:
        nonlocal read
        read = True
        return {**old, **properties}

    try:
        return compare_and_set(core, real, merge, merging=True, written=written)
    except NodeDeleted:
        if read:  # deleted while written
            raise
        raise NoNode(path) from None
