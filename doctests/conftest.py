"""Doctests run against the session's real ZooKeeper server, one chroot per file."""

import pytest


@pytest.fixture(autouse=True)
def _zookeeper_namespace(doctest_namespace, zk_connection_string):
    doctest_namespace["connection_string"] = zk_connection_string
