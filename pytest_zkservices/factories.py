"""Fixture factories: each call returns a new pytest fixture; assign it to a module-level name.

Process fixtures are session-scoped and own a server for the whole run;
per-test fixtures name the fixture they build on and clean up after the test::

    from pytest_zkservices import factories

    other_proc = factories.zookeeper_proc()                  # a second server
    other_server = factories.zookeeper_server("other_proc")  # healed after each test
    other_chroot = factories.zookeeper_chroot("other_server")
    other_connection = factories.zookeeper_connection_string("other_server", "other_chroot")
    other_zk = factories.zookeeper("other_connection")

    tls_proc = factories.zookeeper_proc(tls=True, client_auth="need")  # mutual TLS
    tls_server = factories.zookeeper_server("tls_proc")
    tls_zk = factories.zookeeper_tls("tls_server")             # over TLS, on a fresh chroot

Tests using such fixtures of their own are not recognised by the plugin as
needing a server: mark them ``@pytest.mark.zookeeper``.  Nothing here imports
zkservices or kazoo until a fixture runs.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from .config import get_config

if TYPE_CHECKING:  # pragma: no cover - types only; imported when a fixture runs
    from kazoo.client import KazooClient

    from zkservices import ZooKeeper
    from zkservices.testing import ExternalServer, ZooKeeperEnsemble, ZooKeeperServer

__all__ = [
    "SERVERS_USED",
    "zookeeper",
    "zookeeper_chroot",
    "zookeeper_client",
    "zookeeper_connection_string",
    "zookeeper_ensemble",
    "zookeeper_ensemble_proc",
    "zookeeper_proc",
    "zookeeper_server",
    "zookeeper_tls",
]

#: The servers (and ensembles) a test used, in its item's stash; the plugin
#: adds their log tails to the report of a test that fails.
SERVERS_USED = pytest.StashKey[list]()

#: Where chroots are made on the server.
CHROOT_BASE = "/zkservices-tests"


def _fixture(function: Callable[..., Any], doc: str, scope: str = "function") -> Callable[..., Any]:
    function.__doc__ = doc  # what ``pytest --fixtures`` shows
    return pytest.fixture(function, scope=scope)  # type: ignore[call-overload]


def _remember(request: pytest.FixtureRequest, server: Any) -> None:
    request.node.stash.setdefault(SERVERS_USED, []).append(server)


def _check_version(server: ZooKeeperServer | ZooKeeperEnsemble, wanted: str | None) -> None:
    """Raise ServerError when ``--zk-version`` asked for ``wanted`` and ``server`` runs another version."""
    if wanted is None:
        return
    from zkservices.errors import ServerError

    running = ".".join(map(str, server.version or ()))
    if running != wanted and not running.startswith(wanted + "."):
        raise ServerError(f"--zk-version {wanted} asked for ZooKeeper {wanted}, but {server!r} runs {running or '?'}")


def zookeeper_proc(
    *,
    classpath: str | None = None,
    startup_timeout: float | None = None,
    connect: str | None = None,
    tls: bool = False,
    client_auth: str = "none",
) -> Callable[..., Any]:
    """A session-scoped fixture: a standalone server started once for the run, closed at its end.

    With ``connect`` (or the run's ``--zk-connect``) it yields an
    :class:`~zkservices.testing.ExternalServer` for that running server
    instead.  With ``tls`` the server also serves TLS with throw-away
    certificates and ``client_auth`` (``"none"``, ``"want"``, ``"need"``),
    as :class:`~zkservices.testing.ZooKeeperServer` does; such a server is
    always started here (``--zk-connect`` does not apply).  ``classpath`` and
    ``startup_timeout`` default to the run's options (``--zk-version`` too:
    a server of another version fails the tests using it).  Starting fails the
    tests using it with :class:`~zkservices.testing.ServerError` saying what
    is missing.
    """
    if connect is not None and tls:
        raise ValueError("zookeeper_proc: a TLS server is started here; connect= does not go with tls=True")

    def zookeeper_proc_fixture(pytestconfig: pytest.Config) -> Iterator[ZooKeeperServer | ExternalServer]:
        from zkservices.testing import ExternalServer, ZooKeeperServer

        options = get_config(pytestconfig)
        address = connect or options.connect
        if address and not tls:
            with ExternalServer(address) as external:
                yield external
            return
        with ZooKeeperServer(
            classpath=classpath or options.classpath,
            startup_timeout=startup_timeout or options.startup_timeout,
            tls=tls,
            client_auth=client_auth,
            name=("zk-mtls" if client_auth == "need" else "zk-tls") if tls else None,
        ) as server:
            _check_version(server, None if classpath else options.version)
            yield server

    if tls:
        doc = f"A ZooKeeper server with a TLS port (client_auth={client_auth}) for the whole run."
    else:
        doc = "A ZooKeeper server for the whole run (standalone, or the --zk-connect one)."
    return _fixture(zookeeper_proc_fixture, doc, scope="session")


def zookeeper_ensemble_proc(
    n: int = 3, *, classpath: str | None = None, startup_timeout: float | None = None
) -> Callable[..., Any]:
    """A session-scoped fixture: an ensemble of ``n`` servers started once for the run, closed at its end.

    ``classpath`` and ``startup_timeout`` default to the run's options.
    """

    def zookeeper_ensemble_proc_fixture(pytestconfig: pytest.Config) -> Iterator[ZooKeeperEnsemble]:
        from zkservices.testing import ZooKeeperEnsemble

        options = get_config(pytestconfig)
        with ZooKeeperEnsemble(
            n,
            classpath=classpath or options.classpath,
            startup_timeout=startup_timeout or options.startup_timeout,
        ) as ensemble:
            _check_version(ensemble, None if classpath else options.version)
            yield ensemble

    return _fixture(
        zookeeper_ensemble_proc_fixture,
        f"A {n}-member ZooKeeper ensemble for the whole run.",
        scope="session",
    )


def zookeeper_server(proc_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: the server of ``proc_fixture``, healed after the test.

    After the test a paused server is resumed and a stopped one started
    again, and the fixture waits until it serves; an external server is left
    as it is.  A failing test's report carries the server's log tail.
    """

    def zookeeper_server_fixture(request: pytest.FixtureRequest) -> Iterator[ZooKeeperServer | ExternalServer]:
        from zkservices.testing import ExternalServer

        server = request.getfixturevalue(proc_fixture)
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

    return _fixture(
        zookeeper_server_fixture,
        f"The server of {proc_fixture}; resumed/started again after the test.",
    )


