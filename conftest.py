"""README.rst runs as a doctest against the session's real ZooKeeper server."""

import pytest


@pytest.fixture(autouse=True)
def _readme_zookeeper_namespace(request, doctest_namespace):
    if request.node.name == "README.rst":
        doctest_namespace["connection_string"] = request.getfixturevalue("zk_connection_string")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items):
    # every .rst doctest here (README.rst, doctests/) talks to the server
    for item in items:
        if item.path.suffix == ".rst":
            item.add_marker("zookeeper")
