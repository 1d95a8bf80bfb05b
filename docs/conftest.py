"""The documentation's examples run as doctests against the session's real ZooKeeper
server, one chroot per page (pytest collects ``docs/**/*.rst`` through ``--doctest-glob``,
as it does ``doctests/``; the root conftest marks them ``zookeeper``)."""

import pytest

#: The built site and Sphinx's configuration are no test material.
collect_ignore = ["_build", "conf.py"]


@pytest.fixture(autouse=True)
def _zookeeper_namespace(doctest_namespace, zk_connection_string):
    doctest_namespace["connection_string"] = zk_connection_string
