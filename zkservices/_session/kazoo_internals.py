"""Every kazoo internal zkservices leans on, in this one module, each behind a capability.

kazoo's public API has no call for some of what zkservices does fast (one wake-up of
kazoo's connection thread for a burst of requests, multi-reads, SetWatches, creates
in a transaction without kazoo's per-op checks) or at all (a socket to cut for a fault
test, a host name checked over TLS on kazoo before 2.11).  Those paths use kazoo's
private attributes (``_queue``, ``_state``, ``_call``, ``_connection``, the watcher
tables), its wire structs (``kazoo.protocol.serialization``) and its handler; nothing
else in zkservices touches them: the other modules call this module's named API.

What is usable is decided once: per kazoo install at import (:data:`INSTALL`: the
wire structs, ``check_hostname``), per client when a client is first seen
(:func:`access`: its private attributes).  Where something is missing, the caller
gets the plain public call instead (reads one request each, a tree create through
``transaction.create``, views read again instead of re-armed) -- slower, same
results; without ``callbacks`` ``settle`` waits for the worker only, without ``zxid``
a rebuilt ensemble is reported but not joined, without ``socket`` no fault test can
drop a connection.  :func:`unavailable` makes capabilities missing on purpose (tests).

Capability names: ``wire`` (kazoo's request classes and structs), ``pipe`` (a client's
request queue, socket pair and state), ``watchers`` (a client's watcher tables and
``_call``), ``callbacks`` (a client's handler runs callbacks on kazoo's event thread),
``zxid`` (a client's ``last_zxid`` can be reset), ``socket`` (a client's connection
socket), ``check_hostname`` (``KazooClient(check_hostname=...)``, kazoo 2.11),
``replies`` (a client's connection reads a refusal that overtook earlier replies:
:func:`tolerate_early_refusals`; without it kazoo's connection loop raises and the
client closes, as every kazoo version does).
"""

from __future__ import annotations

import collections
import contextlib
import importlib.metadata
import inspect
import logging
import socket
import ssl
import weakref
from typing import Any, Callable, Iterable, Iterator, Sequence

from kazoo.client import KazooClient
from kazoo.exceptions import EXCEPTIONS, ConnectionClosedError, SessionExpiredError, ZookeeperError
from kazoo.handlers.threading import SequentialThreadingHandler
from kazoo.protocol.states import Callback, KeeperState, ZnodeStat

try:  # kazoo's wire structs and request classes (private: they may move)
    from kazoo.protocol.serialization import (Create, Exists, GetChildren, GetData, int_struct, long_struct,
                                              multiheader_struct, stat_struct)
except ImportError:  # pragma: no cover - a kazoo without them: every caller falls back
    Create = Exists = GetChildren = GetData = None
    int_struct = long_struct = multiheader_struct = stat_struct = None

__all__ = ["CAPABILITIES", "INSTALL", "KazooAccess", "Pair", "access", "add_create", "decode_reads",
           "encode_reads", "encode_set_watches", "HostCheckingHandler", "kazoo_version", "new_client",
           "tolerate_early_refusals",
           "tls_arguments", "unavailable"]

log = logging.getLogger("zkservices.session")

#: Every capability name this module knows.
CAPABILITIES = frozenset({"wire", "pipe", "watchers", "callbacks", "zxid", "socket", "check_hostname", "replies"})

Pair = tuple[Any, Any]  # (a kazoo request, its result: set(value) / set_exception(exc))

_DISABLED: set[str] = set()  # made missing on purpose (tests, :func:`unavailable`)


def _install_capabilities() -> frozenset[str]:
    found = set()
    if GetData is not None and multiheader_struct is not None:
        found.add("wire")
    if "check_hostname" in inspect.signature(KazooClient.__init__).parameters:
        found.add("check_hostname")
    return frozenset(found)


#: What this kazoo install has (decided once, at import).
INSTALL: frozenset[str] = _install_capabilities()


