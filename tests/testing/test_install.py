"""Finding Java and the ZooKeeper jars; errors say what to install (no server needed)."""

from __future__ import annotations

import os

import pytest

from zkservices.testing import ServerError, find_classpath, find_java


def test_missing_jars_error_says_what_to_install(monkeypatch):
    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)
    monkeypatch.setenv("ZOOKEEPER_HOME", "/nonexistent-zookeeper")
    with pytest.raises(ServerError, match="apt-get install zookeeper"):
        find_classpath()
    monkeypatch.delenv("ZOOKEEPER_HOME")
    monkeypatch.setenv("ZOOKEEPER_CLASSPATH", "/nonexistent.jar")
    with pytest.raises(ServerError, match="/nonexistent.jar"):
        find_classpath()


def test_explicit_classpath_wins_over_the_environment(monkeypatch, tmp_path):
    jar = tmp_path / "zookeeper.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv("ZOOKEEPER_CLASSPATH", "/nonexistent.jar")
    assert find_classpath(str(jar)) == str(jar)


def test_missing_java_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="Java not found.*apt-get install zookeeper"):
        find_java()


def test_netty_jars_are_added_for_tls(monkeypatch, tmp_path):
    from zkservices.testing import install

    monkeypatch.delenv("ZOOKEEPER_CLASSPATH", raising=False)  # the installed jars, also in the unit run
    base = install.find_classpath()
    with_netty = install.netty_classpath(base)
    for name in install.NETTY_JARS:
        assert any(os.path.basename(e) in (f"{name}.jar",) or os.path.basename(e).startswith(f"{name}-4")
                   for e in with_netty.split(os.pathsep)), name
    assert install.netty_classpath(with_netty) == with_netty  # nothing twice
    assert install.netty_classpath("/opt/zk/lib/netty-all-4.1.jar") == "/opt/zk/lib/netty-all-4.1.jar"
    monkeypatch.setattr(install, "DEBIAN_JAVA_DIR", str(tmp_path))
    with pytest.raises(ServerError, match="Netty jars .* not found .*apt-get install libnetty-java"):
        install.netty_classpath("/opt/zk/zookeeper.jar")


def test_missing_openssl_and_keytool_say_what_to_install(monkeypatch, tmp_path):
    from zkservices.testing.install import find_keytool, find_openssl

    assert os.path.basename(find_openssl()) == "openssl"
    assert os.path.basename(find_keytool(find_java())) == "keytool"
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ServerError, match="apt-get install openssl"):
        find_openssl()
    with pytest.raises(ServerError, match="apt-get install default-jre-headless"):
        find_keytool(str(tmp_path / "java"))
