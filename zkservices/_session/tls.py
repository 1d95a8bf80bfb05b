"""TLS options for a session: which CA to trust and, for mutual TLS, our certificate
(and a client's TLS settings, for a second client of the same servers)."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any, Union

from .kazoo_internals import HostCheckingHandler, tls_arguments

__all__ = ["TLS", "TLSOption", "TLS_FAILURE_HINT", "kazoo_tls_options", "tls_clone_arguments"]

#: Added to FailedConnect over TLS: a refused handshake looks like no answer.
TLS_FAILURE_HINT = (
    " over TLS (a refused TLS handshake looks the same: a server certificate not signed by a trusted CA"
    " or not naming the host, a server that needs a client certificate, or a port that is not a TLS port)"
)


@dataclass(frozen=True)
class TLS:
    """How to talk TLS to ZooKeeper's secure client port (``secureClientPort``).

    Pass it as ``ZooKeeper(connection_string, tls=TLS(...))``, the connection
    string naming the servers' secure ports::

        tls = zkservices.TLS(ca="/etc/zk/ca.pem", cert="/etc/zk/client.pem", key="/etc/zk/client.key")
        zk = zkservices.ZooKeeper("zk1:2281,zk2:2281,zk3:2281", tls=tls)

    :param ca: PEM file of the CA certificate(s) to trust, in addition to the
        system's; None: the system's CAs only.
    :param cert: PEM file of our client certificate (it may carry its chain),
        for servers that need one (``ssl.clientAuth=need``); goes with ``key``.
    :param key: PEM file of that certificate's private key.
    :param key_password: the password of ``key`` when it is encrypted (never
        shown by ``repr``).
    :param verify: check that the server's certificate is signed by a trusted
        CA and names the host we connect to (the host as written in the
        connection string: an IP address must appear as ``IP:`` in its
        ``subjectAltName``, a name as ``DNS:``).  False accepts any
        certificate: for tests only, it gives up protection against a man in
        the middle.  kazoo 2.11 and later check the host name themselves
        (``check_hostname``); older kazoo cannot (its SSL context never checks
        one and its connection passes only the resolved address), so there
        the session connects through a handler of zkservices' own: kazoo's
        threading handler with the same certificate checks plus the host name (each name of the connection string that resolves to the
        address connected to).

    ``ZooKeeper(tls=True)`` means ``TLS()``: the system's CAs, no client
    certificate.  The files are read once here, so that mistakes show at once;
    the connection reads them again each time it connects (renewed
    certificates are picked up on reconnect).

    :raises ValueError: only one of ``cert`` and ``key`` is given,
        ``key_password`` without a ``key``, a file is missing or unreadable,
        ``ca`` holds no PEM certificate, ``cert`` and ``key`` do not belong
        together, or ``key`` is encrypted and ``key_password`` is missing or wrong.
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("TLS: cert and key go together (give both or neither)")
        if self.key_password is not None and self.key is None:
            raise ValueError("TLS: key_password without a key")
        for what in ("ca", "cert", "key"):
            path = getattr(self, what)
            if path is None:
                continue
            if not isinstance(path, (str, os.PathLike)):
                raise ValueError(f"TLS: {what} takes a file name, not {path!r}")
            if not os.path.isfile(path):
                raise ValueError(f"TLS: {what} file {path!r} does not exist")
            if not os.access(path, os.R_OK):
                raise ValueError(f"TLS: {what} file {path!r} is not readable")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca is not None:
            try:
                context.load_verify_locations(cafile=self.ca)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"TLS: ca file {self.ca!r} holds no usable PEM certificate ({exc})") from None
        if self.cert is not None:
            password = self.key_password or ""  # a callable: never an interactive prompt
            try:
                context.load_cert_chain(self.cert, self.key, password=lambda: password)
            except (ssl.SSLError, OSError) as exc:
                hint = "is key_password right?" if self.key_password else "an encrypted key needs key_password"
                raise ValueError(
                    f"TLS: cannot use cert {self.cert!r} with key {self.key!r} ({exc}); "
                    f"they must be PEM files that belong together ({hint})"
                ) from None

    def __repr__(self) -> str:  # never show the password
        parts = [f"{name}={getattr(self, name)!r}" for name in ("ca", "cert", "key") if getattr(self, name)]
        if self.key_password:
            parts.append("key_password=***")
        if not self.verify:
            parts.append("verify=False")
        return f"TLS({', '.join(parts)})"


#: What ``tls=`` takes: a :class:`TLS`, ``True`` (``TLS()``) or ``None``/``False`` (plain TCP).
TLSOption = Union[TLS, bool, None]


def as_tls(tls: TLSOption) -> TLS | None:
    """The :class:`TLS` that ``tls=`` means (``True``: ``TLS()``), None for plaintext.

    Raises TypeError when ``tls`` is neither a :class:`TLS` nor a bool/None.
    """
    if tls is None or tls is False:
        return None
    if tls is True:
        return TLS()
    if not isinstance(tls, TLS):
        raise TypeError(f"tls= takes a zkservices.TLS or True, not {tls!r}")
    return tls


def probe_context(option: TLSOption) -> ssl.SSLContext | None:
    """An :class:`ssl.SSLContext` for side channels to the servers ``tls`` connects to
    (the ``srvr`` probe of a suspended session): the same CA, client certificate and
    verification as the session.  None for a plaintext session."""
    tls = as_tls(option)
    if tls is None:
        return None
    if tls.verify:
        context = ssl.create_default_context(cafile=None if tls.ca is None else os.fspath(tls.ca))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if tls.ca is not None:
            context.load_verify_locations(cafile=os.fspath(tls.ca))
    if tls.cert is not None:
        password = tls.key_password or ""
        context.load_cert_chain(os.fspath(tls.cert), None if tls.key is None else os.fspath(tls.key),
                                password=lambda: password)
    return context


def kazoo_tls_options(option: TLSOption) -> dict[str, Any]:
    """KazooClient keyword arguments for ``tls`` (``{}`` for None/False), as kazoo 2.11
    takes them (:func:`~zkservices._session.kazoo_internals.tls_arguments` fits them to
    the kazoo installed).

    Raises TypeError when ``tls`` is neither a :class:`TLS` nor a bool/None.
    """
    tls = as_tls(option)
    if tls is None:
        return {}
    return {
        "use_ssl": True,
        "ca": None if tls.ca is None else os.fspath(tls.ca),
        "certfile": None if tls.cert is None else os.fspath(tls.cert),
        "keyfile": None if tls.key is None else os.fspath(tls.key),
        "keyfile_password": tls.key_password,
        "verify_certs": tls.verify,
        "check_hostname": tls.verify,
    }


def tls_clone_arguments(client: Any) -> dict[str, Any]:
    """KazooClient keyword arguments giving a second client ``client``'s TLS settings
    (``{}`` for a plaintext client); the host names they check come with the hosts."""
    if not getattr(client, "use_ssl", False):
        return {}
    names = ("use_ssl", "ca", "certfile", "keyfile", "keyfile_password", "verify_certs")
    options = {name: getattr(client, name) for name in names}
    options["check_hostname"] = bool(getattr(client, "check_hostname", False)
                                     or isinstance(getattr(client, "handler", None), HostCheckingHandler))
    return tls_arguments(options)
