"""The worker: one thread per :class:`~zkservices.ZooKeeper` that runs view
refreshes and user callbacks in order, off kazoo's event thread.

kazoo calls our watchers and state listeners on its own threads; they only
put work here.  Refresh requests are coalesced: a view asked to refresh many
times before the worker gets to it is refreshed once, and every pending
refresh is handed to the refresh function in one batch so that it can
pipeline its reads.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Iterable

__all__ = ["Worker"]

log = logging.getLogger("zkservices.worker")

_REFRESH = object()
_STOP = object()


class Worker:
    """One thread running view refreshes and user callbacks in order.

    ``refresh_batch`` (given by the owner, fixed from then on) is called with every
    view whose refresh was requested, in one batch.  The thread starts on first use and
    ends with :meth:`stop`.
    """

    def __init__(self, name: str, *, refresh_batch: Callable[[list[Any]], None] | None = None) -> None:
        self.name = name
        self._refresh_batch = refresh_batch
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._pending: dict[int, Any] = {}  # id(view) -> view, insertion-ordered
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- submitting ----------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    def in_worker(self) -> bool:
        """Whether the calling thread is this worker's."""
        return threading.current_thread() is self._thread

    def request_refresh(self, views: Iterable[Any]) -> None:
        """Ask for these views to be refreshed (coalesced, in one batch)."""
        if self._stopped:
            return
        with self._lock:
            was_empty = not self._pending
            for view in views:
                self._pending.setdefault(id(view), view)
            wake = was_empty and bool(self._pending)
        if wake:
            self._ensure_thread()
            self._queue.put(_REFRESH)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "Future[Any]":
        """Run ``fn(*args)`` on the worker after everything queued before it."""
        future: Future[Any] = Future()
        if self._stopped:
            future.set_exception(RuntimeError(f"{self.name} is stopped"))
            return future
        self._ensure_thread()
        self._queue.put((fn, args, future))
        return future

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn`` on the worker and return its result (inline when already on it)."""
        if self.in_worker():
            return fn(*args)
        return self.submit(fn, *args).result(timeout)

    def barrier(self, timeout: float | None = 30.0) -> None:
        """Wait until everything queued so far has run (no-op on the worker itself)."""
        if self.in_worker() or self._stopped or self._thread is None:
            return
        self.submit(lambda: None).result(timeout)

    def stop(self) -> None:
        """Stop the thread after what is queued (idempotent); later submissions fail."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._queue.put(_STOP)
            if not self.in_worker():
                self._thread.join(10)

    # -- running -------------------------------------------------------

    def _run(self) -> None:
        # Each item is handled in its own call (_run_one): the loop must not keep
        # the last item in a local while it waits for the next one, or the view
        # that item refers to (e.g. a bound ``view._load``) could never be
        # garbage-collected while the worker is idle.
        while self._run_one(self._queue.get()):
            pass

    def _run_one(self, item: Any) -> bool:
        """Handle one queued item; False means stop."""
        if item is _STOP:
            return False
        if item is _REFRESH:
            with self._lock:
                views = list(self._pending.values())
                self._pending.clear()
            if views and self._refresh_batch is not None:
                try:
                    self._refresh_batch(views)
                except Exception:  # never let the worker die
                    log.exception("refreshing %d view(s) failed", len(views))
            return True
        fn, args, future = item
        if not future.set_running_or_notify_cancel():
            return True
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the waiting caller
            future.set_exception(exc)
        else:
            future.set_result(result)
        return True

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("running" if self._thread else "idle")
        return f"<Worker {self.name} {state} pending={len(self._pending)}>"
