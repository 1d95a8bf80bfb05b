"""Reading through links as steps: a node's properties, whether it exists, a path
resolved, and a node's properties with its property links followed.

:func:`on_server` answers the questions of the link algorithms of
:mod:`zkservices._znode.links` with round trips (:func:`read_properties`,
:func:`node_exists`), so that they run on either driver.
"""

from __future__ import annotations

from typing import Any, Generator, Mapping

from kazoo.exceptions import NoNodeError

from ..errors import BadPropertyLink, LinkLoop
from .._znode.encoding import decode
from .._znode.links import (PROPERTY_LINK_SUFFIX, NodeExists, ReadProperties, following, linked_names, resolving,
                            serve)
from .._znode.paths import check_path
from .requests import Step, exists, get

__all__ = ["read_properties", "node_exists", "resolve", "on_server", "get_properties", "follow_links", "has_links"]


def has_links(properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` hold a property link (``'name =>'``)."""
    return any(key.endswith(PROPERTY_LINK_SUFFIX) for key in properties)


def read_properties(path: str) -> Step[dict | None]:
    """The decoded properties of ``path``; None when the node does not exist."""
    try:
        data, _ = yield get(path)
    except NoNodeError:
        return None
    return decode(data)


def node_exists(path: str) -> Step[bool]:
    """Whether ``path`` exists."""
    return (yield exists(path)) is not None


def on_server(step: Generator[Any, Any, Any], known: Mapping[str, dict] | None = None) -> Step[Any]:
    """Run a link algorithm (:func:`~zkservices._znode.links.resolving`,
    :func:`~zkservices._znode.links.following`, ...) answering its questions with
    round trips; ``known`` answers reads of the nodes it holds (their properties as
    they are, or are about to be written)."""

    def ask(query: Any) -> Step[Any]:
        if query.__class__ is ReadProperties:
            if known is not None and query.path in known:
                return dict(known[query.path])
            return (yield from read_properties(query.path))
        if query.__class__ is NodeExists:
            return (yield from node_exists(query.path))
        return (yield from resolve(query.path))

    return (yield from serve(step, ask))


def resolve(path: str) -> Step[str]:
    """Follow symbolic links.  Raises InvalidPath, LinkLoop, or NoNode naming the missing node."""
    return (yield from on_server(resolving(path)))


def get_properties(path: str) -> Step[dict[str, Any]]:
    """The node's properties with property links followed, read once: one round
    trip without links; each symbolic link on the way and each property link is one
    more.  A node deleted while its links were resolved reads as empty.

    :raises NoNode: the node (or a segment of ``path``) is missing.
    :raises BadPropertyLink: a property link is bad (or LinkLoop).
    """
    check_path(path)
    try:
        data, _ = yield get(path)
    except NoNodeError:  # perhaps a symbolic link on the way
        data = None
    if data is not None:
        own = decode(data)
        if not has_links(own):
            return own
        real = path
    else:
        real = yield from resolve(path)
        found = yield from read_properties(real)
        if found is None:  # deleted meanwhile: an empty view
            return {}
        own = found
    return (yield from follow_links(real, own))


def follow_links(real: str, own: dict) -> Step[dict[str, Any]]:
    """``own`` (the properties of ``real``) with its property links replaced by their
    values.  Raises the first BadPropertyLink or LinkLoop in key order, as reading a
    view's items does."""
    linked: dict[str, Any] = {}
    for name in linked_names(own):
        try:
            linked[name] = yield from on_server(following(real, own, name), {real: own})
        except (BadPropertyLink, LinkLoop) as exc:
            linked[name] = exc
    result: dict[str, Any] = {}
    for key in own:
        if key.endswith(PROPERTY_LINK_SUFFIX):
            name = key[: -len(PROPERTY_LINK_SUFFIX)]
            if name in own:
                continue
            value = linked[name]
            if isinstance(value, (BadPropertyLink, LinkLoop)):
                raise type(value)(*value.args)
            result[name] = value
        else:
            result[key] = own[key]
    return result