def kazoo_version() -> str:
    """The installed kazoo's version."""
    return str(importlib.metadata.version("kazoo"))


def _has(name: str) -> bool:
    return name in INSTALL and name not in _DISABLED


@contextlib.contextmanager
def unavailable(*names: str) -> Iterator[None]:
    """Act as if kazoo lacked the named capabilities, for calls made and clients first
    seen inside the block (the per-client decision is kept for the client's life).

    Raises ValueError for an unknown name."""
    unknown = set(names) - CAPABILITIES
    if unknown:
        raise ValueError(f"unknown kazoo capabilities {sorted(unknown)} (known: {sorted(CAPABILITIES)})")
    added = set(names) - _DISABLED
    _DISABLED.update(added)
    try:
        yield
    finally:
        _DISABLED.difference_update(added)


# -- per client -------------------------------------------------------------------

_REFUSED = (KeeperState.AUTH_FAILED, KeeperState.CLOSED, KeeperState.EXPIRED_SESSION)
_ACCESS: "weakref.WeakKeyDictionary[Any, KazooAccess]" = weakref.WeakKeyDictionary()


class _Builder:
    """Stands in for the client while one of its ``*_async`` methods builds a request:
    its handler hands out the caller's result object and its ``_call`` keeps the
    request instead of queueing it; everything else is the client's."""

    __slots__ = ("client", "handler", "result", "request")

    def __init__(self, client: Any, result: Any) -> None:
        self.client = client
        self.handler = self  # kazoo asks its handler for a result object: ours
        self.result = result
        self.request: Any = None

    def async_result(self) -> Any:
        return self.result

    def _call(self, request: Any, async_object: Any) -> None:
        self.request = request

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class KazooAccess:
    """What zkservices may use of one kazoo client's internals (decided once, when the
    client is first seen: :func:`access`), and the calls that use them.  Flags:
    ``pipe`` (:meth:`build`, :meth:`enqueue`), ``direct_reads`` (:meth:`read_request`),
    ``multi_reads``, ``watchers`` (:meth:`add_watcher`, :meth:`forget_watcher`,
    :meth:`call`), ``callbacks`` (:meth:`on_event_thread`), ``zxid``
    (:meth:`forget_seen_zxid`), ``socket`` (:meth:`connection_socket`), ``replies``
    (early refusals are read: :func:`tolerate_early_refusals`, installed when the
    client is first seen)."""

    __slots__ = ("client", "pipe", "direct_reads", "multi_reads", "watchers", "callbacks", "zxid", "socket",
                 "replies", "__weakref__")

    def __init__(self, client: Any) -> None:
        self.client = client
        wire = _has("wire")
        self.pipe = ("pipe" not in _DISABLED and hasattr(client, "_queue") and hasattr(client, "_state")
                     and hasattr(client, "_call") and hasattr(client, "handler")
                     and hasattr(getattr(client, "_connection", None), "_write_sock"))
        self.direct_reads = self.pipe and wire
        self.multi_reads = self.pipe and wire
        self.watchers = ("watchers" not in _DISABLED and wire and hasattr(client, "_call")
                         and isinstance(getattr(client, "_data_watchers", None), dict)
                         and isinstance(getattr(client, "_child_watchers", None), dict))
        self.callbacks = "callbacks" not in _DISABLED and hasattr(getattr(client, "handler", None), "dispatch_callback")
        self.zxid = "zxid" not in _DISABLED and isinstance(getattr(client, "last_zxid", None), int)
        self.socket = "socket" not in _DISABLED and hasattr(getattr(client, "_connection", None), "_socket")
        self.replies = "replies" not in _DISABLED and tolerate_early_refusals(client)

    # -- the pipe --------------------------------------------------------------

    def build(self, start: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        """The request ``start(*args, **kwargs)`` (a bound kazoo ``*_async`` method of the
        client) would queue, completing ``result``, built by kazoo's own code.  Raises
        what kazoo's method raises for bad arguments (TypeError, ValueError)."""
        builder = _Builder(self.client, result)
        start.__func__(builder, *args, **kwargs)  # type: ignore[attr-defined]
        return builder.request

    def read_request(self, start: Callable[..., Any], full_path: str) -> Any:
        """The request of a plain read (``get_async``, ``exists_async``,
        ``get_children_async`` without a watch) of ``full_path`` (the chroot before the
        path, as kazoo's code would make it), built directly; None for other calls or
        where :attr:`direct_reads` is off."""
        if not self.direct_reads:
            return None
        kind = _READ_KINDS.get(getattr(start, "__func__", None))
        return None if kind is None else kind(full_path, None)

    @staticmethod
    def gathered(request: Any) -> bool:
        """Whether ``request`` is a plain ``getData``/``getChildren`` (no watch): a
        multi-read can carry it."""
        return request.__class__ in _GATHERED and request.watcher is None

    def enqueue(self, pairs: list[Pair]) -> None:
        """Queue ``pairs`` on kazoo's request queue and wake its connection thread once
        for all.  As kazoo's own call does: a client closed, expired or refused fails them
        at once; a session loss while queueing fails those kazoo did not see."""
        client = self.client
        if client._state in _REFUSED:
            for request, result in pairs:  # kazoo's own call sets the error it would
                client._call(request, result)
            return
        queue = client._queue
        queue.extend(pairs)  # at once: kazoo's threads see all of them or none
        queued = len(pairs)
        if client._queue is not queue or client._state in _REFUSED:
            queued -= self._take_back(queue, pairs)  # a session loss came in between
            if not queued:
                return
        write_sock = client._connection._write_sock
        try:
            if write_sock is None:
                raise ConnectionClosedError("Connection has been closed")
            write_sock.sendall(b"\0" * queued)
        except Exception as exc:  # as kazoo's _call: the requests fail (a late reply is ignored)
            log.debug("waking kazoo's connection thread failed: %r", exc)
            for _, result in pairs:
                result.set_exception(ConnectionClosedError("Connection has been closed"))

    def _take_back(self, queue: Any, pairs: list[Pair]) -> int:
        """The session was lost while ``pairs`` were being queued: kazoo sets the state,
        fails what its queue holds, then replaces the queue.  What it did not see of
        ours would never be sent nor failed (a caller waiting on it would hang): take
        it back and fail it as kazoo fails its own; returns how many it took back."""
        client = self.client
        taken = 0
        for pair in pairs:
            try:
                queue.remove(pair)  # (results compare by identity: only this very pair)
            except ValueError:  # (the comparisons run no Python code: kazoo's threads wait meanwhile)
                continue  # kazoo has it: sent, or failed by kazoo itself
            taken += 1
            request, result = pair
            if client._state in _REFUSED:
                client._call(request, result)  # kazoo's own refusal (not queued)
            else:
                result.set_exception(SessionExpiredError())
        return taken

    # -- requests of our own and watcher tables ---------------------------------

    def call(self, request: Any) -> Any:
        """Queue ``request`` (anything with ``type``, ``serialize``, ``deserialize``) as
        kazoo queues its own; kazoo's result for it (needs :attr:`watchers`)."""
        result = self.client.handler.async_result()
        self.client._call(request, result)
        return result

    def add_watcher(self, full_path: str, watcher: Callable[..., Any], *, data: bool) -> None:
        """Put ``watcher`` in kazoo's data (or child) watcher table for ``full_path``,
        where kazoo's event dispatch finds it (needs :attr:`watchers`)."""
        table = self.client._data_watchers if data else self.client._child_watchers
        table[full_path].add(watcher)

    def forget_watcher(self, watcher: Callable[..., Any], keys: Iterable[str]) -> None:
        """Drop ``watcher`` from kazoo's watcher tables under ``keys``; kazoo has no public
        way (without :attr:`watchers` it stays until its watch fires: harmless)."""
        if not self.watchers:
            return
        for table in (self.client._child_watchers, self.client._data_watchers):
            for key in keys:
                watchers = table.get(key)
                if watchers:
                    watchers.discard(watcher)

    # -- the event thread, the zxid, the socket -----------------------------------

    def on_event_thread(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on kazoo's watch-event thread, after the events it
        has queued.  Without :attr:`callbacks` it runs at once, on this thread."""
        if self.callbacks:
            self.client.handler.dispatch_callback(Callback("watch", function, args))
        else:
            function(*args)

    def forget_seen_zxid(self) -> bool:
        """Make the client forget the transactions it has seen (its next connection
        attempt carries none); whether it could."""
        if not self.zxid:
            return False
        self.client.last_zxid = 0
        return True

    def give_up_session(self) -> bool:
        """Make the client's next connection attempt carry a session id no server of an
        ensemble gave (its server byte zero), so that the server answers that the session
        expired and kazoo starts a new one, through its usual LOST; whether it could.
        For a session the quorum has expired already that a read-only server refuses to
        take over (it closes the connection instead of saying so)."""
        session = getattr(self.client, "_session_id", None)
        if not session:
            return False
        self.client._session_id = (session & 0x00FFFFFFFFFFFFFF) or 1
        return True

    def connection_socket(self) -> Any:
        """The socket of the client's current connection, or None."""
        if not self.socket:
            return None
        return getattr(getattr(self.client, "_connection", None), "_socket", None)

    def __repr__(self) -> str:
        on = [name for name in ("pipe", "direct_reads", "multi_reads", "watchers", "callbacks", "zxid", "socket",
                                "replies")
              if getattr(self, name)]
        return f"<KazooAccess {' '.join(on) or 'public calls only'}>"


def tolerate_early_refusals(client: Any) -> bool:
    """Make ``client``'s connection read a reply that overtook earlier ones, when it is an
    error: fail the request it answers, as kazoo fails a request its reply refuses, and
    read the earlier replies when they come; whether it could (it is kept for the
    client's life, through reconnections: the connection object is the client's).

    ZooKeeper answers in order but for one case: a read-only server refuses a write at
    once, in the processor in front of its pipeline, while the reads sent before it are
    still in the pipeline.  A ``read_only=True`` client that writes while it reads (a
    registration restored, a view re-read) then gets the refusal (NotReadOnly) before
    earlier replies, and kazoo's reply reader, which expects them in order, raises
    ``RuntimeError('xids do not match')`` out of its connection loop: the client closes
    and every call fails.  ZooKeeper's own Java client drops the connection instead.
    Only a reply carrying an error is taken out of order (a refusal has no body); any
    other mismatch is left to kazoo."""
    connection: Any = getattr(client, "_connection", None)
    original = getattr(connection, "_read_response", None)
    if original is None or not isinstance(getattr(client, "_pending", None), collections.deque):
        return False
    if getattr(original, "_zkservices_early_refusals", False):
        return True
    owner = weakref.ref(client)

    def read_response(header: Any, buffer: bytes, offset: int) -> Any:
        # kazoo's connection thread: kazoo appends to _pending and pops from it there only
        kazoo = owner()
        if kazoo is not None and header.err:
            pending = kazoo._pending
            if pending and pending[0][2] != header.xid:
                for index, (request, result, xid) in enumerate(pending):
                    if xid == header.xid:
                        del pending[index]
                        if header.zxid and header.zxid > 0:
                            kazoo.last_zxid = header.zxid
                        error = EXCEPTIONS[header.err]()
                        log.debug("reply to request %d (%s) came before the replies to %d earlier ones: %r",
                                  xid, type(request).__name__, index, error)
                        result.set_exception(error)
                        return None
        return original(header, buffer, offset)

    read_response._zkservices_early_refusals = True  # type: ignore[attr-defined]
    connection._read_response = read_response
    return True


def access(client: Any) -> KazooAccess:
    """What may be used of ``client``'s internals: decided when first asked, then kept."""
    try:
        return _ACCESS.get(client) or _ACCESS.setdefault(client, KazooAccess(client))
    except TypeError:  # not weakly referable (a stand-in): decided each time
        return KazooAccess(client)


#: The plain reads whose request :meth:`KazooAccess.read_request` builds directly.
_READ_KINDS: dict[Any, Any] = {} if GetData is None else {
    KazooClient.get_async: GetData, KazooClient.exists_async: Exists, KazooClient.get_children_async: GetChildren}

#: The requests a multi-read can carry (when they have no watch).
_GATHERED: tuple[Any, ...] = () if GetData is None else (GetData, GetChildren)


# -- wire coding (needs ``wire``) ---------------------------------------------------


def encode_reads(requests: Sequence[Any]) -> bytes:
    """The body of a multi-read (opcode 22) of plain ``GetData``/``GetChildren`` requests."""
    header, size = multiheader_struct, int_struct
    ops = {GetData: GetData.type, GetChildren: GetChildren.type}
    out = bytearray()
    for request in requests:
        path = request.path.encode("utf-8")
        out += header.pack(ops[request.__class__], False, -1)
        out += size.pack(len(path))
        out += path
        out += b"\0"  # watch: never (kazoo would not know the watcher)
    out += header.pack(-1, True, -1)
    return bytes(out)


def decode_reads(buffer: bytes, offset: int) -> list[Any]:
    """A multi-read's reply: each read's ``(data, stat)``, list of names, or kazoo's exception."""
    unpack_header, unpack_int, unpack_stat = multiheader_struct.unpack_from, int_struct.unpack_from, stat_struct.unpack_from
    header_size, int_size, stat_size = multiheader_struct.size, int_struct.size, stat_struct.size
    get_data, get_children = GetData.type, GetChildren.type
    outcomes: list[Any] = []
    append = outcomes.append
    while True:
        kind, done, error = unpack_header(buffer, offset)
        offset += header_size
        if done:
            return outcomes
        if kind == get_data:
            length = unpack_int(buffer, offset)[0]
            offset += int_size
            if length < 0:
                data = None
            else:
                data = buffer[offset:offset + length]
                offset += length
            append((data, ZnodeStat._make(unpack_stat(buffer, offset))))
            offset += stat_size
        elif kind == get_children:
            count = unpack_int(buffer, offset)[0]
            offset += int_size
            names = []
            for _ in range(max(count, 0)):
                length = unpack_int(buffer, offset)[0]
                offset += int_size
                names.append(buffer[offset:offset + length].decode("utf-8"))
                offset += length
            append(names)
        elif kind == -1:
            code = unpack_int(buffer, offset)[0]
            offset += int_size
            append(EXCEPTIONS[code]())
        else:
            raise ZookeeperError(f"multi-read reply with an operation of type {kind}")


def encode_set_watches(relative_zxid: int, lists: Sequence[Sequence[str]]) -> bytes:
    """The body of a SetWatches request (opcode 101): the zxid, then the data, exist and
    child watch paths."""
    out = bytearray(long_struct.pack(relative_zxid))
    for paths in lists:
        out += int_struct.pack(len(paths))
        for path in paths:
            raw = path.encode("utf-8")
            out += int_struct.pack(len(raw))
            out += raw
    return bytes(out)


def add_create(transaction: Any, prefix: str, path: str, data: bytes, acl: list[Any]) -> None:
    """Add a create of ``path`` (below the client's chroot ``prefix``) to a kazoo
    transaction: kazoo's own ``Create`` request appended as its ``create`` does, without
    its per-op checks (the tree's ops are checked already); ``transaction.create`` where
    ``wire`` is missing."""
    if _has("wire"):
        transaction.operations.append(Create(prefix + path, data, acl, 0))
    else:
        transaction.create(path, data, acl)


# -- TLS ----------------------------------------------------------------------------


def tls_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """KazooClient keyword arguments for zkservices' TLS ``options`` (``use_ssl``, ``ca``,
    ``certfile``, ``keyfile``, ``keyfile_password``, ``verify_certs``,
    ``check_hostname``) on this kazoo.

    kazoo 2.11 takes ``check_hostname``.  kazoo 2.9 and 2.10 do not: their handler makes
    the SSL context itself, with host name checking off, and their connection hands it
    the resolved address only.  There a host name to check is checked by a
    :class:`HostCheckingHandler` (``handler=``) instead: the same context and
    certificate checks as kazoo's, host name included.  ``{}`` stays ``{}``.
    """
    if not options:
        return {}
    arguments = dict(options)
    check = bool(arguments.pop("check_hostname", False))
    if _has("check_hostname"):
        arguments["check_hostname"] = check
    elif check:
        arguments["handler"] = HostCheckingHandler()
    return arguments


class HostCheckingHandler(SequentialThreadingHandler):
    """kazoo's threading handler, connecting over TLS with the host name checked (for
    kazoo before 2.11, whose own TLS connection never checks it).

    kazoo's connection gives the handler the address it resolved, not the host name
    written in the connection string; the handler learns those names from its client
    (the hosts kazoo was given) and checks the server's certificate against the ones
    that resolve to the address (any of them: each is a name the caller gave).
    Everything else is kazoo's: the trusted CAs (the system's and ``ca``), the client
    certificate, TLS 1.0 at least, TCP_NODELAY.
    """

    def __init__(self) -> None:
        super().__init__()
        self.client: Callable[[], Any] = lambda: None  # (a weak reference to) the client, set by new_client

    def create_connection(self, *args: Any, **kwargs: Any) -> Any:  # kazoo's handler interface
        if not kwargs.get("use_ssl") or not kwargs.get("verify_certs", True) or args:
            return super().create_connection(*args, **kwargs)
        address = kwargs["address"]
        timeout = kwargs.get("timeout")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
        context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if kwargs.get("ca"):
            context.load_verify_locations(kwargs["ca"])
        if kwargs.get("certfile") and kwargs.get("keyfile"):
            context.load_cert_chain(certfile=kwargs["certfile"], keyfile=kwargs["keyfile"],
                                    password=kwargs.get("keyfile_password"))
        names = self._names_of(address) or [address[0]]
        error: Exception | None = None
        for name in names:
            family = socket.getaddrinfo(address[0], address[1], 0, socket.SOCK_STREAM)[0][0]
            conn = context.wrap_socket(socket.socket(family), server_hostname=name)
            try:
                conn.settimeout(timeout)
                conn.connect(address)
            except ssl.SSLCertVerificationError as exc:  # another name may fit
                conn.close()
                error = exc
                continue
            except BaseException:
                conn.close()
                raise
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn
        assert error is not None
        log.warning("TLS: %s:%s (as %s): %s", address[0], address[1], " or ".join(names), error)
        raise error

    def _names_of(self, address: tuple[str, int]) -> list[str]:
        """The host names given to the client whose port is ``address``'s and that resolve to its IP."""
        client = self.client()
        names = []
        for host, port in (client.hosts if client is not None else ()):
            if port != address[1]:
                continue
            if host == address[0]:
                names.append(host)
                continue
            try:
                resolved = {info[4][0] for info in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)}
            except OSError:
                continue
            if address[0] in resolved:
                names.append(host)
        return names


def new_client(**arguments: Any) -> KazooClient:
    """``KazooClient(**arguments)``, its :class:`HostCheckingHandler` (if
    :func:`tls_arguments` gave it one) told where to find the client's host names."""
    client = KazooClient(**arguments)
    handler = arguments.get("handler")
    if isinstance(handler, HostCheckingHandler):
        handler.client = weakref.ref(client)
    access(client)  # decided (and early refusals tolerated) before the client's first connection
    return client
