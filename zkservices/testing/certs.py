"""Throw-away certificates for TLS test servers: a CA, a server and a client certificate.

:func:`make_certificates` writes, into one directory, with ``openssl`` (keys,
certificates, the server's PKCS12 keystore) and Java's ``keytool`` (the
server's PKCS12 truststore):

- ``ca.pem`` / ``ca.key``: a self-signed CA (P-256 key), valid for a few days;
- ``server.pem`` / ``server.key``: the server's certificate, signed by the CA,
  with ``subjectAltName`` the server's address (``IP:127.0.0.1``);
- ``client.pem`` / ``client.key``: a client certificate for mutual TLS, signed
  by the CA (the key encrypted when a password is given);
- ``keystore.p12`` / ``truststore.p12``: the server's key with its chain, and
  the CA, as ZooKeeper reads them (``ssl.keyStore.*``, ``ssl.trustStore.*``).

Nothing here is fit for production: the keys are unencrypted on disk and the
CA signs whatever the tests ask.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import ssl
import subprocess
from dataclasses import dataclass, field
from typing import Sequence

from .. import TLS
from ..errors import ServerError
from .install import find_java, find_keytool, find_openssl

__all__ = ["Certificates", "make_certificates"]

_CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc"]

_LEAF_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid\n"
)


@dataclass(frozen=True)
class Certificates:
    """The files :func:`make_certificates` wrote (absolute paths) and the stores' password.

    :attr:`client_tls` is what a client needs for mutual TLS;
    :attr:`server_properties` the ``ssl.*`` lines of a server's ``zoo.cfg``.
    """

    directory: str
    ca_file: str
    ca_key_file: str
    server_cert_file: str
    server_key_file: str
    client_cert_file: str
    client_key_file: str
    keystore_file: str
    truststore_file: str
    store_password: str = field(repr=False)
    client_key_password: str | None = field(default=None, repr=False)

    @property
    def client_tls(self) -> TLS:
        """A :class:`~zkservices.TLS` trusting the CA and presenting the client certificate."""
        return TLS(
            ca=self.ca_file, cert=self.client_cert_file, key=self.client_key_file, key_password=self.client_key_password
        )

    @property
    def ca_only_tls(self) -> TLS:
        """A :class:`~zkservices.TLS` trusting the CA, without a client certificate."""
        return TLS(ca=self.ca_file)

    def client_ssl_context(self, *, client_cert: bool = True) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` trusting the CA (checking host names), with the client certificate
        unless ``client_cert`` is false."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if client_cert:
            password = self.client_key_password
            context.load_cert_chain(self.client_cert_file, self.client_key_file, password=lambda: password or "")
        return context

    def server_properties(self, *, client_auth: str = "none") -> list[str]:
        """The ``ssl.*`` configuration lines of a ZooKeeper server using these stores."""
        return [
            f"ssl.keyStore.location={self.keystore_file}",
            f"ssl.keyStore.password={self.store_password}",
            "ssl.keyStore.type=PKCS12",
            f"ssl.trustStore.location={self.truststore_file}",
            f"ssl.trustStore.password={self.store_password}",
            "ssl.trustStore.type=PKCS12",
            f"ssl.clientAuth={client_auth}",
        ]


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerError(f"could not make {what}: {cmd[0]}: {exc}") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
        raise ServerError(f"could not make {what}: {' '.join(cmd[:2])} exited with {done.returncode}: {output}")


def _san(names: Sequence[str]) -> str:
    parts = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            parts.append(f"DNS:{name}")
        else:
            parts.append(f"IP:{name}")
    return "subjectAltName=" + ",".join(parts) + "\n"


def make_certificates(
    directory: str,
    *,
    server_names: Sequence[str] = ("127.0.0.1",),
    client_name: str = "zkservices-test-client",
    client_key_password: str | None = None,
    days: int = 7,
    java: str | None = None,
) -> Certificates:
    """Make a throw-away CA, server and client certificate in ``directory`` (created if missing).

    :param directory: where the files go (existing files of the same names are replaced).
    :param server_names: the server certificate's ``subjectAltName`` entries
        (IP addresses or DNS names); clients check the name they connect to against them.
    :param client_name: the client certificate's common name.
    :param client_key_password: encrypt the client's key with this password (default: unencrypted).
    :param days: how long the certificates are valid.
    :param java: the ``java`` whose ``keytool`` to use (default: found as :func:`~zkservices.testing.find_java`).
    :returns: the paths, as :class:`Certificates`.
    :raises ValueError: ``server_names`` is empty.
    :raises ServerError: ``openssl`` or ``keytool`` is missing (the message says
        what to install) or fails.
    """
    if not server_names:
        raise ValueError("make_certificates: server_names must name at least one address")
    openssl = find_openssl()
    keytool = find_keytool(java or find_java())
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    password = secrets.token_hex(12)
    days_arg = ["-days", str(days)]

    _run(
        [openssl, "req", "-x509", *_CURVE, "-keyout", path("ca.key"), "-out", path("ca.pem"), *days_arg,
         "-subj", "/CN=zkservices throw-away test CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        "the test CA",
    )
    leaves = {
        "server": ("/CN=" + server_names[0], _LEAF_EXTENSIONS + "extendedKeyUsage=serverAuth\n" + _san(server_names)),
        "client": ("/CN=" + client_name, _LEAF_EXTENSIONS + "extendedKeyUsage=clientAuth\n"),
    }
    for serial, (name, (subject, extensions)) in enumerate(leaves.items(), start=2):
        with open(path(f"{name}.ext"), "w") as f:
            f.write(extensions)
        _run(
            [openssl, "req", "-new", *_CURVE, "-keyout", path(f"{name}.key"), "-out", path(f"{name}.csr"),
             "-subj", subject],
            f"the {name} key",
        )
        _run(
            [openssl, "x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
             "-set_serial", str(serial), *days_arg, "-extfile", path(f"{name}.ext"), "-out", path(f"{name}.pem")],
            f"the {name} certificate",
        )
        os.remove(path(f"{name}.csr"))
        os.remove(path(f"{name}.ext"))
    if client_key_password is not None:
        _run(
            [openssl, "pkey", "-in", path("client.key"), "-aes256", "-passout", f"pass:{client_key_password}",
             "-out", path("client.key.encrypted")],
            "the encrypted client key",
        )
        os.replace(path("client.key.encrypted"), path("client.key"))
    _run(
        [openssl, "pkcs12", "-export", "-in", path("server.pem"), "-inkey", path("server.key"),
         "-certfile", path("ca.pem"), "-name", "server", "-out", path("keystore.p12"), "-passout", f"pass:{password}"],
        "the server's PKCS12 keystore",
    )
    if os.path.exists(path("truststore.p12")):
        os.remove(path("truststore.p12"))  # keytool adds to an existing store
    _run(
        [keytool, "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-importcert", "-noprompt", "-alias", "ca",
         "-file", path("ca.pem"), "-keystore", path("truststore.p12"), "-storetype", "PKCS12",
         "-storepass", password],
        "the server's PKCS12 truststore",
    )
    return Certificates(
        directory=directory,
        ca_file=path("ca.pem"),
        ca_key_file=path("ca.key"),
        server_cert_file=path("server.pem"),
        server_key_file=path("server.key"),
        client_cert_file=path("client.pem"),
        client_key_file=path("client.key"),
        keystore_file=path("keystore.p12"),
        truststore_file=path("truststore.p12"),
        store_password=password,
        client_key_password=client_key_password,
    )
