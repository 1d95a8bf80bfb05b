"""ZooKeeper(tls=...) against real TLS and mutual-TLS ports with real (throw-away) certificates.

The servers are the plugin's session-scoped TLS servers; what a test checks
from "outside" goes through the server's plain port, with another session.
Refused connections use short timeouts: each costs about that many seconds.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kazoo.client import KazooClient

import zkservices
from zkservices import TLS, FailedConnect
from zkservices.testing import ZooKeeperServer, drop_connection, expire_session, make_certificates

from _util import kazoo_client, props, stop, wait_for

REFUSED_TIMEOUT = 3.0  # seconds a refused connection may try
REFUSED_BOUND = 15.0  # generous bound on how long FailedConnect may take


def chroot_of(zk: zkservices.ZooKeeper) -> str:
    return zk.connection_string[zk.connection_string.index("/"):]


@pytest.fixture
def outside(zk_tls, zk_tls_server):
    """Another session, on the TLS server's plain port, in zk_tls's chroot."""
    client = kazoo_client(zk_tls_server.connection_string + chroot_of(zk_tls))
    yield client
    stop(client)


# -- what works over TLS ------------------------------------------------------


def test_register_and_view_over_tls(zk_tls, zk_tls_server, outside):
    assert zk_tls.client.use_ssl
    assert zk_tls.connection_string.startswith(zk_tls_server.secure_connection_string + "/")
    reg = zk_tls.register_server("/svc/providers", ("10.0.0.1", 8080), weight=2)
    assert outside.get_children("/svc/providers") == ["10.0.0.1:8080"]
    assert props(outside, reg.paths[0])["weight"] == 2
    view = zk_tls.children("/svc/providers")
    outside.create("/svc/providers/10.0.0.2:8080", b'{"host":"10.0.0.2","port":8080}')
    wait_for(lambda: sorted(view) == ["10.0.0.1:8080", "10.0.0.2:8080"], what="the view over TLS to follow")
    outside.set("/svc", b'{"balance":"roundrobin"}')
    conf = zk_tls.properties("/svc")
    assert dict(conf) == {"balance": "roundrobin"}


def test_session_expiry_and_recovery_over_tls(zk_tls, outside):
    reg = zk_tls.register_server("/svc/providers", ("10.0.0.1", 8080))
    view = zk_tls.children("/svc/providers")
    old = zk_tls.core.session_id
    new = expire_session(zk_tls)  # the expiring clone talks TLS too
    assert new != old and zk_tls.core.session_id == new
    # the registration is back, owned by the new session
    wait_for(lambda: outside.exists(reg.paths[0]) is not None, what="the registration to come back")
    assert outside.exists(reg.paths[0]).ephemeralOwner == new
    outside.create("/svc/providers/10.0.0.9:80", b"{}")
    wait_for(lambda: "10.0.0.9:80" in view, what="the view to follow after expiry")


def test_dropped_tls_connection_keeps_the_session(zk_tls, outside):
    reg = zk_tls.register_server("/svc/providers", ("10.0.0.1", 8080))
    old = zk_tls.core.session_id
    drop_connection(zk_tls)
    wait_for(lambda: zk_tls.connected and zk_tls.exists("/svc") is not None, what="a reconnect over TLS")
    assert zk_tls.core.session_id == old
    assert outside.exists(reg.paths[0]).ephemeralOwner == old


def test_mutual_tls(zk_mtls, zk_mtls_server):
    assert zk_mtls_server.client_auth == "need" and zk_mtls_server.tls.cert is not None
    zk_mtls.register_server("/svc/providers", ("10.0.0.1", 8080))
    assert zk_mtls.get_children("/svc/providers") == ["10.0.0.1:8080"]
    # the server really checked the certificate: it knows the client by its name
    # (Debian's 3.8.0 writes "for Scheme", 3.9.5 "for scheme")
    scheme = "scheme" if zk_mtls_server.version >= (3, 9) else "Scheme"
    line = f"Authenticated Id 'CN=zkservices-test-client' for {scheme} 'x509'"
    wait_for(lambda: line in zk_mtls_server.log_tail(200), what="the server's log line on the client certificate")


def test_mutual_tls_with_an_encrypted_key(zk_mtls_server, tmp_path):
    encrypted = str(tmp_path / "client.key")
    subprocess.run(["openssl", "pkey", "-in", zk_mtls_server.client_key_file, "-aes256", "-passout", "pass:s3cret",
                    "-out", encrypted], check=True, capture_output=True)
    tls = TLS(ca=zk_mtls_server.ca_file, cert=zk_mtls_server.client_cert_file, key=encrypted, key_password="s3cret")
    with zkservices.ZooKeeper(zk_mtls_server.secure_connection_string, tls=tls, timeout=10) as zk:
        assert zk.exists("/") is not None
    with pytest.raises(ValueError, match="an encrypted key needs key_password"):
        TLS(ca=zk_mtls_server.ca_file, cert=zk_mtls_server.client_cert_file, key=encrypted)
    with pytest.raises(ValueError, match="is key_password right"):
        TLS(ca=zk_mtls_server.ca_file, cert=zk_mtls_server.client_cert_file, key=encrypted, key_password="wrong")


@pytest.mark.zookeeper  # starts a server of its own
def test_want_server_takes_clients_with_and_without_certificates():
    with ZooKeeperServer(tls=True, client_auth="want") as server:
        for tls in (server.tls, TLS(ca=server.ca_file)):
            with zkservices.ZooKeeper(server.secure_connection_string, tls=tls, timeout=10) as zk:
                assert zk.exists("/") is not None


# -- what is refused, within the timeout --------------------------------------


def attempt(connection_string: str, tls: TLS | bool | None) -> tuple[str, float]:
    """Connect with a short timeout; the outcome (an exception's name, or "connected") and the time taken."""
    started = time.monotonic()
    try:
        zkservices.ZooKeeper(connection_string, tls=tls, timeout=REFUSED_TIMEOUT).close()
        outcome = "connected"
    except FailedConnect as exc:
        outcome = "FailedConnect" if f"within {REFUSED_TIMEOUT:g}s" in str(exc) else repr(exc)
        if "a refused TLS handshake looks the same" in str(exc):
            outcome += " with the TLS hint"
    except Exception as exc:  # pragma: no cover - shows in the assertion
        outcome = repr(exc)
    return outcome, time.monotonic() - started


def test_refused_connections_fail_within_the_timeout(zk_tls_server, zk_mtls_server):
    tls, mtls = zk_tls_server, zk_mtls_server
    assert tls.ca_file != mtls.ca_file  # each server has its own CA
    cases = {
        "plaintext to the TLS port": (tls.secure_connection_string, None),
        "plaintext to the mutual-TLS port": (mtls.secure_connection_string, None),
        "no client certificate against mutual TLS": (mtls.secure_connection_string, TLS(ca=mtls.ca_file)),
        "TLS to a plain port": (tls.connection_string, tls.tls),
        "a server certificate from another CA": (tls.secure_connection_string, TLS(ca=mtls.ca_file)),
        "tls=True: only the system's CAs": (tls.secure_connection_string, True),
        # the certificate names IP:127.0.0.1, not "localhost" (which reaches the same port, see below)
        "a host name the certificate does not name": (f"localhost:{tls.secure_port}", tls.tls),
    }
    # concurrently: each refusal takes the whole timeout
    with ThreadPoolExecutor(len(cases)) as pool:
        futures = {name: pool.submit(attempt, *case) for name, case in cases.items()}
    results = {name: future.result() for name, future in futures.items()}
    expected = {name: "FailedConnect" + (" with the TLS hint" if option else "") for name, (_, option) in cases.items()}
    assert {name: outcome for name, (outcome, _) in results.items()} == expected
    assert all(elapsed < REFUSED_BOUND for _, elapsed in results.values()), results


def test_the_refused_clients_connect_once_set_right(zk_tls_server, zk_mtls_server):
    # the controls of the refusals above: the same ports and host names, the right settings
    with zkservices.ZooKeeper(zk_mtls_server.secure_connection_string, tls=zk_mtls_server.tls, timeout=10) as zk:
        assert zk.connected
    unchecked = TLS(ca=zk_tls_server.ca_file, verify=False)
    with zkservices.ZooKeeper(f"localhost:{zk_tls_server.secure_port}", tls=unchecked, timeout=10) as zk:
        assert zk.connected
    with zkservices.ZooKeeper(zk_tls_server.connection_string, timeout=10) as zk:
        assert zk.connected  # the plain port stays plain


# -- bad TLS options: ValueError before anything starts -------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(str(tmp_path_factory.mktemp("certs")))


def test_bad_tls_options_are_value_errors(certs, tmp_path):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="cert and key go together"):
        TLS(ca=certs.ca_file, cert=certs.client_cert_file)
    with pytest.raises(ValueError, match="cert and key go together"):
        TLS(key=certs.client_key_file)
    with pytest.raises(ValueError, match="key_password without a key"):
        TLS(ca=certs.ca_file, key_password="x")
    with pytest.raises(ValueError, match=r"ca file '/nonexistent/ca.pem' does not exist"):
        TLS(ca="/nonexistent/ca.pem")
    with pytest.raises(ValueError, match="key file .* does not exist"):
        TLS(cert=certs.client_cert_file, key=str(tmp_path / "missing.key"))
    with pytest.raises(ValueError, match="holds no usable PEM certificate"):
        TLS(ca=str(not_pem))
    with pytest.raises(ValueError, match="must be PEM files that belong together"):
        TLS(cert=certs.client_cert_file, key=certs.server_key_file)  # another certificate's key
    with pytest.raises(ValueError, match="takes a file name"):
        TLS(ca=42)  # type: ignore[arg-type]


