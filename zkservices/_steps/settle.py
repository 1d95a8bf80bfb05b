"""Settling after a write, as a step: let this session's views see its own write.

ZooKeeper sends a watch event before the reply to the write that triggered it; kazoo
has queued our watcher by the time the write returns.  Wait until kazoo's event
thread passed that point, then until the session's worker ran the resulting
refreshes and callbacks -- bounded: a slow callback or an outage only costs a warning.
(Whether there is anything to wait for at all is the caller's to say.)
"""

from __future__ import annotations

import logging

from .requests import EventMark, Step, WorkerMark

__all__ = ["settle"]

log = logging.getLogger("zkservices.session")


def settle(timeout: float = 30.0) -> Step[None]:
    """Wait (each part at most ``timeout``) for the views to catch up; never fails."""
    if (yield EventMark(timeout)) and (yield WorkerMark(timeout)):
        return
    log.warning("views did not catch up with this session's write within %gs; continuing", timeout)
