"""make_certificates: a throw-away CA, server and client certificate, made with the real openssl and keytool."""

from __future__ import annotations

import os
import ssl
import subprocess
import time

import pytest

import zkservices
from zkservices.testing import Certificates, ServerError, make_certificates


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


def test_files_chain_and_names(tmp_path):
    started = time.monotonic()
    certs = make_certificates(str(tmp_path / "tls"))
    assert time.monotonic() - started < 20  # a few hundred ms here; generous for a loaded machine
    assert isinstance(certs, Certificates) and certs.directory == str(tmp_path / "tls")
    assert sorted(os.listdir(certs.directory)) == sorted(
        ["ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key", "keystore.p12", "truststore.p12"]
    )
    for cert in (certs.server_cert_file, certs.client_cert_file):
        assert openssl("verify", "-CAfile", certs.ca_file, cert).strip().endswith(": OK")
    assert "IP Address:127.0.0.1" in openssl("x509", "-in", certs.server_cert_file, "-noout", "-ext", "subjectAltName")
    assert "CN = zkservices-test-client" in openssl("x509", "-in", certs.client_cert_file, "-noout", "-subject")
    assert "TLS Web Client Authentication" in openssl("x509", "-in", certs.client_cert_file, "-noout", "-ext",
                                                      "extendedKeyUsage")
    # the stores open with their password and hold what ZooKeeper needs
    keystore = openssl("pkcs12", "-in", certs.keystore_file, "-passin", f"pass:{certs.store_password}", "-nokeys",
                       "-info")
    assert "subject=CN = 127.0.0.1" in keystore
    assert f"ssl.keyStore.password={certs.store_password}" in certs.server_properties()
    assert "ssl.clientAuth=need" in certs.server_properties(client_auth="need")
    assert certs.store_password not in repr(certs)
    # what clients get
    assert certs.client_tls == zkservices.TLS(ca=certs.ca_file, cert=certs.client_cert_file, key=certs.client_key_file)
    assert certs.ca_only_tls == zkservices.TLS(ca=certs.ca_file)
    assert isinstance(certs.client_ssl_context(), ssl.SSLContext)


def test_server_names_and_an_encrypted_client_key(tmp_path):
    certs = make_certificates(str(tmp_path), server_names=["10.1.2.3", "zk.example"], client_key_password="pw")
    names = openssl("x509", "-in", certs.server_cert_file, "-noout", "-ext", "subjectAltName")
    assert "IP Address:10.1.2.3" in names and "DNS:zk.example" in names
    assert open(certs.client_key_file).read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert certs.client_tls.key_password == "pw" and "pw" not in repr(certs)
    with pytest.raises(ValueError, match="server_names"):
        make_certificates(str(tmp_path), server_names=[])


def test_again_in_the_same_directory_replaces_them(tmp_path):
    first = make_certificates(str(tmp_path))
    ca = open(first.ca_file).read()
    second = make_certificates(str(tmp_path))
    assert open(second.ca_file).read() != ca
    assert openssl("verify", "-CAfile", second.ca_file, second.server_cert_file).strip().endswith(": OK")


def test_missing_keytool_says_what_to_install(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(subprocess.run(["sh", "-c", "command -v openssl"], capture_output=True, text=True).stdout.strip(),
               bin_dir / "openssl")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ServerError, match="keytool not found.*apt-get install default-jre-headless"):
        make_certificates(str(tmp_path / "tls"), java=str(bin_dir / "java"))


def test_a_failing_tool_reports_its_output(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "openssl"
    fake.write_text("#!/bin/sh\necho 'simulated failure' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    with pytest.raises(ServerError, match="could not make the test CA: .* exited with 3: simulated failure"):
        make_certificates(str(tmp_path / "tls"))
