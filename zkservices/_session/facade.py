"""The ZooKeeper helper: one kazoo session, its views, registrations and recovery."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionClosedError,
    ConnectionLoss,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import Callback, KazooState
from kazoo.retry import KazooRetry
from kazoo.security import make_acl

from . import registrar as _registration
from .._znode.encoding import decode, encode
from ..errors import BadPropertyLink, FailedConnect, LinkLoop
from .._znode.links import LINK_SUFFIX, MAX_LINK_DEPTH, PROPERTY_LINK_SUFFIX, follow_property, resolve
from .._znode.paths import Address, check_path, format_address, join, parse_address, split
from .._session.registrar import Registration, local_addresses
from .._tree import ops as tree_ops
from .._session.views import Children, Properties, compare_and_set
from .._session.worker import Worker

__all__ = ["ZooKeeper", "default_connection_string"]

log = logging.getLogger("zkservices.session")

_RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)


def default_connection_string() -> str:
    """``$ZKSERVICES_CONNECTION``, else ``$ZC_ZK_CONNECTION_STRING``, else ``127.0.0.1:2181``."""
    return (
        os.environ.get("ZKSERVICES_CONNECTION")
        or os.environ.get("ZC_ZK_CONNECTION_STRING")
        or "127.0.0.1:2181"
    )


_kazoo_routed = False


def _route_kazoo_logging() -> None:
    """Send kazoo's log records through ``zkservices.kazoo`` (once)."""
    global _kazoo_routed
    if _kazoo_routed:
        return
    _kazoo_routed = True
    ours = logging.getLogger("zkservices.kazoo")
    kazoo_logger = logging.getLogger("kazoo")

    class _Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if ours.isEnabledFor(record.levelno):
                record.name = "zkservices." + record.name
                ours.handle(record)

    kazoo_logger.addHandler(_Forward())
    kazoo_logger.propagate = False
    # kazoo checks its own logger's level before it makes a record; left NOTSET
    # that is the root's level (WARNING by default), so configuring only the
    # ``zkservices`` logger never showed kazoo's INFO records (connecting,
    # session state).  Let INFO and up through to _Forward, which applies
    # zkservices.kazoo's level.  Not DEBUG: kazoo logs every response at DEBUG,
    # a record per request; set the "kazoo" logger's level to get those.  An
    # explicit level set on "kazoo" by the application is kept.
    if kazoo_logger.level == logging.NOTSET:
        kazoo_logger.setLevel(logging.INFO)


