"""Writes that keep links intact, on the blocking driver: compare-and-set of
properties and finding (or creating) the real node behind a path with links.

The algorithms are the steps of :mod:`zkservices._steps.writes` (the asyncio front
runs the same ones on its driver); here they run on the session core, every round
trip through its retry policy: a write made while the session is suspended or being
replaced waits, re-reads and retries; it never raises a transient error to the caller.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .._steps import writes as steps
from .core import SessionCore
from .drivers import run

__all__ = ["compare_and_set", "update_properties", "resolve_or_create"]

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
    encoded = run(core, steps.compare_and_set(path, make, merging=merging))
    if written is not None:
        written(path, encoded)
    return encoded


def resolve_or_create(core: SessionCore, path: str, *, acl: Any = None) -> str:
    """Resolve ``path``; create what is missing below the deepest existing node (a
    dangling link gets its target; missing nodes get ``acl``, default the core's
    default ACL).  Raises NotAuthorized when ZooKeeper refuses to create one."""
    return run(core, steps.resolve_or_create(path, acl=acl if acl is not None else core.default_acl()))


def update_properties(core: SessionCore, path: str, properties: Mapping[str, Any], *,
                      written: Written | None = None) -> bytes:
    """Merge ``properties`` into the node at ``path``, compare-and-set
    (``ZooKeeper.update_properties``; the step of the same name).  Returns the bytes written."""
    encoded = run(core, steps.update_properties(path, dict(properties)))
    if written is not None:
        written(path, encoded)
    return encoded
