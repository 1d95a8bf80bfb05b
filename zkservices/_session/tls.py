"""TLS options for a session: which CA to trust and, for mutual TLS, our certificate."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Union

__all__ = ["TLS", "TLSOption", "kazoo_tls_options"]


@dataclass(frozen=True)
class TLS:
    """How to talk TLS to ZooKeeper's secure client port.

    :param ca: PEM file of the CA(s) to trust; None: the system's CAs.
    :param cert: PEM file of our client certificate, for servers that need one
        (``ssl.clientAuth=need``); goes with ``key``.
    :param key: PEM file of the certificate's private key.
    :param key_password: the key's password, if it is encrypted.
    :param verify: verify the server's certificate (leave it on outside tests).

    ``ZooKeeper(tls=True)`` means ``TLS()``: system CAs, no client certificate.
    Raises ValueError when only one of ``cert`` and ``key`` is given, or a file is missing.
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("TLS: cert and key go together (give both or neither)")
        for what in ("ca", "cert", "key"):
            path = getattr(self, what)
            if path is not None and not os.path.isfile(path):
                raise ValueError(f"TLS: {what} file {path!r} does not exist")

    def __repr__(self) -> str:  # never show the password
        parts = [f"{name}={getattr(self, name)!r}" for name in ("ca", "cert", "key") if getattr(self, name)]
        if self.key_password:
            parts.append("key_password=***")
        if not self.verify:
            parts.append("verify=False")
        return f"TLS({', '.join(parts)})"


TLSOption = Union[TLS, bool, None]


def kazoo_tls_options(tls: TLSOption) -> dict[str, Any]:
    """KazooClient keyword arguments for ``tls`` (``{}`` for None/False)."""
    if not tls:
        return {}
    if tls is True:
        tls = TLS()
    if not isinstance(tls, TLS):
        raise TypeError(f"tls= takes a zkservices.TLS or True, not {tls!r}")
    return {
        "use_ssl": True,
        "ca": tls.ca,
        "certfile": tls.cert,
        "keyfile": tls.key,
        "keyfile_password": tls.key_password,
        "verify_certs": tls.verify,
    }
