"""The ZooKeeper helper: zc.zk's API, composed of the session core, the parts that register
with it (registrar, views, rebuilt-ensemble watch) and the tree operations; no state of its own."""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence, overload

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import KazooState, KeeperState, ZnodeStat

from .errors import NoNode
from ._formats import Format, provider_format_argument
from ._types import Watch
from ._znode.links import LINK_SUFFIX
from ._znode.paths import Address, check_path, normalize, split
from ._session.core import SessionCore, default_connection_string
from ._session.retry import authorized
from ._session.tls import TLS, probe_context
from ._session.providers import Providers
from ._session.readonly import ReadOnlyFallback
from ._session.rebuilt import RebuildWatch
from ._session.registrar import Registrar, Registration
from ._session.selector import Selector
from ._session.views import Children, Properties
from ._session.viewset import ViewSet, check_resync_jitter
from ._session.writes import compare_and_set, update_properties
from ._treecalls import TreeCalls

__all__ = ["ZooKeeper", "ZK", "default_connection_string"]



class ZooKeeper(TreeCalls):
    """A ZooKeeper session with zc.zk's high-level API.

    Constructing connects (as zc.zk does) and :meth:`close` ends the session; use it as
    a context manager to close it.

    :param connection_string: ``host:port[,host:port...][/chroot]``; default
        ``$ZKSERVICES_CONNECTION``, ``$ZC_ZK_CONNECTION_STRING`` or ``127.0.0.1:2181``.
    :param session_timeout: seconds the server keeps the session without hearing from us.
    :param wait: keep trying to connect until a server answers instead of raising.
    :param auth: ``(scheme, credential)`` pairs, e.g. ``[("digest", "alice:secret")]``;
        nodes zkservices then creates are world-readable and writable by that identity.
    :param read_only: allow connecting to a read-only server (one cut off from its
        quorum, started with ZooKeeper's read-only mode): views keep serving and
        refreshing from it, :attr:`state` says ``CONNECTED_RO``, writes and
        registrations wait for a read-write server; the client moves to one when one
        answers.
    :param client: wrap an existing started KazooClient instead (``close`` leaves it
        running, but removes this helper's registrations).
    :param timeout: seconds to wait for a server when ``wait`` is false.
    :param acl: the ACL (a list of kazoo ACLs) for every node this helper creates unless
        a call names one; default: kazoo's open ACL without ``auth``, with ``auth``
        world-read and all rights for the authenticated identity.
    :param tls: a :class:`~zkservices.TLS` for a server's secure client port (``True``:
        the system's CAs, no client certificate).  A plaintext connection to a TLS port
        (or TLS to a plain one) never connects: FailedConnect after ``timeout``.
    :param resync_jitter: seconds (default 0: none) over which to spread the views'
        re-reads after a session loss: once the new session exists and the
        registrations are restored (never delayed), this session waits a random delay
        in ``[0, resync_jitter)`` before re-arming and re-reading its views, so that a
        fleet losing its sessions together does not re-read together.  Meanwhile the
        views keep their last content (they do not say they are stale) and miss
        changes, this session's own writes included; :meth:`wait_recovered` returns
        once they were re-read.  A reconnection that keeps the session is never
        delayed (and re-arms the views' watches without reading).
    :raises FailedConnect: no server answered within ``timeout``.
    :raises ValueError: ``client`` was not started.

    Every call that talks to ZooKeeper waits through a suspended connection and through
    the recovery after a session expiry; only :meth:`close` or a permanent error ends
    the wait.  Registrations are restored and views re-read after a session loss, also
    when the ensemble was rebuilt and refuses the old session (logged as an ERROR).
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
        acl: Sequence[Any] | None = None,
        tls: TLS | bool | None = None,
        resync_jitter: float = 0.0,
    ) -> None:
        resync_jitter = check_resync_jitter(resync_jitter)  # before anything connects
        self.core = SessionCore(
            connection_string, session_timeout=session_timeout, auth=auth, read_only=read_only, client=client,
            acl=acl, tls=tls,
        )
        self.registrar = Registrar(self.core, shared_client=client is not None)
        self._viewset = ViewSet(self.core, resync_jitter=resync_jitter)
        self._rebuild_watch = RebuildWatch(self.core, ssl_context=probe_context(tls))
        if read_only and client is None:
            ReadOnlyFallback(self.core, session_timeout=session_timeout)
        self.core.start(timeout=timeout, wait=wait)

    # -- the session -------------------------------------------------------

    @property
    def client(self) -> KazooClient:
        """The kazoo client underneath (for what zkservices does not wrap)."""
        return self.core.client

    @property
    def connection_string(self) -> str:
        """The connection string this helper connected with."""
        return self.core.connection_string

    @property
    def state(self) -> str:
        """The connection state: kazoo's ``CONNECTED``, ``SUSPENDED`` or ``LOST``, and
        ``CONNECTED_RO`` while a read-only server serves the session (see :attr:`read_only`;
        kazoo's own listeners say ``CONNECTED`` then)."""
        state = self.core.client.state
        return KeeperState.CONNECTED_RO if state == KazooState.CONNECTED and self.core.read_only else state

    @property
    def read_only(self) -> bool:
        """Whether a read-only server serves the session now (only with ``read_only=True``):
        one cut off from its quorum.  Reads and views go on; writes and registrations
        wait until a read-write server serves it (the client looks for one itself)."""
        return self.core.read_only

    @property
    def connected(self) -> bool:
        """Whether the client is connected right now."""
        return self.core.client.connected

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.core.closed

    def wait_recovered(self, timeout: float | None = None) -> bool:
        """Wait until recovery from the last session loss is complete (registrations
        re-created, views re-armed or re-read -- after the ``resync_jitter`` delay --
        and their callbacks run); False on timeout."""
        return self.core.wait_recovered(timeout)

    def close(self) -> None:
        """Close the session (idempotent): views stop, ephemeral registrations vanish
        at once, calls still waiting raise :class:`~zkservices.SessionClosed`."""
        self.core.close()

    def __enter__(self) -> "ZooKeeper":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self.core).replace("<SessionCore", "<ZooKeeper", 1)

    # -- kazoo's calls, through the retry policy ---------------------------

    def exists(self, path: str, watch: Watch | None = None) -> ZnodeStat | None:
        """The node's stat, or None when it does not exist (``watch``: a kazoo watcher)."""
        return self.core.retry(self.client.exists, check_path(path), watch=watch)

    def get(self, path: str, watch: Watch | None = None) -> tuple[bytes, ZnodeStat]:
        """The node's raw data and stat.  Raises :class:`~zkservices.NoNode` when missing."""
        return self._on_node("read", path, self.client.get, check_path(path), watch=watch)

    @overload
    def get_children(
        self, path: str, watch: Watch | None = None, include_data: Literal[False] = False
    ) -> list[str]: ...

    @overload
    def get_children(
        self, path: str, watch: Watch | None, include_data: Literal[True]
    ) -> tuple[list[str], ZnodeStat]: ...

    @overload
    def get_children(
        self, path: str, watch: Watch | None = None, *, include_data: Literal[True]
    ) -> tuple[list[str], ZnodeStat]: ...

    @overload
    def get_children(
        self, path: str, watch: Watch | None = None, include_data: bool = False
    ) -> list[str] | tuple[list[str], ZnodeStat]: ...

    def get_children(
        self, path: str, watch: Watch | None = None, include_data: bool = False
    ) -> list[str] | tuple[list[str], ZnodeStat]:
        """The node's child names, unsorted, as kazoo returns them; with
        ``include_data``, a ``(names, stat)`` pair.  Raises :class:`~zkservices.NoNode`."""
        return self._on_node("list", path, self.client.get_children, check_path(path), watch=watch,
                             include_data=include_data)

    def create(self, path: str, value: bytes = b"", acl: Any = None, ephemeral: bool = False,
               sequence: bool = False, makepath: bool = False) -> str:
        """Create a node with raw data; returns its path (with the sequence suffix).

        ``acl`` defaults to the helper's default ACL (see ``acl`` of the constructor).
        Raises NotAuthorized, kazoo's NodeExistsError, or
        :class:`~zkservices.NoNode` naming the parent when it is missing (without ``makepath``).
        """
        check_path(path)
        acl = acl if acl is not None else self.core.default_acl()
        result = self._on_node("create", path, self.client.create, path, value, acl=acl, ephemeral=ephemeral,
                               sequence=sequence, makepath=makepath, missing=split(path)[0])
        self.core.settle()
        return result

    def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        """Replace a node's raw data (``version``: only if it still has that version)."""
        result = self._on_node("write", path, self.client.set, check_path(path), value, version=version)
        self.registrar.written(path, value)
        self.core.settle()
        return result

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> bool | None:
        """Delete a node (``recursive``: with everything below it).

        Returns kazoo's value: True, or None for a recursive delete of a node
        that existed.  Raises :class:`~zkservices.NoNode` (not when ``recursive``).
        """
        result = self._on_node("delete", path, self.client.delete, check_path(path), version=version,
                               recursive=recursive)
        self.core.settle()
        return result

    def _on_node(self, action: str, path: str, fn: Callable[..., Any], *args: Any, missing: str | None = None,
                 **kwargs: Any) -> Any:
        """``fn`` through the retry policy; a refusal is NotAuthorized naming ``path``, a
        missing node NoNode naming ``missing`` (default: ``path``)."""
        try:
            with authorized(action, path):
                return self.core.retry(fn, *args, **kwargs)
        except NoNodeError:
            raise NoNode(missing or path) from None

    def ensure_path(self, path: str, acl: Any = None) -> str | bool:
        """Create ``path`` and its missing parents (empty data, the default ACL unless ``acl``).

        Returns kazoo's value: the path when this call created the node, True
        when it existed already.
        """
        acl = acl if acl is not None else self.core.default_acl()
        with authorized("create", path):
            result = self.core.retry(self.client.ensure_path, check_path(path), acl=acl)
        self.core.settle()
        return result

    def update_properties(self, path: str, **properties: Any) -> None:
        """Merge ``properties`` into the node's properties, compare-and-set (concurrent
        writers lose nothing).  A write bringing property links resolves ``path`` through
        symbolic links and checks the links, as :meth:`Properties.update` does.

        :raises NoNode: the node is missing.
        :raises NodeDeleted: the node was deleted while written.
        :raises ValueError: the data is not a JSON object, or a value cannot be stored.
        :raises BadPropertyLink: the write would make a property link bad.
        """
        update_properties(self.core, path, properties, written=self.registrar.written)
        self.core.settle()

    # -- links -------------------------------------------------------------

    def resolve(self, path: str) -> str:
        """Follow symbolic links in ``path``; return the real path.

        ``.`` and ``..`` segments are resolved first, as zc.zk did
        (``resolve('/top/a/b/c/./..') == '/top/a/b'``); every other call refuses them.
        Raises :class:`~zkservices.NoNode` (a kazoo NoNodeError) when a segment is
        neither a node nor a link, :class:`~zkservices.LinkLoop` for a loop,
        :class:`~zkservices.InvalidPath`.
        """
        return self.core.resolve(normalize(path))

    def ln(self, target: str, source: str) -> None:
        """Make ``source`` a symbolic link to ``target`` (a ``'name ->'`` property on
        ``source``'s parent).  A ``target`` ending in ``/`` gets the source's name
        appended.  Raises NoNode when ``source``'s parent does not exist."""
        check_path(source)
        parent, name = split(source)
        if target.endswith("/"):
            target = target + name
        real_parent = self.resolve(parent)
        compare_and_set(self.core, real_parent, lambda old: {**old, name + LINK_SUFFIX: target}, merging=True,
                        written=self.registrar.written)
        self.core.settle()

    # -- views -------------------------------------------------------------

    def children(self, path: str, *, missing_ok: bool = False) -> Children:
        """A self-updating :class:`Children` view of ``path`` (links followed).

        Raises NoNode when ``path`` does not exist, unless ``missing_ok``: then the
        view starts empty and ``deleted``, and fills once the node is created (or a
        link makes ``path`` resolve).  Call the view with a function (or use it as
        a decorator) to be told of changes.
        """
        return Children(self.core, self._viewset, path, missing_ok=missing_ok)

    def properties(self, path: str, watch: bool = True, *, missing_ok: bool = False) -> Properties:
        """A self-updating :class:`Properties` view (``watch=False``: read once).

        Raises NoNode when ``path`` does not exist, unless ``missing_ok`` (as for
        :meth:`children`).
        """
        return Properties(self.core, self._viewset, path, watch=watch, written=self.registrar.written,
                          missing_ok=missing_ok)

    def providers(self, path: str, *, missing_ok: bool = False) -> Providers:
        """A self-updating :class:`Providers` view of ``path``, the providers node: its
        children read as providers in any format (zkservices/zc.zk/Nerve, Curator,
        ServerSet), name → :class:`~zkservices.Provider`.

        A child no format can read is left out (a WARNING names it once per version).
        Raises NoNode when ``path`` does not exist, unless ``missing_ok`` (as for
        :meth:`children`).  Call the view with a function (or use it as a decorator)
        to be told of changes.
        """
        return Providers(self.core, self._viewset, path, missing_ok=missing_ok)

    def selector(self, path: str, strategy: str = "round-robin", *, error_threshold: int = 2,
                 down_for: float = 30.0) -> Selector:
        """A :class:`Selector` picking among the enabled providers below ``path``, the
        providers node.

        :param strategy: ``"round-robin"``, ``"random"``, ``"sticky"`` or ``"least-loaded"``.
        :param error_threshold: errors within ``down_for`` seconds that take a provider
            down (:meth:`Selector.note_error`, or a failed ``lease()`` block).
        :param down_for: seconds a provider that is down is skipped.
        :raises NoNode: ``path`` does not exist.
        :raises ValueError: an unknown strategy, a bad threshold or duration.
        """
        view = self.providers(path)
        try:
            return Selector(view, strategy, error_threshold=error_threshold, down_for=down_for, owns_view=True)
        except BaseException:
            view.close()
            raise

    def get_properties(self, path: str) -> dict[str, Any]:
        """The node's properties as a plain dict (links followed, read once)."""
        view = self.properties(path, watch=False)
        return {key: view[key] for key in view}

    # -- registration --------------------------------------------------------

    def register_server(self, path: str, address: Address, acl: Sequence[Any] | None = None, *,
                        provider_format: str | Format | None = None, **properties: Any) -> Registration:
        """Register this server as an ephemeral provider node below ``path``, the
        providers node (as in zc.zk: ``zk.register_server("/fooservice/providers", addr)``).

        ``address`` is ``"host:port"``, ``(host, port)``, ``":port"`` or a port number;
        without a host, one node per address of this machine.  ``path`` and its missing
        parents are created (links followed).  The node comes back after a session loss
        with its current data.  Returns a :class:`Registration`.

        ``provider_format`` (keyword-only, never stored) chooses the node written
        (``format=`` is its deprecated spelling, still accepted with a DeprecationWarning):

        - ``"zkservices"`` (the default): a ``host:port`` child holding ``properties`` plus
          ``host``, ``port`` and ``pid`` (zc.zk's and Nerve's readers understand it);
        - ``"curator"`` or a :class:`~zkservices.CuratorFormat` (payload class, sslPort,
          URI spec, service type, instance ID): a Curator service instance
          ``path/ID`` as Curator writes it, named after the last segment of ``path``,
          ``properties`` as its Map payload; the same ID comes back after expiry;
        - ``"serverset"`` or a :class:`~zkservices.ServerSetFormat` (additional
          endpoints): a ``member_`` sequential node, ``shard=`` as its shard, the other
          properties as string ``metadata``; after expiry it is a new member (the
          Registration's ``names`` and ``paths`` follow).

        Raises ValueError for a bad address, format or properties (nothing is written),
        TypeError for both ``provider_format`` and ``format``, ValueTooLarge, InvalidPath.
        """
        provider_format = provider_format_argument(provider_format, properties)
        return self.registrar.register(path, address, acl=acl, properties=properties, format=provider_format)

    register = register_server

    def unregister(self, path: str, address: Address) -> None:
        """Remove a registration made by this session below the providers node ``path``
        (same address forms as :meth:`register_server`).

        The registration is never restored from then on, even when a delete fails:
        every node is tried, and the first failure is raised at the end.

        :raises ValueError: a bad address.
        :raises NoNode: ``path`` is not registered here and does not resolve.
        :raises NotAuthorized: ZooKeeper refuses a delete.
        """
        self.registrar.unregister(path, address)


ZK = ZooKeeper