def test_bad_tls_fails_before_a_connection_is_tried(certs):
    started = time.monotonic()
    with pytest.raises(ValueError, match="cert and key go together"):
        zkservices.ZooKeeper("127.0.0.1:1", tls=TLS(cert=certs.client_cert_file), timeout=30)
    with pytest.raises(TypeError, match="tls= takes a zkservices.TLS or True"):
        zkservices.ZooKeeper("127.0.0.1:1", tls="yes", timeout=30)  # type: ignore[arg-type]
    assert time.monotonic() - started < 10  # at once, not after a connection attempt timed out
    client = KazooClient(hosts="127.0.0.1:1")
    with pytest.raises(ValueError, match="tls= is for a client zkservices makes"):
        zkservices.ZooKeeper(client=client, tls=True)


def test_tls_repr_and_kazoo_options(certs):
    tls = TLS(ca=certs.ca_file, cert=certs.client_cert_file, key=certs.client_key_file, key_password="s3cret")
    assert "s3cret" not in repr(tls) and "key_password=***" in repr(tls) and certs.ca_file in repr(tls)
    assert repr(TLS()) == "TLS()" and repr(TLS(verify=False)) == "TLS(verify=False)"
    with pytest.raises(AttributeError):
        tls.ca = None  # type: ignore[misc]  # frozen
    from zkservices._session.tls import kazoo_tls_options

    assert kazoo_tls_options(None) == kazoo_tls_options(False) == {}
    assert kazoo_tls_options(True) == {"use_ssl": True, "ca": None, "certfile": None, "keyfile": None,
                                       "keyfile_password": None, "verify_certs": True, "check_hostname": True}
    options = kazoo_tls_options(TLS(ca=certs.ca_file, verify=False))
    assert options["ca"] == certs.ca_file and not options["verify_certs"] and not options["check_hostname"]