class ZooKeeper:
    """A ZooKeeper session with zc.zk's high-level API.

    ``ZooKeeper(connection_string=None, session_timeout=10.0, wait=False, *,
    auth=None, read_only=False, client=None, timeout=10.0)``; see the README.
    """

    def __init__(
        self,
        connection_string: str | None = None,
        session_timeout: float = 10.0,
        wait: bool = False,
        *,
        auth: Sequence[tuple[str, str]] | None = None,
        read_only: bool = False,
        client: KazooClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        _route_kazoo_logging()
        self._closed = False
        self._auth = list(auth or [])
        self._views: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._held: set[Any] = set()  # views with callbacks: never collected silently
        self._registrations: dict[str, _registration._Node] = {}
        self._reg_lock = threading.RLock()
        self._lost = False
        self._suspended = False
        self._session_generation = 0
        self._connected = threading.Event()
        self._recovered = threading.Event()
        self._recovered.set()
        self._retry_template = KazooRetry(
            max_tries=-1, delay=0.05, backoff=2, max_delay=1.0, ignore_expire=False, interrupt=lambda: self._closed
        )
        if client is not None:
            # A wrapped client must have been started (and so have a session):
            # without this check the failure was an obscure TypeError below.
            if client.client_id is None:
                raise ValueError(
                    f"client= takes a started KazooClient; call {client!r}.start() first"
                )
            self._own_client = False
            self.client = client
            self.connection_string = connection_string or ",".join(
                format_address(h, p) for h, p in client.hosts
            ) + (client.chroot or "")
        else:
            self._own_client = True
            self.connection_string = connection_string or default_connection_string()
            self.client = KazooClient(
                hosts=self.connection_string,
                timeout=session_timeout,
                auth_data=self._auth or None,
                read_only=read_only,
                connection_retry=KazooRetry(max_tries=-1, delay=0.1, backoff=2, max_delay=2.0),
                command_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=1.0, ignore_expire=False),
            )
        self._worker = Worker(f"zkservices-worker-{id(self):x}", self._refresh_batch)
        self.client.add_listener(self._on_state)
        if self.client.connected:
            self._connected.set()
        if self._own_client:
            self._start(timeout, wait)
        # Learn which thread runs kazoo's watch callbacks (first thing in its
        # queue): _settle must not wait for that queue from that very thread.
        self._kazoo_callback_thread: threading.Thread | None = None
        self.client.handler.dispatch_callback(Callback("watch", self._note_callback_thread, ()))
        log.info("connected to %s (session 0x%x)", self.connection_string, self.client.client_id[0])

    def _note_callback_thread(self) -> None:
        self._kazoo_callback_thread = threading.current_thread()

    # -- connecting ----------------------------------------------------

    def _start(self, timeout: float, wait: bool) -> None:
        while True:
            try:
                self.client.start(timeout=timeout)
                return
            except KazooTimeoutError:
                if not wait:
                    self.client.stop()
                    self.client.close()
                    self._worker.stop()
                    self._closed = True
                    raise FailedConnect(
                        f"no ZooKeeper server answered within {timeout:g}s at {self.connection_string}"
                    ) from None
                log.warning("no ZooKeeper server at %s yet; still trying", self.connection_string)

    def _on_state(self, state: str) -> None:
        # Runs on kazoo's connection thread: never call kazoo from here.
        if state == KazooState.CONNECTED:
            session = self.client.client_id[0] if self.client.client_id else 0
            if not self._lost:
                # after a session loss, views wait (on _connected) until the
                # registrations are back, so callbacks see the restored state
                self._connected.set()
            if self._lost:
                self._lost = False
                self._session_generation += 1
                log.warning("new session 0x%x established after session loss; restoring registrations and watches", session)
                threading.Thread(
                    target=self._recover, args=(self._session_generation,), name="zkservices-recover", daemon=True
                ).start()
            else:
                if self._suspended:
                    log.info("reconnected to ZooKeeper; session 0x%x kept", session)
                self._suspended = False
                with self._reg_lock:
                    nodes = list(self._registrations.values())
                if nodes:  # kazoo dropped its watchers with the connection
                    threading.Thread(
                        target=self._retrack, args=(nodes,), name="zkservices-retrack", daemon=True
                    ).start()
        elif state == KazooState.SUSPENDED:
            self._connected.clear()
            self._suspended = True
            log.warning("connection to ZooKeeper suspended; reconnecting")
        elif state == KazooState.LOST:
            self._connected.clear()
            if not self._closed:
                self._recovered.clear()
                self._lost = True
                log.warning("ZooKeeper session lost (expired or closed)")

    def _retrack(self, nodes: list[Any]) -> None:
        for node in nodes:
            _registration.track(self, node)

    def _recover(self, generation: int) -> None:
        started = time.monotonic()
        with self._reg_lock:
            nodes = list(self._registrations.values())
        try:
            _registration.restore(self, nodes, generation)
        except Exception:
            if self._closed:  # closed during the restore: nothing went wrong
                return
            log.exception("restoring registrations failed")
        if generation == self._session_generation and self.client.connected:
            self._connected.set()
        views = list(self._views)
        self._worker.request_refresh(views)
        try:
            self._worker.barrier(None)
        except RuntimeError:  # closed meanwhile
            return
        if generation != self._session_generation:
            return  # lost again meanwhile; that loss has its own recovery
        log.info(
            "recovery: %d registration(s) restored, %d view(s) re-armed in %.3fs",
            len(nodes), len(views), time.monotonic() - started,
        )
        self._recovered.set()

    def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete.

        True when no recovery is pending (registrations re-created, views
        re-armed and their callbacks run), False on timeout.
        """
        return self._recovered.wait(timeout)

    def _retry(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._retry_template.copy()(fn, *args, **kwargs)

    # -- the named core API (transitional: becomes a SessionCore object) ----

    @property
    def core(self) -> "ZooKeeper":
        """The session core that recipes (trees, discovery, feeds) use."""
        return self

    @property
    def registrar(self) -> "ZooKeeper":
        """The registrations of this session."""
        return self

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._auth)

    def retry(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._retry(fn, *args, **kwargs)

    def settle(self, timeout: float = 30.0) -> None:
        self._settle(timeout)

    def read_properties(self, path: str) -> dict | None:
        return self._read_properties(path)

    def node_exists(self, path: str) -> bool:
        return self._exists(path)

    def default_acl(self) -> list[Any] | None:
        return self._default_acl()

    def forget_watcher(self, watcher: Callable[..., Any], paths: Iterable[str]) -> None:
        self._forget_watcher(watcher, paths)

    def add_state_listener(self, listener: Callable[[str], Any]) -> None:
        self.client.add_listener(listener)

    def remove_state_listener(self, listener: Callable[[str], Any]) -> None:
        self.client.remove_listener(listener)

    def unregister_paths(self, paths: Iterable[str]) -> None:
        self._unregister_paths(paths)

    # -- properties of the session -------------------------------------

    @property
    def state(self) -> str:
        return self.client.state

    @property
    def connected(self) -> bool:
        return self.client.connected

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the session (idempotent): views stop, ephemeral registrations vanish at once."""
        if self._closed:
            return
        self._closed = True
        for view in list(self._views):
            view.close()
        self._held.clear()
        with self._reg_lock:
            paths = list(self._registrations)
            registrations = {node.registration for node in self._registrations.values()}
            self._registrations.clear()
        # Mark them unregistered: a restore running after a session loss must
        # not re-create them (with client= the session lives on, and such a
        # node stayed on the server after close), and a later unregister()
        # has nothing left to do.
        for registration in registrations:
            registration.active = False
        self.client.remove_listener(self._on_state)
        if self._own_client:
            try:
                self.client.stop()
            finally:
                self.client.close()
        else:
            for path in paths:
                try:
                    self.client.delete(path)
                except Exception:
                    pass
        self._worker.stop()
        self._recovered.set()  # nothing left to recover: wait_recovered() must not block
        log.info("closed session to %s", self.connection_string)

    def __enter__(self) -> "ZooKeeper":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        else:
            cid = self.client.client_id
            state = f"{self.client.state} session=0x{cid[0]:x}" if cid else self.client.state
        return f"<ZooKeeper {self.connection_string} {state}>"

    # -- pass-throughs -------------------------------------------------

    def exists(self, path: str, watch: Callable[..., Any] | None = None) -> Any:
        return self.client.exists(check_path(path), watch=watch)

    def get(self, path: str, watch: Callable[..., Any] | None = None) -> tuple[bytes, Any]:
        return self.client.get(check_path(path), watch=watch)

    def get_children(self, path: str, watch: Callable[..., Any] | None = None, include_data: bool = False) -> Any:
        return self.client.get_children(check_path(path), watch=watch, include_data=include_data)

    def create(self, path: str, value: bytes = b"", acl: Any = None, ephemeral: bool = False,
               sequence: bool = False, makepath: bool = False) -> str:
        result = self.client.create(check_path(path), value, acl=acl, ephemeral=ephemeral,
                                    sequence=sequence, makepath=makepath)
        self._settle()
        return result

    def set(self, path: str, value: bytes, version: int = -1) -> Any:
        result = self.client.set(check_path(path), value, version=version)
        self._written(path, value)
        self._settle()
        return result

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> Any:
        result = self.client.delete(check_path(path), version=version, recursive=recursive)
        self._settle()
        return result

    def ensure_path(self, path: str, acl: Any = None) -> Any:
        return self.client.ensure_path(check_path(path), acl=acl)

    # -- links -----------------------------------------------------------

    def _read_properties(self, path: str) -> dict | None:
        try:
            data, _ = self.client.get(path)
        except NoNodeError:
            return None
        return decode(data)

    def _exists(self, path: str) -> bool:
        return self.client.exists(path) is not None

    def resolve(self, path: str) -> str:
        """Follow symbolic links; raise :class:`LinkLoop` or :class:`NoNodeError`."""
        return resolve(path, self._read_properties, self._exists)

    def ln(self, target: str, source: str) -> None:
        """Make ``source`` a symbolic link to ``target`` (a ``'name ->'`` property
        on ``source``'s parent).  A ``target`` ending in ``/`` gets the source's
        name appended."""
        check_path(source)
        parent, name = split(source)
        if target.endswith("/"):
            target = target + name
        real_parent = self.resolve(parent)
        compare_and_set(self, real_parent, lambda old: {**old, name + " ->": target}, merging=True)
        self._settle()

    def _check_property_links(
        self, path: str, properties: Mapping[str, Any], old: Mapping[str, Any] | None = None
    ) -> None:
        """Raise BadPropertyLink/LinkLoop if a property link in ``properties`` would be bad.

        With ``old`` (the node's properties before the write), a link this
        write leaves as it was and that was already bad before is let through:
        a link whose target an operator deleted must not block every
        unrelated update of the node (or ``ln`` on it).  A write that breaks
        a link, or writes a bad one, is still refused.
        """

        def check(props: Mapping[str, Any], name: str) -> None:
            def read(p: str) -> dict | None:
                return dict(props) if p == path else self._read_properties(p)

            follow_property(path, dict(props), name, read=read, resolve_path=self.resolve)

        for key in properties:
            if not key.endswith(PROPERTY_LINK_SUFFIX):
                continue
            name = key[: -len(PROPERTY_LINK_SUFFIX)]
            if name in properties:
                continue
            try:
                check(properties, name)
            except (BadPropertyLink, LinkLoop):
                if old is None or name in old or key not in old or old[key] != properties[key]:
                    raise
                try:
                    check(old, name)
                except (BadPropertyLink, LinkLoop):
                    continue  # bad before this write already: not this write's doing
                raise

    # -- views ---------------------------------------------------------

    def children(self, path: str) -> Children:
        """A self-updating :class:`Children` view of ``path`` (links followed)."""
        return Children(self, path)

    def properties(self, path: str, watch: bool = True) -> Properties:
        """A self-updating :class:`Properties` view (``watch=False``: read once)."""
        return Properties(self, path, watch=watch)

    def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties as a plain dict (links followed, read once)."""
        view = Properties(self, path, watch=False)
        return {key: view[key] for key in view}

    def _hold(self, view: Any) -> None:
        self._held.add(view)

    def _release(self, view: Any) -> None:
        self._held.discard(view)

    def _forget_watcher(self, watcher: Callable[..., Any], paths: Iterable[str]) -> None:
        # kazoo has no public way to drop a one-shot watcher; its sets are
        # per path.  Dropping ours releases the closure (it only holds a weakref).
        for table in (getattr(self.client, "_child_watchers", {}), getattr(self.client, "_data_watchers", {})):
            for path in paths:
                full = (self.client.chroot or "") + path if self.client.chroot else path
                for key in (path, full.rstrip("/") or "/"):
                    watchers = table.get(key)
                    if watchers:
                        watchers.discard(watcher)

    def _refresh_batch(self, views: list[Any]) -> None:
        """Refresh views (on the worker): pipelined reads, retried through connection loss."""
        views = [v for v in views if not v.closed]
        while views and not self._closed:
            if not self._connected.wait(0.5):
                continue
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
                except _RETRYABLE:
                    retry.append(view)
                except ConnectionClosedError:
                    return
                except Exception:
                    log.exception("refreshing %r failed", view)
            views = retry
            if views:
                log.debug("re-arming %d view(s) after connection trouble", len(views))
                time.sleep(0.05)

    def _settle(self, timeout: float = 30.0) -> None:
        """Let views catch up with what this session just wrote.

        ZooKeeper sends a watch event before the reply to the write that
        triggered it; kazoo has queued our watcher by the time the write
        returns.  Wait until kazoo's callback queue passed that point, then
        until our worker ran the resulting refreshes and callbacks.
        """
        if self._worker.in_worker() or self._closed or not self._views:
            return
        if threading.current_thread() is self._kazoo_callback_thread:
            # Called from a kazoo watch callback (e.g. a write inside a kazoo
            # DataWatch on zk.client): the marker below would queue behind the
            # running callback and the write would stall for ``timeout``.
            return
        marker = threading.Event()
        self.client.handler.dispatch_callback(Callback("watch", marker.set, ()))
        try:
            if marker.wait(timeout):
                self._worker.barrier(timeout)
                return
        except (FutureTimeout, RuntimeError):  # worker busy (a slow callback, an outage) or stopped
            pass
        # The write itself succeeded; only our views lag (e.g. the worker waits
        # for a reconnection, or a callback is slow).  Never fail the write.
        log.warning("views did not catch up with this session's write within %gs; continuing", timeout)

    # -- writes --------------------------------------------------------

    def _compare_and_set(self, path: str, make: Callable[[dict], dict], *, merging: bool) -> bytes:
        return compare_and_set(self, path, make, merging=merging)

    def _written(self, path: str, data: bytes) -> None:
        """Remember data written to a registration node, for restoring it later."""
        with self._reg_lock:
            node = self._registrations.get(path)
            if node is not None:
                node.data = data

    # -- registration --------------------------------------------------

    def _resolve_or_create(self, path: str, _depth: int = 0) -> str:
        """Resolve ``path``; create what is missing below the deepest existing node."""
        check_path(path)
        try:
            return self.resolve(path)
        except NoNodeError:
            pass
        parent, name = split(path)
        real_parent = self._resolve_or_create(parent, _depth) if parent != path else "/"
        real = join(real_parent, name)
        try:
            return self.resolve(real)
        except NoNodeError:
            pass
        # ``name`` may be a dangling symbolic link: create its target (as a
        # write through a link lands on the real node) instead of a real node
        # ``real`` that would silently shadow the link from then on.
        target = (self._read_properties(real_parent) or {}).get(name + LINK_SUFFIX)
        if isinstance(target, str) and target.strip():
            if _depth > MAX_LINK_DEPTH:
                raise LinkLoop(f"{path}: too many levels of symbolic links")
            return self._resolve_or_create(join(real_parent, target.strip()), _depth + 1)
        self._retry(self.client.ensure_path, real)
        return real

    def _default_acl(self) -> list[Any] | None:
        if not self._auth:
            return None  # kazoo's default: open
        return [make_acl("world", "anyone", read=True), make_acl("auth", "", all=True)]

    def register_server(self, path: str, address: Address, acl: Sequence[Any] | None = None,
                        **properties: Any) -> Registration:
        """Register an ephemeral ``host:port`` child of ``path``; see the README."""
        host, port = parse_address(address)
        hosts = [host] if host else local_addresses()
        real = self._resolve_or_create(path)
        names = [format_address(h, port) for h in hosts]
        acl = list(acl) if acl is not None else self._default_acl()
        registration = Registration(self, path, real, names)
        nodes = []
        for h, name, node_path in zip(hosts, names, registration.paths):
            data = dict(properties)
            data.setdefault("pid", os.getpid())
            data["host"] = h
            data["port"] = port
            nodes.append(_registration._Node(node_path, name, encode(data, path=node_path), acl, registration))
        with self._reg_lock:
            for node in nodes:
                self._registrations[node.path] = node
        try:
            for node in nodes:
                _registration.put_ephemeral(self, node)
                _registration.track(self, node)
                log.info("registered %s at %s", node.name, node.path)
        except BaseException:
            registration.unregister()
            raise
        self._settle()
        return registration

    register = register_server

    def unregister(self, path: str, address: Address) -> None:
        """Remove a registration made by this session (same address forms as register)."""
        host, port = parse_address(address)
        hosts = [host] if host else local_addresses()
        try:
            real = self.resolve(path)
        except _RETRYABLE:
            # No server to ask (connection suspended, session just lost): use
            # where this session registered at ``path``.  Raising here left
            # the registration in the table, so it came back after expiry.
            with self._reg_lock:
                reals = {
                    n.registration.real_path
                    for n in self._registrations.values()
                    if path in (n.registration.path, n.registration.real_path)
                }
            if len(reals) != 1:
                raise
            real = reals.pop()
        paths = [join(real, format_address(h, port)) for h in hosts]
        with self._reg_lock:
            registrations = {self._registrations[p].registration for p in paths if p in self._registrations}
        for registration in registrations:
            registration.active = False
        self._unregister_paths(paths)

    def _unregister_paths(self, paths: Iterable[str]) -> None:
        with self._reg_lock:
            for path in paths:
                self._registrations.pop(path, None)
        for path in paths:
            try:
                self._retry(self.client.delete, path)
                log.info("unregistered %s", path)
            except NoNodeError:
                pass
            except SessionExpiredError:
                log.info("unregistered %s (its session is gone, and the node with it)", path)
        self._settle()

    # -- trees ---------------------------------------------------------------
    # (zkservices._tree.ops does the work, with this session's core)

    def is_ephemeral(self, path: str) -> bool:
        """Whether the node at ``path`` is ephemeral.

        :param path: the node; symbolic links in it are followed.
        :returns: True for an ephemeral node, False for a persistent one.
        :raises NoNodeError: there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.is_ephemeral(self.core, path)

    def export_tree(
        self,
        path: str = "/",
        ephemeral: bool = False,
        name: str | None = None,
        format: str = "text",
        *,
        progress: "tree_ops.Progress | None" = None,
    ) -> str:
        """The tree at ``path`` in the text (zc.zk's) or the YAML form.

        Deterministic and lossless with :meth:`import_tree`; trees of any depth.
        Node data no tree form can hold exports as a ``string_value`` property
        (with a WARNING naming the node).

        :param path: the top node (links followed; the export keeps the name
            given).  ``'/'`` exports the top-level nodes (``/zookeeper`` never).
        :param ephemeral: include ephemeral nodes (left out by default).
        :param name: rename the top node; with ``path='/'``, wrap the top-level
            nodes in a node of that name holding the root's properties.
        :param format: ``'text'`` or ``'yaml'``.
        :param progress: ``progress(phase, done, total)``, called now and then while reading.
        :returns: the tree as text ending with a newline (``""`` if ``path``
            is an ephemeral node and ``ephemeral`` is false).
        :raises ValueError: an unknown ``format`` or an invalid ``name``.
        :raises NoNodeError: there is no node at ``path`` (or the chroot is missing).
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.export_tree(self.core, path, ephemeral, name, format, progress=progress)

    def print_tree(self, path: str = "/") -> None:
        """Print the export of ``path``, ephemeral nodes included, to standard output.

        :param path: the top node (links followed).
        :raises NoNodeError: there is no node at ``path``.
        """
        tree_ops.print_tree(self.core, path)

    def walk(self, path: str = "/", ephemeral: bool = True, children: bool = False) -> Iterator[Any]:
        """Walk the tree at ``path`` lazily, pre-order, start node first.

        Each node is read when the walk gets to it, so nodes deleted during
        the walk are skipped.  ``/zookeeper`` is never visited.

        :param path: the start node; symbolic links are followed and real paths yielded.
        :param ephemeral: False skips ephemeral nodes at every depth (their
            flags are read pipelined).
        :param children: yield ``(path, names)`` pairs instead of paths:
            ``names`` is the sorted list of children to visit next, and
            removing names from it prunes them.
        :returns: an iterator of paths (or pairs).
        :raises NoNodeError: at once, when there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.walk(self.core, path, ephemeral, children)

    def delete_recursive(
        self, path: str, dry_run: bool = False, force: bool = False, ignore_if_ephemeral: bool = False
    ) -> "list[tree_ops.Change]":
        """Delete ``path`` and everything below it, children first.

        Links in the parent path are followed; the last segment must be a
        real node.  ``/`` itself and ``/zookeeper`` are never deleted.

        :param path: the top node to delete.
        :param dry_run: return the plan and delete nothing.
        :param force: delete ephemeral nodes too; otherwise they and the
            nodes above them are kept (and logged at WARNING).
        :param ignore_if_ephemeral: keeping ephemeral nodes is expected:
            log them at DEBUG only.
        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises NoNodeError: there is no node at ``path``.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.delete_recursive(self.core, path, dry_run, force, ignore_if_ephemeral)

    def import_tree(
        self,
        text: "tree_ops.TreeInput",
        path: str = "/",
        trim: bool | None = None,
        acl: Sequence[Any] | None = None,
        dry_run: bool = False,
        *,
        filename: str | None = None,
        progress: "tree_ops.Progress | None" = None,
    ) -> "list[tree_ops.Change]":
        """Import a tree (text or YAML, or a parsed Node) below ``path``.

        Everything is checked before anything is written.  Each imported node
        gets exactly the properties the tree gives it; unchanged nodes are not
        written.  Changes go out in pipelined transactions; each is atomic, the
        whole import is not, and when another client changes the tree
        meanwhile the import reads, plans and applies again.

        :param text: the tree: text or UTF-8 bytes in either form, or a :class:`~zkservices.Node`.
        :param path: where the tree's root goes; resolved through symbolic
            links and created if missing.
        :param trim: nodes below the imported top-level nodes that the tree
            does not list: True deletes them (never ephemeral nodes nor their
            ancestors), None logs a WARNING for each, False leaves them silently.
        :param acl: ACL for created nodes, also set on imported nodes whose ACL
            differs; None uses the client's default and leaves ACLs alone.
        :param dry_run: return the plan, writing nothing.
        :param filename: named in errors.
        :param progress: ``progress(phase, done, total)``, called now and then.
        :returns: the changes made (or planned), as :class:`~zkservices.Change`.
        :raises TreeError: naming the line (a ``ValueError``): a tree that does
            not parse, invalid names or values, data over the node size limit,
            bad property links; nothing is changed.
        :raises TypeError: ``text`` is not a tree, or ``trim`` not True/False/None.
        :raises LinkLoop: symbolic links in ``path`` loop.
        """
        return tree_ops.import_tree(
            self.core, text, path, trim, acl, dry_run, filename=filename, progress=progress
        )


ZK = ZooKeeper
