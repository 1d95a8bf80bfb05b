"""The views of one session: which exist, which must not be collected, and how they
are refreshed (in pipelined batches on the worker) and re-read after a session loss
(after a random delay of at most ``resync_jitter``, so that a fleet losing its sessions
together does not re-read together)."""

from __future__ import annotations

import logging
import math
import random
import time
from typing import Any

from kazoo.exceptions import ConnectionClosedError

from .core import Recovery, SessionCore
from .retry import RETRYABLE

__all__ = ["ViewSet", "check_resync_jitter", "resync_delay"]

log = logging.getLogger("zkservices.views")


def check_resync_jitter(value: float) -> float:
    """``resync_jitter`` as a float; ValueError unless a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"resync_jitter must be a number of seconds, not {value!r}")
    jitter = float(value)
    if not math.isfinite(jitter) or jitter < 0:
        raise ValueError(f"resync_jitter must be a finite number of seconds >= 0, not {value!r}")
    return jitter


def resync_delay(jitter: float) -> float:
    """The delay before one recovery's view re-reads: uniform in ``[0, jitter)``."""
    return random.uniform(0.0, jitter) if jitter > 0 else 0.0


class ViewSet:
    """The live views of a session core.

    Views are held weakly, except those with callbacks (``hold``): a view whose
    callbacks still run must not disappear because the caller dropped it.  The set
    attaches itself to the core (:meth:`SessionCore.attach_views`: the worker's refresh
    function, whether settling has views to wait for) and registers a recovery step that
    re-reads every view once a new session exists.

    What it uses of a view is the views' internal protocol (``_watcher``, ``_synced``,
    ``_take_fetch``, ``_complete``, ``_rewatch_plan``, ``_mark_synced``: see
    :class:`~zkservices._session.viewbase.View`), none of it public on the view.

    The weak references are the views' own watchers (weak references to their view
    whose callback is :attr:`forget`): no second weak reference per view.

    ``resync_jitter`` (seconds, 0: none) spreads the re-reads after a session loss: once
    the new session exists and the registrations are restored (those are never
    delayed), the views wait a random delay in ``[0, resync_jitter)`` -- one per
    recovery, for all views together -- then are re-armed and re-read as one batch.
    Meanwhile every view refresh of a view whose state is from before the loss is
    held back (its last content stays: the views watch nothing on the new session
    yet), while views created since read at once.
    """

    def __init__(self, core: SessionCore, *, resync_jitter: float = 0.0) -> None:
        self.core = core
        self.resync_jitter = check_resync_jitter(resync_jitter)
        # While not None: the connection epoch from which views' states are current;
        # refreshes of views with older states wait for the re-read step (the jitter).
        self._hold_epoch: int | None = None
        self._resync_at = 0.0
        self._refs: set[Any] = set()  # the views' watchers (weak references)
        refs = self._refs

        def forget(ref: Any) -> None:
            """The callback of a view's weak reference: takes it out once the view is collected."""
            try:
                refs.discard(ref)
            except TypeError:  # never added (so never hashed while its view lived)
                pass

        self.forget = forget
        self._held: set[Any] = set()
        core.attach_views(self._refresh_batch, active=self.__bool__)
        # before ready (after the registrations, added earlier): the worker's refreshes,
        # waiting for ready, must find the hold in place
        core.add_recovery_step("hold view re-reads", self._hold, before_ready=True)
        core.add_recovery_step("re-read views", self._reread)
        core.add_close_step(self.close_all)

    def add(self, view: Any) -> None:
        """Track a watching view (refreshed after a session loss)."""
        self._refs.add(view._watcher)

    def discard(self, view: Any) -> None:
        """Stop tracking ``view`` (it was closed)."""
        self._refs.discard(view._watcher)
        self._held.discard(view)

    def views(self) -> list[Any]:
        """The live views tracked."""
        # set.copy() runs no Python code: a collection meanwhile cannot change the set under it
        return [view for view in (ref.view() for ref in self._refs.copy()) if view is not None]

    def hold(self, view: Any) -> None:
        """Keep ``view`` alive while it has callbacks."""
        self._held.add(view)

    def release(self, view: Any) -> None:
        """Let ``view`` be collected again (its last callback went)."""
        self._held.discard(view)

    def __bool__(self) -> bool:
        return bool(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def close_all(self) -> None:
        """Close every view (the session is closing)."""
        for view in self.views():
            view.close()
        self._held.clear()

    def _hold(self, recovery: Recovery) -> None:
        """Before ready: pick this recovery's delay; hold the views' refreshes until then."""
        delay = resync_delay(self.resync_jitter)
        if delay <= 0:
            self._hold_epoch = None
            return
        self._resync_at = time.monotonic() + delay
        self._hold_epoch = self.core.watches.epoch
        log.info("re-reading %d view(s) in %.2fs (resync_jitter %gs)", len(self._refs), delay, self.resync_jitter)

    def _waits(self, view: Any) -> bool:
        """Whether the refresh of ``view`` waits for the jittered re-read."""
        hold = self._hold_epoch
        if hold is None:
            return False
        synced = view._synced
        if synced is None:
            return True
        return (~synced if synced < 0 else synced) < hold

    def _reread(self, recovery: Recovery) -> None:
        if self._hold_epoch is not None:
            while recovery.current:
                remaining = self._resync_at - time.monotonic()
                if remaining <= 0:
                    break
                time.sleep(min(remaining, 0.05))
            if not recovery.current:
                return  # closed, or lost again: that recovery holds and re-reads
            self._hold_epoch = None
        views = self.views()
        self.core.worker.request_refresh(views)
        try:
            self.core.worker.barrier(None)
        except RuntimeError:  # closed meanwhile
            return
        log.info("%d view(s) re-read after session loss", len(views))

    def _refresh_batch(self, views: list[Any]) -> None:
        """Refresh views (on the worker): pipelined reads, retried through connection trouble.

        A view whose state is as of its last read and whose one watch kazoo forgot with
        a lost connection is re-armed without a read: one SetWatches for many views, as
        of the last zxid seen on that connection (the server fires at once the watches
        of nodes changed since, and those views read again).
        """
        views = [v for v in views if not v.closed]
        core = self.core
        while views and not core.closed:
            if not core.wait_ready(0.5):
                continue
            if self._hold_epoch is not None:
                # refreshes held until the jittered re-read, which refreshes every view
                views = [view for view in views if not self._waits(view)]
                if not views:
                    return
            views = self._rewatch(views)
            if not views:
                return
            started = []
            for view in views:
                try:
                    started.append((view, view._take_fetch()))
                except ConnectionClosedError:
                    return
            retry = []
            for view, result in started:
                try:
                    view._complete(result)
                except RETRYABLE:
                    retry.append(view)
                except ConnectionClosedError:
                    return
                except Exception:
                    log.exception("refreshing %r failed", view)
            views = retry
            if views:
                log.debug("re-arming %d view(s) after connection trouble", len(views))
                time.sleep(0.05)

    def _rewatch(self, views: list[Any]) -> list[Any]:
        """Re-arm the watches of the views that allow it; return the views to read."""
        watches = self.core.watches
        epoch = watches.epoch
        groups: dict[int, list[tuple[Any, int, tuple[bool, str]]]] = {}
        rest = []
        for view in views:
            synced = view._synced
            plan = view._rewatch_plan() if synced is not None and synced >= 0 else None
            if plan is None:
                rest.append(view)
            elif synced == epoch:
                continue  # armed on this very connection, nothing fired since: nothing to do
            else:
                zxid = watches.loss_zxid(synced)
                if zxid is None:
                    rest.append(view)
                else:
                    groups.setdefault(zxid, []).append((view, synced, plan))
        for zxid, members in groups.items():
            data = [(path, view._watcher) for view, _, (is_data, path) in members if is_data]
            child = [(path, view._watcher) for view, _, (is_data, path) in members if not is_data]
            if watches.rewatch(zxid, data, child):
                for view, synced, _ in members:
                    view._mark_synced(synced, epoch)
                log.debug("re-armed %d view(s) with SetWatches as of zxid 0x%x", len(members), zxid)
            else:
                rest.extend(view for view, _, _ in members)
        return rest

    def __repr__(self) -> str:
        return f"<ViewSet {len(self._refs)} view(s), {len(self._held)} with callbacks>"
