"""Finding Java and the ZooKeeper jars; errors say what to install (no server needed)."""

from __future__ import annotations

import os

import pytest

from zkservices.testing import ServerError, find_classpath, find_java


def _no_server_in_the_environment(monkeypatch):
    # a run with --zk-classpath / --zk-version exports its choice: these tests look past it
    for name in ("ZOOKEEPER_CLASSPATH", "ZOOKEEPER_VERSION", "ZOOKEEPER_VERSIONS_DIR", "ZOOKEEPER_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_missing_jars_error_says_what_to_install(monkeypatch):
    _no_server_in_the_environment(monkeypatch)
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

    _no_server_in_the_environment(monkeypatch)  # Debian's jars, also in the unit run
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


def _fake_versions(root, *names):
    for name in names:
        lib = root / name / "lib"
        lib.mkdir(parents=True)
        (lib / f"zookeeper-{name}.jar").write_bytes(b"")
    return root


def test_a_version_is_found_among_the_downloaded_servers(monkeypatch, tmp_path):
    from zkservices.testing.install import version_classpath

    root = _fake_versions(tmp_path / "dists", "3.9.2", "3.9.10", "3.8.4")
    (root / "3.9.99" / "lib").mkdir(parents=True)  # no jars (an interrupted download): not a server
    assert version_classpath("3.9", str(root)) == str(root / "3.9.10" / "lib" / "*")  # newest, 10 > 2
    assert version_classpath("3.9.2", str(root)) == str(root / "3.9.2" / "lib" / "*")
    assert version_classpath("3", str(root)) == str(root / "3.9.10" / "lib" / "*")
    with pytest.raises(ServerError, match=r"no ZooKeeper 3\.7 in .*scripts/bootstrap --test"):
        version_classpath("3.7", str(root))
    with pytest.raises(ServerError, match="no ZooKeeper 3.9.1 in"):
        version_classpath("3.9.1", str(root))  # a prefix of dotted parts, not of characters
    assert find_classpath(version="3.8", versions_dir=str(root)) == str(root / "3.8.4" / "lib" / "*")
    with pytest.raises(ValueError, match="a classpath or a version, not both"):
        find_classpath("/x.jar", version="3.9", versions_dir=str(root))
    # the environment's choice, as the pytest plugin's --zk-version exports it; a classpath comes first
    _no_server_in_the_environment(monkeypatch)
    monkeypatch.setenv("ZOOKEEPER_VERSION", "3.9.2")
    monkeypatch.setenv("ZOOKEEPER_VERSIONS_DIR", str(root))
    assert find_classpath() == str(root / "3.9.2" / "lib" / "*")
    monkeypatch.setenv("ZOOKEEPER_CLASSPATH", str(root / "3.8.4" / "lib" / "*"))
    assert find_classpath() == str(root / "3.8.4" / "lib" / "*")


def test_a_relative_classpath_comes_back_absolute(monkeypatch, tmp_path):
    # the server runs in its own directory: a relative entry would name nothing there
    _fake_versions(tmp_path, "3.9.5")
    monkeypatch.chdir(tmp_path)
    assert find_classpath("3.9.5/lib/*") == str(tmp_path / "3.9.5" / "lib" / "*")


def test_a_classpath_glob_holding_netty_gets_no_debian_netty(tmp_path):
    # ZooKeeper 3.9 from Maven brings its own Netty (4.1.1xx); Debian's must not be mixed in
    from zkservices.testing.install import NETTY_JARS, netty_classpath

    lib = _fake_versions(tmp_path, "3.9.5") / "3.9.5" / "lib"
    for name in NETTY_JARS:
        (lib / f"{name}-4.1.130.Final.jar").write_bytes(b"")
    assert netty_classpath(str(lib / "*")) == str(lib / "*")


def test_server_version_is_read_from_srvr():
    from zkservices.testing import server_version

    assert server_version({"Zookeeper version": "3.9.5-293c895a8d966a3ecb92872be4a1daf87d725da2, built on 2026"}) == (
        3, 9, 5)
    debian = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"  # Debian's says so
    assert server_version({"Zookeeper version": debian}) == (3, 8, 0)
    assert server_version({}) is None
    assert server_version({"Mode": "standalone"}) is None
