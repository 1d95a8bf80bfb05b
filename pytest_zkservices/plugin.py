"""pytest plugin: options, the ``zookeeper`` marker and the default fixtures.

Loaded by the ``pytest11`` entry point (named ``zkservices``; ``-p no:zkservices`` turns it off).

pytest imports this module in every run where zkservices is installed, so it
imports nothing but pytest and this package: zkservices and kazoo load only
when a fixture runs.

Options (each a command-line flag and an ini key, see :mod:`.config`):

- ``--zk-classpath`` / ``zookeeper_classpath``: classpath of the ZooKeeper jars
  (default: ``$ZOOKEEPER_CLASSPATH``, ``$ZOOKEEPER_HOME``, Debian's locations);
- ``--zk-version`` / ``zookeeper_version``: instead of a classpath, a downloaded
  server's version, ``3.9`` (the newest ``3.9.N``) or ``3.9.5``, found in the
  ``.zookeeper/<version>/lib`` directory of pytest's rootdir, where
  ``scripts/bootstrap --test`` puts it.  Servers of the plugin's fixtures that
  answer with another version fail their tests (the two go one at a time);
- ``--zk-connect`` / ``zookeeper_connect``: ``host:port`` of an already running
  server to use instead of starting one (fault tests that stop that server fail
  with a clear error);
- ``--zk-startup-timeout`` / ``zookeeper_startup_timeout``: seconds to wait for a
  server or ensemble to serve (default 60).

The classpath or version given is that of every server the run starts, those a test
starts itself (``ZooKeeperServer()``) too: the plugin exports it as
``$ZOOKEEPER_CLASSPATH`` (or ``$ZOOKEEPER_VERSION`` and
``$ZOOKEEPER_VERSIONS_DIR``) for the run, see
:func:`zkservices.testing.find_classpath`.  A test learns what it runs against
from ``zk_server.version`` (``(3, 9, 5)``) and expects what that version does.

Fixtures (made by :mod:`.factories`):

- ``zookeeper_server_session``: the run's standalone server (started once);
- ``zookeeper_ensemble_session``: the run's 3-member ensemble (started once);
- ``zk_server``: the standalone server; after each test it is resumed/started
  again if the test paused or stopped it;
- ``zk_ensemble``: the ensemble, healed the same way;
- ``zk_chroot``: a fresh chroot path on ``zk_server``, removed after the test;
- ``zk_connection_string``: ``zk_server``'s connection string with that chroot;
- ``zk_client``: a started :class:`kazoo.client.KazooClient` on the chroot;
- ``zk``: a :class:`zkservices.ZooKeeper` on the chroot.

TLS fixtures (servers with throw-away certificates, see
:class:`zkservices.testing.ZooKeeperServer`; always started by the plugin,
``--zk-connect`` does not apply to them; each started only when a test uses it):

- ``zookeeper_tls_session``: the run's server with a TLS port (``client_auth="none"``);
- ``zookeeper_mtls_session``: the run's server with a mutual-TLS port (``client_auth="need"``);
- ``zk_tls_server``, ``zk_mtls_server``: those servers, healed after each test as
  ``zk_server`` is; use ``.secure_connection_string``, ``.tls`` (the client's
  :class:`zkservices.TLS`: CA, client certificate and key), ``.ca_file``,
  ``.client_cert_file``, ``.client_key_file``, and the plain ``.connection_string``;
- ``zk_tls``, ``zk_mtls``: a :class:`zkservices.ZooKeeper` connected over TLS to
  those servers' secure ports (with the client certificate), on a fresh chroot.

Every test using one of these (directly or through other fixtures) gets the
``zookeeper`` marker, so ``pytest -m "not zookeeper"`` runs the server-free
tests alone and starts no server.  A failing test that used a server gets the
server's log tail in its report.
"""

from __future__ import annotations

import os
from typing import Any, Generator

import pytest

from . import factories
from .config import add_options, get_config

#: The marker of tests that need a real ZooKeeper server.
MARKER = "zookeeper"

zookeeper_server_session = factories.zookeeper_proc()
zookeeper_ensemble_session = factories.zookeeper_ensemble_proc(3)
zk_server = factories.zookeeper_server("zookeeper_server_session")
zk_ensemble = factories.zookeeper_ensemble("zookeeper_ensemble_session")
zk_chroot = factories.zookeeper_chroot("zk_server")
zk_connection_string = factories.zookeeper_connection_string("zk_server", "zk_chroot")
zk_client = factories.zookeeper_client("zk_connection_string")
zk = factories.zookeeper("zk_connection_string")
zookeeper_tls_session = factories.zookeeper_proc(tls=True)
zookeeper_mtls_session = factories.zookeeper_proc(tls=True, client_auth="need")
zk_tls_server = factories.zookeeper_server("zookeeper_tls_session")
zk_mtls_server = factories.zookeeper_server("zookeeper_mtls_session")
zk_tls = factories.zookeeper_tls("zk_tls_server")
zk_mtls = factories.zookeeper_tls("zk_mtls_server")

#: The fixtures above: a test whose fixtures include one of them gets :data:`MARKER`.
SERVER_FIXTURES = frozenset(
    {
        "zookeeper_server_session",
        "zookeeper_ensemble_session",
        "zk_server",
        "zk_ensemble",
        "zk_chroot",
        "zk_connection_string",
        "zk_client",
        "zk",
        "zookeeper_tls_session",
        "zookeeper_mtls_session",
        "zk_tls_server",
        "zk_mtls_server",
        "zk_tls",
        "zk_mtls",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


#: The environment the run's options export (see the module's docstring), as it was before.
_SAVED_ENV = pytest.StashKey[dict]()
_ENV_NAMES = ("ZOOKEEPER_CLASSPATH", "ZOOKEEPER_VERSION", "ZOOKEEPER_VERSIONS_DIR")


def _export_server_choice(config: pytest.Config) -> None:
    options = get_config(config)
    if options.classpath and options.version:
        raise pytest.UsageError("--zk-classpath and --zk-version (or their ini keys) go one at a time, not both")
    if not (options.classpath or options.version):
        return
    config.stash[_SAVED_ENV] = {name: os.environ.get(name) for name in _ENV_NAMES}
    for name in _ENV_NAMES:
        os.environ.pop(name, None)
    if options.classpath:
        os.environ["ZOOKEEPER_CLASSPATH"] = options.classpath
    else:
        os.environ["ZOOKEEPER_VERSION"] = str(options.version)
        os.environ["ZOOKEEPER_VERSIONS_DIR"] = str(config.rootpath / ".zookeeper")


def pytest_unconfigure(config: pytest.Config) -> None:
    for name, value in config.stash.get(_SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    _export_server_choice(config)
    config.addinivalue_line(
        "markers",
        f"{MARKER}: the test uses a real ZooKeeper server (added automatically to tests using the zk* "
        f"fixtures); run the others alone with -m 'not {MARKER}'",
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(MARKER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed:
        for server in item.stash.get(factories.SERVERS_USED, []):
            try:
                lines = server.log_tail(1000).splitlines()
            except Exception:  # pragma: no cover
                continue
            if not lines:
                continue
            from zkservices.testing.serverlog import important_lines

            tail = "\n".join(important_lines(lines)) or "(no WARN or ERROR lines in the server's log)"
            report.sections.append((f"ZooKeeper log tail ({server!r}), WARN and above", tail))
    return report
