"""The Curator-directory check of a registration, as a step.

A zkservices node whose properties Curator parses as its own fields is refused in a
directory of Curator instances (:func:`~zkservices._formats.check_curator_siblings`).
The directory is read as one step -- its names, then its first nodes sent together --
started over after connection trouble in any of its reads.
"""

from __future__ import annotations

from typing import Any, Mapping

from .._formats import CURATOR_SIBLINGS, check_curator_siblings, curator_clashes
from .._znode.paths import join
from .requests import Again, Step, children, get_many

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
    found = yield from get_many([join(real, name) for name in names])
    return [(path.rpartition("/")[2], data) for path, data, _ in found]
