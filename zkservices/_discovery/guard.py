"""What a server set publishes, and the shrink guard that decides it.

:class:`PublishedSet` holds the properties and providers a
:class:`~zkservices.ServerSet` shows, where they came from (ZooKeeper or the
snapshot) and whether they are current.  A set read from ZooKeeper is
*offered*; the shrink guard refuses one smaller than ``min_fraction`` times
the last published set (the snapshot's before anything was published) unless
``force`` is set (``min_fraction=0`` disables it).  An empty set counts, so a
vanished ``providers`` node is caught too, and removing the last provider (or
most of them) on purpose needs ``force``.  A refusal is logged as a WARNING
giving the numbers; the set is published as soon as it recovers above the
line; service property changes go through meanwhile.  No ZooKeeper and no threads here: the owner serialises the
calls (the ServerSet holds its lock).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["PublishedSet", "shrink_refused"]

log = logging.getLogger("zkservices.serverset")


def shrink_refused(new: int, last: int, *, min_fraction: float, force: bool) -> bool:
    """Whether the guard refuses a set of ``new`` providers after ``last`` ones.

    Refused when it is smaller than ``last`` and than ``min_fraction * last``,
    unless ``force`` is true or ``min_fraction`` is 0.
    """
    return not force and min_fraction > 0 and new < last and new < min_fraction * last


class PublishedSet:
    """The published state of one service (see the module documentation).

    :param name: the service node, for log messages.
    :param min_fraction, force: the shrink guard.
    :param snapshot_entry: the snapshot's entry for the service (the guard's
        baseline, and what :meth:`use_snapshot` serves), or ``None``.

    :attr:`properties` and :attr:`providers` are what is published;
    :attr:`ready` is set once anything was; :attr:`fresh` once something came
    from ZooKeeper; :attr:`connected` is cleared by the owner when the session
    is in trouble and set again by :meth:`offer`; :attr:`refused` is
    ``(candidate, last)`` while the guard holds.
    """

    def __init__(self, name: str, *, min_fraction: float, force: bool, snapshot_entry: dict | None = None) -> None:
        self.name = name
        self.min_fraction = min_fraction
        self.force = force
        self.snapshot_entry = snapshot_entry
        self.properties: dict[str, Any] = {}
        self.providers: dict[str, Any] = {}  # name -> Provider (or any record: compared by value)
        self.ready = threading.Event()
        self.fresh = False
        self.from_snapshot = False
        self.connected = False
        self.refused: tuple[int, int] | None = None
        self._baseline = len(snapshot_entry["providers"]) if snapshot_entry is not None else None

    @property
    def stale(self) -> bool:
        """Whether the set may not be ZooKeeper's current one (snapshot, trouble, guard)."""
        return not self.fresh or not self.connected or self.refused is not None

    def holding(self, *, session_connected: bool) -> str | None:
        """Why the set is held back, ``None`` when it is current; ``session_connected``
        tells a set being read again from one whose ZooKeeper is unreachable."""
        if not self.connected:
            return "reading ZooKeeper" if session_connected else "ZooKeeper unreachable"
        if self.refused is not None:
            return f"shrink guard: {self.refused[0]} of {self.refused[1]} provider(s)"
        return None if self.fresh else "waiting for ZooKeeper data"

    def seen(self) -> Any:
        """What callbacks see (``None`` before anything is published); they run when it changes."""
        if not self.ready.is_set():
            return None
        return (self.properties, self.providers, self.stale)

    def use_snapshot(self) -> bool:
        """Publish the snapshot's set unless something is published already; return whether it was."""
        entry = self.snapshot_entry
        if entry is None or self.ready.is_set():
            return False
        self.properties = dict(entry["properties"])
        self.providers = dict(entry["providers"])
        self.from_snapshot = True
        self.ready.set()
        return True

    def offer(self, properties: dict[str, Any], providers: dict[str, Any]) -> bool:
        """Publish a set read in full from ZooKeeper, unless the shrink guard refuses its providers.

        The properties are published either way.  Returns whether a set was
        published that differs from the last one (the owner saves its snapshot then).
        """
        self.connected = True
        last = len(self.providers) if self.ready.is_set() else self._baseline or 0
        new = len(providers)
        if shrink_refused(new, last, min_fraction=self.min_fraction, force=self.force):
            if self.refused != (new, last):
                log.warning(
                    "%s: shrink guard: ZooKeeper lists %d provider(s), fewer than %g x the %d last published; "
                    "keeping the last good set (force=True / --force publishes it)",
                    self.name, new, self.min_fraction, last,
                )
            self.refused = (new, last)
            if not self.ready.is_set() and self.snapshot_entry is not None:
                # the snapshot is the last good set
                self.providers = dict(self.snapshot_entry["providers"])
                self.from_snapshot = True
            self.properties = properties
            self.fresh = True
            self.ready.set()
            return False
        if self.refused is not None:
            log.warning(
                "%s: shrink guard: the set recovered (%d provider(s), was held at %d); publishing it",
                self.name, new, self.refused[1],
            )
            self.refused = None
        changed = (properties, providers) != (self.properties, self.providers) or not self.fresh
        self.properties = properties
        self.providers = providers
        self.fresh = True
        self.from_snapshot = False
        self.ready.set()
        return changed

    def __repr__(self) -> str:
        state = "not ready" if not self.ready.is_set() else ("stale" if self.stale else "current")
        return f"<PublishedSet {self.name} {len(self.providers)} provider(s) {state}>"
