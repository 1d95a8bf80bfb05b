"""pytest plugin: real ZooKeeper servers as fixtures (loaded by the ``pytest11`` entry point).

Cheap to import: server code is imported only when a fixture is used.

Options (each a command-line flag and an ini key):

- ``--zk-classpath`` / ``zookeeper_classpath``: classpath of the ZooKeeper jars
  (default: ``$ZOOKEEPER_CLASSPATH``, ``$ZOOKEEPER_HOME``, Debian's locations);
- ``--zk-connect`` / ``zookeeper_connect``: ``host:port`` of an already running
  server to use instead of starting one (fault tests that stop that server fail
  with a clear error);
- ``--zk-startup-timeout`` / ``zookeeper_startup_timeout``: seconds to wait for a
  server or ensemble to serve (default 60).

Fixtures:

- ``zk_server``: the session's standalone server (started once); after each test
  it is resumed/started again if the test paused or stopped it;
- ``zk_ensemble``: the session's 3-node ensemble, healed the same way;
- ``zk_chroot``: a fresh chroot path on ``zk_server``, removed after the test;
- ``zk_connection_string``: ``zk_server``'s connection string with that chroot;
- ``zk_client``: a started :class:`kazoo.client.KazooClient` on the chroot;
- ``zk``: a :class:`zkservices.ZooKeeper` on the chroot.

A failing test that used a server gets the server's log tail in its report.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Iterator

import pytest

_SERVERS_KEY = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zkservices", "real ZooKeeper servers (zkservices)")
    options = [
        ("--zk-classpath", "zookeeper_classpath", "classpath of the ZooKeeper server jars", None),
        ("--zk-connect", "zookeeper_connect", "use this running server (host:port) instead of starting one", None),
        ("--zk-startup-timeout", "zookeeper_startup_timeout", "seconds to wait for servers to serve", "60"),
    ]
    for flag, ini, help_text, default in options:
        group.addoption(flag, dest=ini, default=None, help=f"{help_text} (ini: {ini})")
        parser.addini(ini, help_text, default=default)


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    return value or None


class ExternalServer:
    """A server this process did not start: it can be used, not controlled."""

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string

    def _refuse(self, *args: object, **kw: object) -> None:
        from ._server import ServerError

        raise ServerError(f"{self.connection_string} was not started by this test run and cannot be controlled")

    stop = kill = pause = resume = restart = start = _refuse
    running = True
    paused = False

    def log_tail(self, lines: int = 50) -> str:
        return ""

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<ExternalServer {self.connection_string}>"


@pytest.fixture(scope="session")
def zookeeper_server_session(pytestconfig: pytest.Config) -> Iterator[Any]:
    connect = _option(pytestconfig, "zookeeper_connect")
    if connect:
        yield ExternalServer(connect)
        return
    from ._server import ZooKeeperServer

    server = ZooKeeperServer(
        classpath=_option(pytestconfig, "zookeeper_classpath"),
        startup_timeout=float(_option(pytestconfig, "zookeeper_startup_timeout") or 60),
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def zookeeper_ensemble_session(pytestconfig: pytest.Config) -> Iterator[Any]:
    from ._server import ZooKeeperEnsemble

    ensemble = ZooKeeperEnsemble(
        3,
        classpath=_option(pytestconfig, "zookeeper_classpath"),
        startup_timeout=float(_option(pytestconfig, "zookeeper_startup_timeout") or 60),
    )
    with ensemble:
        yield ensemble


def _remember(request: pytest.FixtureRequest, server: Any) -> None:
    request.node.stash.setdefault(_SERVERS_KEY, []).append(server)


@pytest.fixture
def zk_server(request: pytest.FixtureRequest, zookeeper_server_session: Any) -> Iterator[Any]:
    """The session's standalone server; healed (resumed/started) after the test."""
    server = zookeeper_server_session
    _remember(request, server)
    yield server
    if isinstance(server, ExternalServer):
        return
    if server.paused:
        server.resume()
    if not server.running:
        server.start()
    else:
        server.wait_serving()


@pytest.fixture
def zk_ensemble(request: pytest.FixtureRequest, zookeeper_ensemble_session: Any) -> Iterator[Any]:
    """The session's 3-node ensemble; every member running and serving again after the test."""
    ensemble = zookeeper_ensemble_session
    _remember(request, ensemble)
    yield ensemble
    ensemble.start()


def _admin_client(connection_string: str) -> Any:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=connection_string, timeout=10.0)
    client.start(timeout=30)
    return client


@pytest.fixture
def zk_chroot(request: pytest.FixtureRequest, zk_server: Any) -> Iterator[str]:
    """A fresh, empty chroot path on ``zk_server``; removed after the test."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    path = f"/zkservices-tests/{name}-{uuid.uuid4().hex[:8]}"
    admin = _admin_client(zk_server.connection_string)
    try:
        admin.ensure_path(path)
    finally:
        admin.stop()
        admin.close()
    yield path
    admin = _admin_client(zk_server.connection_string)
    try:
        admin.delete(path, recursive=True)
    except Exception:  # pragma: no cover - best effort clean-up; a later ephemeral may race
        pass
    finally:
        admin.stop()
        admin.close()


@pytest.fixture
def zk_connection_string(zk_server: Any, zk_chroot: str) -> str:
    """The standalone server's connection string with this test's chroot."""
    return zk_server.connection_string + zk_chroot


@pytest.fixture
def zk_client(zk_connection_string: str) -> Iterator[Any]:
    """A started KazooClient on this test's chroot; stopped after the test."""
    client = _admin_client(zk_connection_string)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def zk(zk_connection_string: str) -> Iterator[Any]:
    """A :class:`zkservices.ZooKeeper` on this test's chroot; closed after the test."""
    import zkservices

    helper = zkservices.ZooKeeper(zk_connection_string)
    yield helper
    helper.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed:
        for server in item.stash.get(_SERVERS_KEY, []):
            try:
                tail = server.log_tail(40)
            except Exception:  # pragma: no cover
                continue
            if tail:
                report.sections.append((f"ZooKeeper log tail ({server!r})", tail))
