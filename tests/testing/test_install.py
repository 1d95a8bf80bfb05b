"""Finding Java and the ZooKeeper jars; errors say what to install (no server needed)."""

from __future__ import annotations

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
