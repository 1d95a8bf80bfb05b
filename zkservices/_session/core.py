"""The session core: one kazoo client, its state, the retry policy, the worker, recovery.

:class:`SessionCore` is what every recipe of zkservices -- registrations, views, tree
sync, discovery, feeds -- builds on.  Its named API (listed in its docstring) is the
only way they touch the session; nothing outside assigns to it.  The core holds no
recipe state: registrations and views register their steps and hooks with it and keep
their own tables.

States and events:

- ``ready`` is set while calls can be expected to work: connected, and after a session
  loss only once the steps that must come first (restoring registrations) are done.
  User calls wait for it (:attr:`retry`); recovery steps wait only for a connection
  (the :class:`Recovery` they are handed).
- After a session loss the core runs the recovery steps, in order, on a thread of its
  own (never on kazoo's event thread): ``before_ready`` steps, then ``ready`` is set,
  then the other steps; :meth:`wait_recovered` returns when all are done.
- After a reconnection with the session kept, reconnect steps run (kazoo forgot its
  watchers with the connection).
- Read-only: a client made with ``read_only=True`` may be served by a server cut off
  from its quorum (ZooKeeper's read-only mode).  kazoo's state listeners say CONNECTED
  then; the core reads kazoo's own client state (``CONNECTED_RO``) instead:
  :attr:`~SessionCore.read_only` is true, ``ready`` is set (reads work: views keep
  serving and refreshing from that server), ``writable`` is not (a write the server
  refuses waits for it, in :attr:`retry`).  A read-only server only ever gives a fresh
  session (it refuses to take over a global one), and that session ends when the
  client moves to a read-write server (kazoo looks for one itself): so after a loss
  onto a read-only server the ``before_ready`` steps (restoring registrations) wait
  for the next session, a read-write one; the other steps (re-reading views) run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState, KeeperState
from kazoo.retry import KazooRetry
from kazoo.security import make_acl

from ..errors import FailedConnect
from .._steps import links as link_steps
from .._steps.settle import settle
from .._znode.paths import format_address
from .drivers import run
from .kazoo_internals import access, new_client, tls_arguments
from .retry import RetryPolicy
from .rewatch import Watches
from .tls import TLS_FAILURE_HINT, TLSOption, kazoo_tls_options
from .worker import Worker

__all__ = ["Recovery", "SessionCore", "default_connection_string"]

log = logging.getLogger("zkservices.session")


def default_connection_string() -> str:
    """``$ZKSERVICES_CONNECTION``, else ``$ZC_ZK_CONNECTION_STRING``, else ``127.0.0.1:2181``."""
    return (
        os.environ.get("ZKSERVICES_CONNECTION")
        or os.environ.get("ZC_ZK_CONNECTION_STRING")
        or "127.0.0.1:2181"
    )


class Recovery:
    """What a recovery step is handed after a session loss.

    ``generation`` counts the sessions lost and replaced (this recovery's); ``retry``
    is the retry policy of recovery steps: it waits only for a connection, never for
    *ready* (the steps that come first are what makes the session ready);
    :attr:`current` turns False once the core was closed or the session lost again
    (that loss has a recovery of its own: stop).
    """

    __slots__ = ("generation", "retry", "_current")

    def __init__(self, generation: int, retry: RetryPolicy, current: Callable[[int], bool]) -> None:
        self.generation = generation
        self.retry = retry
        self._current = current

    @property
    def current(self) -> bool:
        """Whether this recovery is still the one to do."""
        return self._current(self.generation)

    def __repr__(self) -> str:
        return f"<Recovery generation={self.generation}{'' if self.current else ' stale'}>"


Step = Callable[[Recovery], Any]


@dataclass(frozen=True)
class _RecoveryStep:
    name: str
    run: Step
    before_ready: bool


class SessionCore:
    """One ZooKeeper session and what keeps it usable through faults.

    Constructed latent; :meth:`start` connects (a core around a wrapped, already started
    ``client`` is started at once); :meth:`close` ends it.  ``auth`` is a sequence of
    ``(scheme, credential)`` pairs; ``client`` wraps an existing started KazooClient
    (then ``close`` leaves it running); ``acl`` is the ACL of nodes zkservices creates;
    ``tls`` a :class:`~zkservices.TLS` (or True: system CAs) for a secure client port.

    Named API (every public name of a core, and nothing else; the parts that need more
    -- views, registrations, the rebuilt-ensemble watch -- get it through the
    registration calls, never by assigning to the core):

    - ``client``: the started KazooClient (pipelined ``*_async`` calls, transactions).
    - ``connection_string``: where it connects (``host:port[,...][/chroot]``).
    - ``auth``: the session's ``(scheme, credential)`` pairs.
    - ``retry``: the retry policy user calls go through (waits for *ready*).
    - ``worker``: the thread running view refreshes and user callbacks, in order.
    - ``watches``: connection epochs, bulk re-arming, dropping kazoo's watchers.
    - ``settle``: let this session's views catch up with what it just wrote.
    - ``settle_needed``: whether ``settle`` has anything to wait for.
    - ``resolve``: follow symbolic links.
    - ``default_acl``: the ACL of nodes zkservices creates.
    - ``session_id``: the session's id now.
    - ``read_only``: whether a read-only server (cut off from its quorum) serves it now.
    - ``closed``: whether :meth:`close` was called.
    - ``start``: connect.
    - ``close``: end the session.
    - ``wait_ready``: wait until calls can be expected to work.
    - ``wait_recovered``: wait until the recovery from a session loss is done.
    - ``wait_writable``: wait until calls can be expected to work and may write.
    - ``add_recovery_step``: run a step after every session loss.
    - ``add_reconnect_step``: run a step after a reconnection that kept the session.
    - ``add_close_step``: run a step when the core closes.
    - ``add_state_listener``: follow kazoo's state changes.
    - ``remove_state_listener``: stop following them.
    - ``attach_views``: hand the core the view registry's refresh and settle hooks.
    """

    def __init__(
        self,
        connection_string: str | None = None,
        *,
        session_timeout: float = 10.0,
        auth: Sequence[tuple[str, str]] | None = None,
        read_only: bool = False,
        client: KazooClient | None = None,
        acl: Sequence[Any] | None = None,
        tls: TLSOption = None,
    ) -> None:
        tls_options = kazoo_tls_options(tls)  # TypeError/ValueError before anything starts
        if tls_options and client is not None:
            raise ValueError("tls= is for a client zkservices makes; configure the KazooClient handed in instead")
        self.auth: tuple[tuple[str, str], ...] = tuple(auth or ())
        self._acl = list(acl) if acl is not None else None
        self._closed = False
        self._started = False
        self._lost = False
        self._suspended = False
        self._generation = 0
        self._steps: list[_RecoveryStep] = []
        self._reconnect_steps: list[Callable[[], Any]] = []
        self._close_steps: list[Callable[[], Any]] = []
        self._connected = threading.Event()
        self._ready = threading.Event()
        self._writable = threading.Event()
        self._read_only = False
        self._deferred = False  # a recovery whose first steps wait for a read-write session
        self._recovered = threading.Event()
        self._recovered.set()
        self._kazoo_callback_thread: threading.Thread | None = None
        self._views_refresh: Callable[[list[Any]], None] | None = None
        self._views_active: Callable[[], bool] = lambda: True
        self.retry = RetryPolicy(ready=self._ready, writable=self._writable, closed=lambda: self._closed)
        self._retry_connected = RetryPolicy(ready=self._connected, closed=lambda: self._closed, name="recovery")
        if client is not None:
            if client.client_id is None:
                raise ValueError(f"client= takes a started KazooClient; call {client!r}.start() first")
            self._own_client = False
            self.client = client
            self.connection_string = connection_string or ",".join(
                format_address(h, p) for h, p in client.hosts
            ) + (client.chroot or "")
        else:
            self._own_client = True
            self.connection_string = connection_string or default_connection_string()
            self.client = new_client(
                hosts=self.connection_string,
                timeout=session_timeout,
                auth_data=list(self.auth) or None,
                read_only=read_only,
                connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=2.0),
                command_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=1.0, ignore_expire=True),
                **tls_arguments(tls_options),
            )
        self.watches = Watches(self.client)
        self.worker = Worker(f"zkservices-worker-{id(self):x}", refresh_batch=self._refresh_views)
        self.client.add_listener(self._on_state)

    # -- lifecycle -------------------------------------------------------

    def start(self, *, timeout: float = 10.0, wait: bool = False) -> None:
        """Connect (idempotent).  Raises FailedConnect when no server answers within
        ``timeout`` seconds, unless ``wait`` is true: then it keeps trying."""
        if self._started:
            return
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        if self._own_client:
            while True:
                try:
                    self.client.start(timeout=timeout)
                    break
                except KazooTimeoutError:
                    if not wait:
                        self.client.stop()
                        self.client.close()
                        self._shut()
                        raise FailedConnect(
                            f"no ZooKeeper server answered within {timeout:g}s at {self.connection_string}"
                            + (TLS_FAILURE_HINT if self.client.use_ssl else "")
                        ) from None
                    log.warning("no ZooKeeper server at %s yet; still trying", self.connection_string)
        if self.client.connected:
            self._connected.set()
            self._read_only = self.client.client_state == KeeperState.CONNECTED_RO
            self._set_ready()
            self.watches.connection_up()
        self._started = True
        # Learn which thread runs kazoo's watch callbacks (first thing in its queue):
        # settle() must not wait for that queue from that very thread.  (A kazoo whose
        # handler cannot run it there has no such queue to wait for: see settle.)
        if access(self.client).callbacks:
            access(self.client).on_event_thread(self._note_callback_thread)
        cid = self.client.client_id
        log.info("connected to %s (session 0x%x)", self.connection_string, cid[0] if cid else 0)
        if self._read_only:
            self._warn_read_only()

    def _note_callback_thread(self) -> None:
        self._kazoo_callback_thread = threading.current_thread()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def read_only(self) -> bool:
        """Whether a read-only server serves the session now: one cut off from its
        quorum (only with ``read_only=True``).  Reads work; writes wait."""
        return self._read_only and self.client.connected

    @property
    def session_id(self) -> int | None:
        """The id of the session now (None before the first connection)."""
        cid = self.client.client_id
        return cid[0] if cid else None

    def close(self) -> None:
        """End the session (idempotent): close steps run, waiting calls raise SessionClosed."""
        if self._closed:
            return
        self._closed = True
        for step in reversed(self._close_steps):
            try:
                step()
            except Exception:
                log.exception("closing: %r failed", step)
        self.client.remove_listener(self._on_state)
        if self._own_client:
            try:
                self.client.stop()
            finally:
                self.client.close()
        self._shut()
        log.info("closed session to %s", self.connection_string)

    def _shut(self) -> None:
        self._closed = True
        self.worker.stop()
        # wake everything that waits: they see closed and stop
        self._ready.set()
        self._writable.set()
        self._connected.set()
        self._recovered.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until calls can be expected to work; False on timeout."""
        return self._ready.wait(timeout) and not self._closed

    def wait_writable(self, timeout: float | None = None) -> bool:
        """Wait until calls can be expected to work on a read-write server (not a
        read-only one); False on timeout."""
        return self._writable.wait(timeout) and not self._closed

    def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete; False on timeout."""
        return self._recovered.wait(timeout)

    # -- registration calls --------------------------------------------------

    def add_recovery_step(self, name: str, step: Step, *, before_ready: bool = False) -> None:
        """Run ``step(recovery)`` after every session loss, once a new session exists.

        Steps run in the order added, ``before_ready`` ones first (user calls wait for
        them); a step that raises is logged and the others still run.  Steps run on the
        recovery thread and may block; they call ZooKeeper through the
        :class:`Recovery`'s ``retry``.
        """
        self._steps.append(_RecoveryStep(name, step, before_ready))

    def add_reconnect_step(self, step: Callable[[], Any]) -> None:
        """Run ``step()`` (on a thread of its own) after a reconnection that kept the session."""
        self._reconnect_steps.append(step)

    def add_close_step(self, step: Callable[[], Any]) -> None:
        """Run ``step()`` when the core is closed, before the session ends (last added first)."""
        self._close_steps.append(step)

    def add_state_listener(self, listener: Callable[[str], Any]) -> None:
        """Call ``listener(state)`` on every kazoo state change.  It runs on kazoo's
        thread: it must not block nor call ZooKeeper (hand work off instead)."""
        self.client.add_listener(listener)

    def remove_state_listener(self, listener: Callable[[str], Any]) -> None:
        """Stop calling a listener added with :meth:`add_state_listener`."""
        self.client.remove_listener(listener)

    def attach_views(self, refresh: Callable[[list[Any]], None], *, active: Callable[[], bool]) -> None:
        """Hand the core the session's view registry (once): the worker calls
        ``refresh(views)`` with every view whose refresh was requested, in one batch;
        ``active()`` tells :meth:`settle` whether any view may be waiting for a write."""
        if self._views_refresh is not None:
            raise RuntimeError(f"{self!r} has its views already")
        self._views_refresh = refresh
        self._views_active = active

    def _refresh_views(self, views: list[Any]) -> None:
        # the worker's refresh function (on the worker)
        if self._views_refresh is not None:
            self._views_refresh(views)

    # -- state changes (on kazoo's thread: never call kazoo here) --------

    def _on_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            session = self.session_id or 0
            # kazoo says CONNECTED for a read-only server too: its client state tells
            # (set before its listeners run)
            was_read_only, self._read_only = self._read_only, self.client.client_state == KeeperState.CONNECTED_RO
            self.watches.connection_up()
            self._connected.set()
            if self._read_only and not was_read_only:
                self._warn_read_only()
            elif was_read_only and not self._read_only:
                log.info("back on a read-write ZooKeeper server (session 0x%x): writes go on", session)
            if self._lost or (self._deferred and not self._read_only):
                self._lost = False
                self._suspended = False
                self._deferred = False
                self._generation += 1
                if self._read_only:
                    log.warning("new read-only session 0x%x after session loss; re-reading views, registrations "
                                "wait for a read-write server", session)
                else:
                    log.warning("new session 0x%x established after session loss; restoring registrations and "
                                "watches", session)
                self._spawn("zkservices-recover", self._recover, self._generation)
            else:
                if self._suspended:
                    log.info("reconnected to ZooKeeper; session 0x%x kept", session)
                self._suspended = False
                self._set_ready()
                for step in self._reconnect_steps:
                    self._spawn("zkservices-reconnect", step)
        elif state == KazooState.SUSPENDED:
            self.watches.connection_lost()
            self._connected.clear()
            self._ready.clear()
            self._writable.clear()
            self._suspended = True
            log.warning("connection to ZooKeeper suspended; reconnecting")
        elif state == KazooState.LOST:
            self.watches.connection_lost()
            self._connected.clear()
            if not self._closed:
                self._ready.clear()
                self._writable.clear()
                self._recovered.clear()
                self._lost = True
                log.warning("ZooKeeper session lost (expired or closed)")

    def _warn_read_only(self) -> None:
        log.warning("connected to a read-only ZooKeeper server (cut off from its quorum; session 0x%x): "
                    "reads go on, writes and registrations wait for a read-write server", self.session_id or 0)

    def _set_ready(self) -> None:
        self._ready.set()
        if not self._read_only:
            self._writable.set()

    def _spawn(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        if not self._closed:
            threading.Thread(target=fn, args=args, name=name, daemon=True).start()

    def _is_current(self, generation: int) -> bool:
        return not self._closed and generation == self._generation

    def _recover(self, generation: int) -> None:
        started = time.monotonic()
        recovery = Recovery(generation, self._retry_connected, self._is_current)
        steps = sorted(self._steps, key=lambda s: not s.before_ready)
        if self._read_only:
            # Registrations cannot be written on a read-only server; this session ends
            # when the client moves to a read-write one, and that session's recovery runs
            # every step.  (Should a read-write server keep it, the connection does it.)
            self._deferred = True
            steps = [s for s in steps if not s.before_ready]
        ready_marked = False
        for step in steps:
            if not step.before_ready and not ready_marked:
                ready_marked = self._mark_ready(generation)
            if not recovery.current:
                return
            try:
                step.run(recovery)
            except Exception:
                if self._closed:
                    return
                log.exception("recovery step %r failed", step.name)
        if not ready_marked:
            self._mark_ready(generation)
        if not recovery.current:
            return  # lost again meanwhile: that loss has its own recovery
        if self._deferred:
            log.info("views re-read on the read-only server in %.3fs", time.monotonic() - started)
            return
        log.info("recovery done in %.3fs", time.monotonic() - started)
        self._recovered.set()

    def _mark_ready(self, generation: int) -> bool:
        if generation == self._generation and self.client.connected:
            self._set_ready()
        return True

    # -- links and ACLs ----------------------------------------------------

    def resolve(self, path: str) -> str:
        """Follow symbolic links.  Raises InvalidPath, LinkLoop, or NoNode naming the missing node."""
        return run(self, link_steps.resolve(path))

    def default_acl(self) -> list[Any] | None:
        """The ACL for nodes zkservices creates: the ``acl`` given, else None (kazoo's open
        default) without auth, and with auth world-read and full rights for the
        authenticated identity."""
        if self._acl is not None:
            return list(self._acl)
        if not self.auth:
            return None
        return [make_acl("world", "anyone", read=True), make_acl("auth", "", all=True)]

    # -- settling ----------------------------------------------------------

    def settle_needed(self) -> bool:
        """Whether :meth:`settle` has anything to wait for: the view registry says a
        view may be waiting for a write (always, before one is attached)."""
        return self._views_active()

    def settle(self, timeout: float = 30.0) -> None:
        """Let this session's views catch up with what it just wrote (bounded, never fails).

        ZooKeeper sends a watch event before the reply to the write that triggered it;
        kazoo has queued our watcher by the time the write returns.  Wait until kazoo's
        callback queue passed that point, then until our worker ran the resulting
        refreshes and callbacks (the settle step, run by the blocking driver).
        """
        if self.worker.in_worker() or self._closed or not self.settle_needed():
            return
        if threading.current_thread() is self._kazoo_callback_thread:
            return  # a write from inside a kazoo watch callback: the marker would queue behind it
        run(self, settle(timeout))

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif not self._started:
            state = "latent"
        else:
            sid = self.session_id
            state = f"{self.client.state} session=0x{sid:x}" if sid else self.client.state
        return f"<SessionCore {self.connection_string} {state}>"
