"""kazoo's internals, all in zkservices._session.kazoo_internals: what is usable is
decided once per client, and each capability forced missing leaves the feature
working against a real server as the internal path does (only slower)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import zkservices
import zkservices.aio
from zkservices import TLS, FailedConnect
from zkservices._session.kazoo_internals import (CAPABILITIES, INSTALL, HostCheckingHandler, access, kazoo_version,
                                                 tls_arguments, unavailable)
from zkservices._session.pipe import Burst, Pipe
from zkservices.testing import FaultError, drop_connection, expire_session

from _util import wait_for

TREE = """\
/app
  color = 'blue'
  /providers
    /10.0.0.1:80
      weight = 2
    /10.0.0.2:80
  /config
    size = 3
    limits = {'a': 1}
"""


def test_the_install_and_the_capability_names(zk):
    assert kazoo_version()[:1].isdigit()
    assert INSTALL <= CAPABILITIES and "wire" in INSTALL
    kazoo = access(zk.client)
    assert kazoo.pipe and kazoo.direct_reads and kazoo.multi_reads and kazoo.watchers
    assert kazoo.callbacks and kazoo.zxid and kazoo.socket and kazoo.replies
    with pytest.raises(ValueError, match="unknown kazoo capabilities"):
        with unavailable("pipe", "no-such-thing"):
            pass


def test_capabilities_are_decided_once_per_client(zk_connection_string):
    with zkservices.ZooKeeper(zk_connection_string) as first:
        decided = access(first.client)
        with unavailable("pipe", "watchers", "wire"):
            assert access(first.client) is decided and decided.pipe  # seen before: kept
            with zkservices.ZooKeeper(zk_connection_string) as second:
                kazoo = access(second.client)
                assert not (kazoo.pipe or kazoo.watchers or kazoo.direct_reads or kazoo.multi_reads)
                assert "public calls only" not in repr(kazoo) and "callbacks" in repr(kazoo)
        assert access(second.client) is kazoo and not kazoo.pipe  # kept after the block too
        assert access(first.client).pipe


def _burst_outcomes(zk, base):
    """A burst of reads and writes through a Pipe: each call's outcome, stats as versions."""
    zk.client.create(base)
    zk.client.create(f"{base}/a", b"one")
    zk.client.create(f"{base}/b", b"two")
    client = zk.client
    calls = [(client.get_async, (f"{base}/a",)), (client.get_children_async, (base,)),
             (client.exists_async, (f"{base}/missing",)), (client.get_async, (f"{base}/missing",)),
             (client.get_async, (f"{base}/b",)), (client.set_async, (f"{base}/a", b"changed")),
             (client.get_async, (f"{base}/a",)), (client.delete_async, (f"{base}/b",)),
             (client.get_children_async, (base,)), (client.exists_async, (f"{base}/b",))]
    pipe = Pipe(client)
    burst = Burst(pipe)
    results = [burst.call(start, *args) for start, args in calls]
    burst.flush()
    outcomes = []
    for result in results:
        assert result.wait(10)
        try:
            value = result.get()
        except Exception as exc:
            outcomes.append(("error", type(exc).__name__))
            continue
        if hasattr(value, "version"):  # a stat
            value = value.version
        elif isinstance(value, tuple):  # (data, stat)
            value = (value[0], value[1].version)
        elif isinstance(value, list):
            value = sorted(value)
        outcomes.append(("value", value))
    return pipe.usable, pipe.gathers, outcomes


def test_without_the_pipe_a_burst_has_the_same_outcomes(zk, zk_connection_string):
    piped, _, expected = _burst_outcomes(zk, "/piped")
    with unavailable("pipe"):
        with zkservices.ZooKeeper(zk_connection_string) as plain:
            usable, _, outcomes = _burst_outcomes(plain, "/plain")
    assert piped and not usable
    assert outcomes == expected
    assert expected[0] == ("value", (b"one", 0)) and expected[3] == ("error", "NoNodeError")


def test_without_the_pipe_the_asyncio_front_works(zk_connection_string, zk_client):
    zk_client.create("/a", b'{"n": 1}')

    async def main():
        azk = await zkservices.aio.connect(zk_connection_string)
        try:
            how = repr(azk._ops.bridge)
            await azk.update_properties("/a", n=2)
            values = await asyncio.gather(*(azk.get_properties("/a") for _ in range(200)))
            return how, values
        finally:
            await azk.close()

    with unavailable("pipe"):
        how, values = asyncio.run(asyncio.wait_for(main(), 30))
    assert "plain calls" in how and values == [{"n": 2}] * 200


def test_without_kazoos_wire_structs_trees_import_and_export_the_same(zk, zk_connection_string, caplog):
    zk.import_tree(TREE, "/")
    expected = zk.export_tree("/app")
    zk.delete_recursive("/app")
    with unavailable("wire"):
        with zkservices.ZooKeeper(zk_connection_string) as plain:
            kazoo = access(plain.client)
            assert not (kazoo.direct_reads or kazoo.multi_reads or kazoo.watchers) and kazoo.pipe
            changes = plain.import_tree(TREE, "/")  # transaction.create instead of kazoo's Create
            exported = plain.export_tree("/app")  # reads one request each, not multi-reads
            assert Pipe(plain.client).usable  # queued with one wake-up still
    assert exported == expected and len(changes) == 5
    assert zk.get_properties("/app/config") == {"size": 3, "limits": {"a": 1}}


