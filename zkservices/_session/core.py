"""The session core: one kazoo client, its state, the retry policy, the worker, recovery.

:class:`SessionCore` is what every recipe of zkservices -- registrations, views, tree
sync, discovery, feeds -- builds on.  Its named API is the only way they touch the
session: ``client`` (for pipelined ``*_async`` calls and transactions), ``retry``,
``worker``, ``settle``, ``resolve``, ``read_properties``, ``node_exists``,
``default_acl``, state listeners and ordered recovery steps.  The core holds no recipe
state: registrations and views register recovery steps and keep their own tables.

States and events:

- ``ready`` is set while calls can be expected to work: connected, and after a session
  loss only once the steps that must come first (restoring registrations) are done.
  User calls wait for it (:attr:`retry`); recovery steps wait only for a connection
  (:attr:`retry_connected`).
- After a session loss the core runs the recovery steps, in order, on a thread of its
  own (never on kazoo's event thread): ``before_ready`` steps, then ``ready`` is set,
  then the other steps; :meth:`wait_recovered` returns when all are done.
- After a reconnection with the session kept, reconnect steps run (kazoo forgot its
  watchers with the connection).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry
from kazoo.security import make_acl

from ..errors import FailedConnect
from .._steps import links as link_steps
from .._steps.settle import settle
from .._znode.paths import format_address
from .drivers import run
from .kazoo_internals import access, new_client, tls_arguments
from .retry import RetryPolicy
from .rewatch import rewatch
from .tls import TLS_FAILURE_HINT, TLSOption, kazoo_tls_options
from .worker import Worker

__all__ = ["SessionCore", "default_connection_string"]

log = logging.getLogger("zkservices.session")

Step = Callable[[int], Any]


def default_connection_string() -> str:
    """``$ZKSERVICES_CONNECTION``, else ``$ZC_ZK_CONNECTION_STRING``, else ``127.0.0.1:2181``."""
    return (
        os.environ.get("ZKSERVICES_CONNECTION")
        or os.environ.get("ZC_ZK_CONNECTION_STRING")
        or "127.0.0.1:2181"
    )


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
        self._epoch = 0  # connections: one more at every loss of one (SUSPENDED or LOST)
        self._epoch_live = False
        self._loss_zxids: dict[int, int] = {}  # epoch -> the last zxid seen on it
        self._steps: list[_RecoveryStep] = []
        self._reconnect_steps: list[Callable[[], Any]] = []
        self._close_steps: list[Callable[[], Any]] = []
        self._connected = threading.Event()
        self._ready = threading.Event()
        self._recovered = threading.Event()
        self._recovered.set()
        self._kazoo_callback_thread: threading.Thread | None = None
        #: Whether :meth:`settle` has anything to wait for (set by the view registry).
        self.settle_needed: Callable[[], bool] = lambda: True
        self.retry = RetryPolicy(ready=self._ready, closed=lambda: self._closed)
        self.retry_connected = RetryPolicy(ready=self._connected, closed=lambda: self._closed, name="recovery")
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
        self.worker = Worker(f"zkservices-worker-{id(self):x}")
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
            self._ready.set()
            self._epoch_live = True
        self._started = True
        # Learn which thread runs kazoo's watch callbacks (first thing in its queue):
        # settle() must not wait for that queue from that very thread.  (A kazoo whose
        # handler cannot run it there has no such queue to wait for: see settle.)
        if access(self.client).callbacks:
            access(self.client).on_event_thread(self._note_callback_thread)
        cid = self.client.client_id
        log.info("connected to %s (session 0x%x)", self.connection_string, cid[0] if cid else 0)

    def _note_callback_thread(self) -> None:
        self._kazoo_callback_thread = threading.current_thread()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def owns_client(self) -> bool:
        """False for a core around a KazooClient handed in (closing leaves it running)."""
        return self._own_client

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def state(self) -> str:
        return self.client.state

    @property
    def session_id(self) -> int | None:
        cid = self.client.client_id
        return cid[0] if cid else None

    @property
    def epoch(self) -> int:
        """How many times a connection was lost (suspended or session lost): a watch set
        while ``epoch`` was N was forgotten by kazoo when N ended."""
        return self._epoch

    def forget_loss_zxids(self) -> None:
        """Forget the zxids seen before earlier losses: the servers' history no longer
        continues them (a rebuilt or restored ensemble), so views read instead of
        re-arming as of them."""
        self._loss_zxids.clear()

    def loss_zxid(self, epoch: int) -> int | None:
        """The last zxid the client saw before connection ``epoch`` ended (None: unknown,
        or not ended): every change after a read made then either was notified before
        that zxid's reply or has a larger zxid."""
        return self._loss_zxids.get(epoch)

    @property
    def generation(self) -> int:
        """How many times the session was lost and replaced; a stale recovery compares it."""
        return self._generation

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
        self._connected.set()
        self._recovered.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until calls can be expected to work; False on timeout."""
        return self._ready.wait(timeout) and not self._closed

    def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete; False on timeout."""
        return self._recovered.wait(timeout)

    # -- steps -----------------------------------------------------------

    def add_recovery_step(self, name: str, step: Step, *, before_ready: bool = False) -> None:
        """Run ``step(generation)`` after every session loss, once a new session exists.

        Steps run in the order added, ``before_ready`` ones first (user calls wait for
        them); a step that raises is logged and the others still run.  Steps run on the
        recovery thread and may block; they use :attr:`retry_connected`.
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

    # -- state changes (on kazoo's thread: never call kazoo here) --------

    def _note_loss(self) -> None:
        # kazoo calls listeners before it forgets its watchers and (LOST) its last zxid
        if self._epoch_live:
            self._epoch_live = False
            self._loss_zxids[self._epoch] = self.client.last_zxid or 0
            self._loss_zxids.pop(self._epoch - 16, None)
            self._epoch += 1

    def _on_state(self, state: str) -> None:
        if state == KazooState.CONNECTED:
            session = self.session_id or 0
            self._epoch_live = True
            self._connected.set()
            if self._lost:
                self._lost = False
                self._suspended = False
                self._generation += 1
                log.warning("new session 0x%x established after session loss; restoring registrations and watches",
                            session)
                self._spawn("zkservices-recover", self._recover, self._generation)
            else:
                if self._suspended:
                    log.info("reconnected to ZooKeeper; session 0x%x kept", session)
                self._suspended = False
                self._ready.set()
                for step in self._reconnect_steps:
                    self._spawn("zkservices-reconnect", step)
        elif state == KazooState.SUSPENDED:
            self._note_loss()
            self._connected.clear()
            self._ready.clear()
            self._suspended = True
            log.warning("connection to ZooKeeper suspended; reconnecting")
        elif state == KazooState.LOST:
            self._note_loss()
            self._connected.clear()
            if not self._closed:
                self._ready.clear()
                self._recovered.clear()
                self._lost = True
                log.warning("ZooKeeper session lost (expired or closed)")

    def _spawn(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        if not self._closed:
            threading.Thread(target=fn, args=args, name=name, daemon=True).start()

    def _recover(self, generation: int) -> None:
        started = time.monotonic()
        steps = sorted(self._steps, key=lambda s: not s.before_ready)
        ready_marked = False
        for step in steps:
            if not step.before_ready and not ready_marked:
                ready_marked = self._mark_ready(generation)
            if self._closed or generation != self._generation:
                return
            try:
                step.run(generation)
            except Exception:
                if self._closed:
                    return
                log.exception("recovery step %r failed", step.name)
        if not ready_marked:
            self._mark_ready(generation)
        if self._closed or generation != self._generation:
            return  # lost again meanwhile: that loss has its own recovery
        log.info("recovery done in %.3fs", time.monotonic() - started)
        self._recovered.set()

    def _mark_ready(self, generation: int) -> bool:
        if generation == self._generation and self.client.connected:
            self._ready.set()
        return True

    # -- reading helpers ---------------------------------------------------

    def read_properties(self, path: str) -> dict | None:
        """The decoded properties of ``path``; None when the node does not exist."""
        return run(self, link_steps.read_properties(path))

    def node_exists(self, path: str) -> bool:
        """Whether ``path`` exists."""
        return run(self, link_steps.node_exists(path))

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

    def forget_watcher(self, watcher: Callable[..., Any], paths: Iterable[str]) -> None:
        """Drop a one-shot kazoo watcher we set on ``paths`` (releasing what it holds)."""
        # kazoo has no public way to drop a watcher; its tables are per path.
        chroot = self.client.chroot or ""
        keys: list[str] = []
        for path in paths:
            full = ((chroot + path).rstrip("/") or "/") if chroot else path
            keys += (path, full) if full != path else (path,)
        access(self.client).forget_watcher(watcher, keys)

    def rewatch(self, relative_zxid: int, data: Sequence[tuple[str, Callable[..., Any]]],
                children: Sequence[tuple[str, Callable[..., Any]]]) -> bool:
        """Re-arm data and child watches ``(path, watcher)`` in a few SetWatches requests
        (see :mod:`zkservices._session.rewatch`), as of ``relative_zxid``: the server fires
        at once the watches of nodes changed after it.  True when the server confirmed
        them all on this connection; False (read the nodes instead) otherwise."""
        epoch = self._epoch
        if not self._epoch_live or not (data or children):
            return not (data or children)
        done = rewatch(self.client, relative_zxid, data, children)
        return done and epoch == self._epoch and self._epoch_live

    # -- settling ----------------------------------------------------------

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