def zookeeper_ensemble(proc_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: the ensemble of ``proc_fixture``.

    After the test every member is running and serving again.
    """

    def zookeeper_ensemble_fixture(request: pytest.FixtureRequest) -> Iterator[ZooKeeperEnsemble]:
        ensemble = request.getfixturevalue(proc_fixture)
        _remember(request, ensemble)
        yield ensemble
        ensemble.start()

    return _fixture(zookeeper_ensemble_fixture, f"The ensemble of {proc_fixture}; healed after the test.")


def _admin_client(connection_string: str) -> KazooClient:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=connection_string, timeout=10.0)
    client.start(timeout=30)
    return client


def _close(client: KazooClient) -> None:
    try:
        client.stop()
    finally:
        client.close()


def _make_chroot(request: pytest.FixtureRequest, connection_string: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]
    path = f"{CHROOT_BASE}/{name}-{uuid.uuid4().hex[:8]}"
    admin = _admin_client(connection_string)
    try:
        admin.ensure_path(path)
    finally:
        _close(admin)
    return path


def _remove_chroot(connection_string: str, path: str) -> None:
    admin = _admin_client(connection_string)
    try:
        admin.delete(path, recursive=True)
    except Exception:  # pragma: no cover - best effort clean-up; a later ephemeral may race
        pass
    finally:
        _close(admin)


def zookeeper_chroot(server_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: a fresh, empty path on the server of ``server_fixture``, removed after the test.

    The path is under ``/zkservices-tests`` and named after the test.
    """

    def zookeeper_chroot_fixture(request: pytest.FixtureRequest) -> Iterator[str]:
        server = request.getfixturevalue(server_fixture)
        path = _make_chroot(request, server.connection_string)
        yield path
        _remove_chroot(server.connection_string, path)

    return _fixture(
        zookeeper_chroot_fixture,
        f"A fresh chroot path on {server_fixture}; removed after the test.",
    )


def zookeeper_connection_string(server_fixture: str, chroot_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: the connection string of ``server_fixture`` with the chroot of ``chroot_fixture``."""

    def zookeeper_connection_string_fixture(request: pytest.FixtureRequest) -> str:
        server = request.getfixturevalue(server_fixture)
        return server.connection_string + request.getfixturevalue(chroot_fixture)

    return _fixture(
        zookeeper_connection_string_fixture,
        f"{server_fixture}'s connection string with {chroot_fixture}.",
    )


def zookeeper_client(connection_string_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: a started :class:`kazoo.client.KazooClient` on ``connection_string_fixture``.

    Stopped and closed after the test.
    """

    def zookeeper_client_fixture(request: pytest.FixtureRequest) -> Iterator[KazooClient]:
        client = _admin_client(request.getfixturevalue(connection_string_fixture))
        yield client
        _close(client)

    return _fixture(
        zookeeper_client_fixture,
        f"A started KazooClient on {connection_string_fixture}; stopped after the test.",
    )


def zookeeper(connection_string_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: a :class:`zkservices.ZooKeeper` on ``connection_string_fixture``, closed after the test."""

    def zookeeper_fixture(request: pytest.FixtureRequest) -> Iterator[ZooKeeper]:
        import zkservices

        helper = zkservices.ZooKeeper(request.getfixturevalue(connection_string_fixture))
        yield helper
        helper.close()

    return _fixture(
        zookeeper_fixture,
        f"A zkservices.ZooKeeper on {connection_string_fixture}; closed after the test.",
    )


def zookeeper_tls(server_fixture: str) -> Callable[..., Any]:
    """A per-test fixture: a :class:`zkservices.ZooKeeper` over TLS to the TLS server of ``server_fixture``.

    It connects to the server's secure port, on a fresh chroot (made and
    removed through the plain port, as :func:`zookeeper_chroot` does), with
    the server's client :class:`~zkservices.TLS` (CA and client certificate);
    closed after the test.  ``server_fixture`` must be a server made with
    ``zookeeper_proc(tls=True)``.
    """

    def zookeeper_tls_fixture(request: pytest.FixtureRequest) -> Iterator[ZooKeeper]:
        import zkservices

        server = request.getfixturevalue(server_fixture)
        if getattr(server, "secure_connection_string", None) is None:
            raise pytest.UsageError(f"{server_fixture} is not a TLS server (make it with zookeeper_proc(tls=True))")
        path = _make_chroot(request, server.connection_string)
        helper = zkservices.ZooKeeper(server.secure_connection_string + path, tls=server.tls)
        yield helper
        helper.close()
        _remove_chroot(server.connection_string, path)

    return _fixture(
        zookeeper_tls_fixture,
        f"A zkservices.ZooKeeper over TLS to {server_fixture}'s secure port, on a fresh chroot; closed after the test.",
    )