def test_without_the_watcher_tables_views_recover_by_reading(zk_connection_string, zk_client, caplog):
    zk_client.create("/p")
    for i in range(20):
        zk_client.create(f"/p/n{i}", b'{"v":0}')
    caplog.set_level(logging.DEBUG, logger="zkservices.views")
    with unavailable("watchers"):
        with zkservices.ZooKeeper(zk_connection_string) as zk:
            views = [zk.properties(f"/p/n{i}") for i in range(20)]
            kids = zk.children("/p")
            expire_session(zk)
            zk_client.set("/p/n3", b'{"v":1}')
            zk_client.create("/p/new")
            wait_for(lambda: views[3].get("v") == 1 and "new" in list(kids), what="views after the expiry")
            zk.core.watches.forget(lambda event: None, ["/p/n1"])  # nothing to drop: no error
    assert not any(r.getMessage().startswith("re-armed") for r in caplog.records if r.name == "zkservices.views")


def test_without_kazoos_event_thread_a_session_sees_its_own_writes(zk_connection_string):
    with unavailable("callbacks"):
        with zkservices.ZooKeeper(zk_connection_string) as zk:
            assert not access(zk.client).callbacks
            zk.create("/c", b'{"n": 0}')
            view = zk.properties("/c")
            zk.ensure_path("/svc/providers")
            kids = zk.children("/svc/providers")
            zk.register_server("/svc/providers", ("10.0.0.1", 80))
            zk.set("/c", b'{"n": 1}')
            wait_for(lambda: view.get("n") == 1 and list(kids) == ["10.0.0.1:80"], what="the views to follow")
            started = time.monotonic()
            zk.core.settle(5)
            assert time.monotonic() - started < 5


def test_without_a_resettable_zxid_the_client_keeps_it(zk_connection_string):
    with unavailable("zxid"):
        with zkservices.ZooKeeper(zk_connection_string) as zk:
            zk.create("/z")
            seen = zk.client.last_zxid
            assert seen and not access(zk.client).forget_seen_zxid() and zk.client.last_zxid == seen
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        assert zk.client.last_zxid and access(zk.client).forget_seen_zxid() and zk.client.last_zxid == 0


def test_without_the_connection_socket_drop_connection_says_so(zk_connection_string):
    with unavailable("socket"):
        with zkservices.ZooKeeper(zk_connection_string) as zk:
            with pytest.raises(FaultError, match="keeps no connection socket"):
                drop_connection(zk)
            assert zk.connected


# -- TLS: the host name checked by a handler where kazoo cannot (kazoo before 2.11) --


def test_tls_arguments_follow_the_kazoo(zk_tls_server):
    options = {"use_ssl": True, "ca": zk_tls_server.ca_file, "certfile": None, "keyfile": None,
               "keyfile_password": None, "verify_certs": True, "check_hostname": True}
    with unavailable("check_hostname"):
        arguments = tls_arguments(options)
        assert "check_hostname" not in arguments and isinstance(arguments["handler"], HostCheckingHandler)
        unchecked = tls_arguments({**options, "verify_certs": False, "check_hostname": False})
        assert "check_hostname" not in unchecked and "handler" not in unchecked
    if "check_hostname" in INSTALL:
        assert tls_arguments(options) == options
    assert tls_arguments({}) == {}


def _attempt(connection_string, tls):
    try:
        with zkservices.ZooKeeper(connection_string, tls=tls, timeout=3.0):
            return "connected"
    except FailedConnect:
        return "FailedConnect"


def test_the_host_checking_handler_checks_the_host_name(zk_tls_server, zk_mtls_server):
    tls, mtls = zk_tls_server, zk_mtls_server
    cases = {
        "the name the certificate names": (tls.secure_connection_string, tls.tls, "connected"),
        "mutual TLS": (mtls.secure_connection_string, mtls.tls, "connected"),
        "a host name the certificate does not name": (f"localhost:{tls.secure_port}", tls.tls, "FailedConnect"),
        "another CA": (tls.secure_connection_string, TLS(ca=mtls.ca_file), "FailedConnect"),
        "no client certificate against mutual TLS": (mtls.secure_connection_string, TLS(ca=mtls.ca_file),
                                                     "FailedConnect"),
        "unchecked: any name": (f"localhost:{tls.secure_port}", TLS(ca=tls.ca_file, verify=False), "connected"),
    }
    with unavailable("check_hostname"):
        with ThreadPoolExecutor(len(cases)) as pool:
            futures = {name: pool.submit(_attempt, where, option) for name, (where, option, _) in cases.items()}
        outcomes = {name: future.result() for name, future in futures.items()}
    assert outcomes == {name: expected for name, (_, _, expected) in cases.items()}


def test_expiry_over_tls_with_the_host_checking_handler(zk_mtls_server):
    with unavailable("check_hostname"):
        with zkservices.ZooKeeper(zk_mtls_server.secure_connection_string, tls=zk_mtls_server.tls, timeout=10) as zk:
            assert isinstance(zk.client.handler, HostCheckingHandler)
            old = zk.core.session_id
            new = expire_session(zk)  # the clone checks the host name the same way
            assert new != old and zk.connected
