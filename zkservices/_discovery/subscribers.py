"""The callbacks of a server set: each called once for every published state it has not seen."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from .._session.callbacks import Callback
from ..errors import CancelWatch

__all__ = ["Subscribers"]

log = logging.getLogger("zkservices.serverset")


class Subscribers:
    """The callbacks of ``owner`` (a :class:`~zkservices.ServerSet`), each called with it.

    :param owner: what callbacks are called with.
    :param name: names the owner in log messages.
    :param seen: returns what callbacks see now (``None``: nothing published yet); a
        callback is called again only when that differs from what it last saw.

    :meth:`add` calls the callback at once (what it raises propagates, and it is
    not kept; :class:`~zkservices.CancelWatch` drops it quietly); :meth:`fire` calls
    those that have not seen the current state: a callback that raises is logged
    and removed, one raising CancelWatch is removed quietly.  One call at a time.
    """

    def __init__(self, owner: Any, name: str, seen: Callable[[], Any]) -> None:
        self._owner = owner
        self._name = name
        self._seen = seen
        self._lock = threading.RLock()
        self._callbacks: list[Callback] = []
        self._seen_by: dict[Callback, Any] = {}  # what each callback last saw

    def add(self, fn: Callable[..., Any]) -> None:
        """Call ``fn(owner)`` now and keep it.  Raises TypeError for a function that
        needs more than one argument, and what the first call raises."""
        callback = Callback(fn)
        if callback.min_args > 1:
            raise TypeError(f"callback {fn!r} requires {callback.min_args} arguments; a ServerSet passes 1")
        with self._lock:
            seen = self._seen()
            try:
                callback(self._owner)
            except CancelWatch:
                return
            self._callbacks.append(callback)
            self._seen_by[callback] = seen

    @property
    def functions(self) -> tuple[Callable[..., Any], ...]:
        """The registered callback functions."""
        return tuple(c.fn for c in self._callbacks)

    def fire(self) -> None:
        """Call every callback that has not seen the current state."""
        with self._lock:
            seen = self._seen()
            if seen is None:
                return
            for callback in list(self._callbacks):
                if self._seen_by.get(callback) == seen:
                    continue  # e.g. registered after this state was published
                self._seen_by[callback] = seen
                try:
                    callback(self._owner)
                except CancelWatch:
                    self._drop(callback)
                except Exception:
                    self._drop(callback)
                    log.exception("%s: callback %r raised; it is removed, the others go on", self._name, callback)

    def clear(self) -> None:
        """Drop every callback."""
        with self._lock:
            self._callbacks.clear()
            self._seen_by.clear()

    def _drop(self, callback: Callback) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)
        self._seen_by.pop(callback, None)
