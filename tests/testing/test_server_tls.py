"""ZooKeeperServer(tls=True): a real secure client port with throw-away certificates; restart(wipe_data=True)."""

from __future__ import annotations

import inspect
import os
import socket
import subprocess

import pytest
from kazoo.client import KazooClient

import zkservices
from zkservices.testing import ServerError, ZooKeeperServer, find_java

from _util import kazoo_client, stop

# KazooClient takes check_hostname= from kazoo 2.11 on (older kazoo never checks host names itself)
_CHECK_HOSTNAME = {"check_hostname": True} if "check_hostname" in inspect.signature(KazooClient).parameters else {}

pytestmark = pytest.mark.zookeeper  # some tests here start servers of their own


def test_tls_server_attributes(zk_tls_server):
    server = zk_tls_server
    assert server.secure_port not in (None, server.port)
    assert server.secure_connection_string == f"127.0.0.1:{server.secure_port}"
    assert f"tls={server.secure_connection_string} client_auth=none" in repr(server)
    assert server.tls == zkservices.TLS(ca=server.ca_file, cert=server.client_cert_file, key=server.client_key_file)
    for path in (server.ca_file, server.client_cert_file, server.client_key_file):
        assert os.path.dirname(path) == server.tls_dir and os.path.isfile(path)
    assert server.certificates is not None and server.certificates.directory == server.tls_dir
    # readiness and four-letter words: on the plain port, and over TLS on the secure one
    assert server.srvr()["Mode"] == "standalone"
    assert server.srvr(secure=True)["Mode"] == "standalone"
    config = open(os.path.join(server.base_dir, "zoo.cfg")).read()
    assert "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory" in config
    assert f"secureClientPort={server.secure_port}" in config and "ssl.clientAuth=none" in config


def test_server_certificate_names_the_address(zk_tls_server):
    text = subprocess.run(["openssl", "x509", "-in", zk_tls_server.certificates.server_cert_file, "-noout", "-ext",
                           "subjectAltName"], check=True, capture_output=True, text=True).stdout
    assert "IP Address:127.0.0.1" in text


def test_mtls_server_needs_the_client_certificate(zk_mtls_server):
    assert zk_mtls_server.client_auth == "need"
    assert "ssl.clientAuth=need" in open(os.path.join(zk_mtls_server.base_dir, "zoo.cfg")).read()
    assert zk_mtls_server.srvr(secure=True)["Mode"] == "standalone"  # with the client certificate
    context = zk_mtls_server.certificates.client_ssl_context(client_cert=False)
    assert zkservices.testing.srvr("127.0.0.1", zk_mtls_server.secure_port, ssl_context=context) == {}


def test_plain_server_has_no_tls(zk_server):
    assert zk_server.secure_port is None and zk_server.secure_connection_string is None
    assert zk_server.tls is None and zk_server.certificates is None
    assert zk_server.tls_dir is zk_server.ca_file is zk_server.client_cert_file is zk_server.client_key_file is None
    assert zk_server.client_auth == "none" and "tls=" not in repr(zk_server)
    assert zk_server.srvr(secure=True) == {}


def test_bad_tls_options_are_refused():
    with pytest.raises(ValueError, match="client_auth must be one of none, want, need"):
        ZooKeeperServer(tls=True, client_auth="required")
    with pytest.raises(ValueError, match="pass tls=True too"):
        ZooKeeperServer(client_auth="need")
    with pytest.raises(ValueError, match="pass tls=True too"):
        ZooKeeperServer(secure_port=2281)


def test_missing_openssl_says_what_to_install(monkeypatch, tmp_path):
    java = find_java()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="openssl not found.*apt-get install openssl"):
        ZooKeeperServer(tls=True, java=java)


def test_restart_with_wiped_data_comes_back_empty_and_keeps_the_certificates():
    with ZooKeeperServer(tls=True) as server:
        ca = open(server.ca_file).read()
        assert os.path.isfile(server.certificates.keystore_file)
        assert os.path.isfile(server.certificates.truststore_file)
        client = kazoo_client(server.connection_string)
        try:
            client.create("/kept/deeper", b"data", makepath=True)
        finally:
            stop(client)
        server.restart()
        client = kazoo_client(server.connection_string)
        try:
            assert client.get("/kept/deeper")[0] == b"data"  # a plain restart keeps the data
        finally:
            stop(client)
        port, secure_port = server.port, server.secure_port
        server.restart(wipe_data=True)
        assert (server.port, server.secure_port) == (port, secure_port)
        with zkservices.ZooKeeper(server.secure_connection_string, tls=server.tls, timeout=10) as zk:
            assert zk.get_children("/") == ["zookeeper"]  # an empty tree, over TLS still
        client = kazoo_client(server.connection_string)
        try:
            assert client.exists("/kept") is None
        finally:
            stop(client)
        assert open(server.ca_file).read() == ca  # made once per server
    assert not os.path.exists(server.tls_dir)  # and removed with it


def test_wipe_data_keeps_an_ensemble_members_id_and_refuses_a_running_server(tmp_path, zk_server):
    member = ZooKeeperServer(data_dir=str(tmp_path), myid=2, peers=[(1, 1, 2), (2, 3, 4)])
    try:
        (tmp_path / "data" / "version-2").mkdir()
        member.wipe_data()
        assert sorted(os.listdir(tmp_path / "data")) == ["myid"]
        assert (tmp_path / "data" / "myid").read_text().strip() == "2"
    finally:
        member.close()
    with pytest.raises(ServerError, match="stop it first"):
        zk_server.wipe_data()


def test_kazoo_alone_speaks_tls_to_the_server(zk_mtls_server):
    # the harness's certificates are plain PEM files any TLS client can use
    client = KazooClient(hosts=zk_mtls_server.secure_connection_string, use_ssl=True, ca=zk_mtls_server.ca_file,
                         certfile=zk_mtls_server.client_cert_file, keyfile=zk_mtls_server.client_key_file,
                         verify_certs=True, **_CHECK_HOSTNAME)
    client.start(timeout=10)
    try:
        assert client.exists("/zookeeper") is not None
    finally:
        stop(client)


def test_the_tls_protocol_the_server_speaks_by_default(zk_tls_server):
    # no ssl.protocol in zoo.cfg: ZooKeeper 3.8.0 offers TLSv1.2, 3.9.5 TLSv1.3 (Java 17
    # has it); the session's TLS (Python's ssl) takes either
    assert "ssl.protocol" not in open(os.path.join(zk_tls_server.base_dir, "zoo.cfg")).read()
    context = zk_tls_server.certificates.client_ssl_context()
    with socket.create_connection((zk_tls_server.host, zk_tls_server.secure_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=zk_tls_server.host) as tls:
            protocol = tls.version()
    assert protocol == ("TLSv1.3" if zk_tls_server.version >= (3, 9) else "TLSv1.2"), zk_tls_server.version
