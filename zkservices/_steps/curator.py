"""The Curator-directory check of a registration, as a step.

A zkservices node whose properties Curator parses as its own fields is refused in a
directory of Curator instances (:func:`~zkservices._formats.check_curator_siblings`).
The directory is read as one step -- its names, then its first nodes sent together --
started over after connection trouble in any of its reads.
"""

from __future__ import annotations

from typing import Any, Mapping

from kazoo.exceptions import NoNodeError

from .._formats import CURATOR_SIBLINGS, check_curator_siblings, curator_clashes
from .._znode.paths import join
from .requests import Again, Step, batch, children, get

__all__ = ["check_curator_directory"]


def check_curator_directory(real: str, properties: Mapping[str, Any]) -> Step[None]:
    """Raise ValueError when ``properties`` clash with Curator's fields and the
    directory ``real`` holds a Curator instance (no round trip without a clash)."""
    clashes = curator_clashes(properties)
    if not clashes:
        return
    siblings = yield Again(lambda: _read_siblings(real))
    check_curator_siblings(real, clashes, siblings)


def _read_siblings(real: str) -> Step[list[tuple[str, bytes]]]:
    names = (yield children(real))[:CURATOR_SIBLINGS]
    outcomes = yield from batch([get(join(real, name)) for name in names])
    siblings = []
    for name, outcome in zip(names, outcomes):
        if isinstance(outcome, NoNodeError):
            continue
        if isinstance(outcome, BaseException):
            raise outcome
        siblings.append((name, outcome[0]))
    return siblings
