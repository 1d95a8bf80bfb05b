"""Sequential registration nodes (ServerSet members), created exactly once, on the
blocking driver: :func:`create_member` runs the step of
:mod:`zkservices._steps.registering` (where the algorithm is written, for both
fronts) on the session core."""

from __future__ import annotations

from typing import Any, Callable

from .._steps import registering
from .core import SessionCore
from .drivers import run

__all__ = ["create_member"]


def create_member(
    core: SessionCore, node: Any, retry: Any, *, uncertain: bool = False, owned: Callable[[], set[str]]
) -> str:
    """Create the sequential ``node`` (``prefix``, ``data``, ``acl``, ``path``, ``lock``)
    through ``retry``; return its path.

    A ``node.path`` that exists as this session's node is kept.  One that exists under
    another session (our old one, not reaped yet) is deleted first.  ``uncertain``:
    an earlier create may have happened unseen, look for it before creating (every
    attempt after the first does).  ``owned()`` gives the paths registrations own.
    """
    step = registering.create_member(node, lambda: core.session_id, uncertain=uncertain, owned=owned)
    return run(core, step, retry=retry)
