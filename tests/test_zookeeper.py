"""Connecting, closing and the pass-throughs of zkservices.ZooKeeper, on a real server."""

from __future__ import annotations

import logging
import threading

import pytest
from kazoo.exceptions import BadVersionError, NoAuthError, NoNodeError
from kazoo.protocol.states import KazooState

import zkservices
from zkservices.testing import ZooKeeperServer, drop_connection
from zkservices.testing import free_ports

from _util import kazoo_client, props, stop, wait_for


# -- the connection string ----------------------------------------------


def test_default_connection_string_from_zkservices_connection(monkeypatch, zk_connection_string, zk_client):
    monkeypatch.delenv("ZC_ZK_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("ZKSERVICES_CONNECTION", zk_connection_string)
    with zkservices.ZooKeeper() as zk:
        assert zk.connection_string == zk_connection_string
        zk.create("/from-env", b"1")
    assert zk_client.get("/from-env")[0] == b"1"


def test_default_connection_string_from_zc_zk_variable(monkeypatch, zk_connection_string, zk_client):
    monkeypatch.delenv("ZKSERVICES_CONNECTION", raising=False)
    monkeypatch.setenv("ZC_ZK_CONNECTION_STRING", zk_connection_string)
    with zkservices.ZooKeeper() as zk:
        assert zk.connection_string == zk_connection_string
        zk.create("/from-zc-zk", b"2")
    assert zk_client.get("/from-zc-zk")[0] == b"2"


def test_zkservices_variable_wins_over_zc_zk_variable(monkeypatch, zk_connection_string):
    (dead,) = free_ports(1)
    monkeypatch.setenv("ZKSERVICES_CONNECTION", zk_connection_string)
    monkeypatch.setenv("ZC_ZK_CONNECTION_STRING", f"127.0.0.1:{dead}")
    with zkservices.ZooKeeper(timeout=5) as zk:
        assert zk.connected
        assert zk.connection_string == zk_connection_string


def test_builtin_default_is_local_2181(monkeypatch):
    monkeypatch.delenv("ZKSERVICES_CONNECTION", raising=False)
    monkeypatch.delenv("ZC_ZK_CONNECTION_STRING", raising=False)
    from zkservices._session import default_connection_string

    assert default_connection_string() == "127.0.0.1:2181"


def test_chroot_suffix_confines_the_session(zk, zk_server, zk_chroot):
    zk.create("/inside", b"x")
    root = kazoo_client(zk_server.connection_string)
    try:
        assert root.get(zk_chroot + "/inside")[0] == b"x"
        assert root.exists("/inside") is None
    finally:
        stop(root)
    assert zk.get_children("/") == ["inside"]


# -- failing and waiting ------------------------------------------------


def test_failed_connect_names_the_hosts():
    a, b = free_ports(2)
    hosts = f"127.0.0.1:{a},127.0.0.1:{b}"
    with pytest.raises(zkservices.FailedConnect) as info:
        zkservices.ZooKeeper(hosts, timeout=1.0)
    message = str(info.value)
    assert f"127.0.0.1:{a}" in message and f"127.0.0.1:{b}" in message
    assert isinstance(info.value, zkservices.ZkServicesError)


def test_failed_connect_leaves_no_threads_behind():
    (port,) = free_ports(1)
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(zkservices.FailedConnect):
        zkservices.ZooKeeper(f"127.0.0.1:{port}", timeout=0.5)
    wait_for(lambda: not [t for t in threading.enumerate() if t.ident not in before and t.is_alive()],
             timeout=10, what="kazoo and worker threads of the failed connect to end")


@pytest.mark.zookeeper  # starts a server of its own
def test_wait_true_keeps_trying_until_a_server_answers():
    (port,) = free_ports(1)
    server = ZooKeeperServer(port=port, name="late")
    errors = []
    gave_up_once = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if "still trying" in record.getMessage():
                gave_up_once.set()

    handler = Watch()
    session_log = logging.getLogger("zkservices.session")
    session_log.addHandler(handler)
    old_level = session_log.level
    session_log.setLevel(logging.WARNING)

    def start_later():
        # only once the first connect attempt timed out: wait=True must go on
        try:
            if not gave_up_once.wait(60):
                raise AssertionError("no 'still trying' warning")
            server.start()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        zk = zkservices.ZooKeeper(f"127.0.0.1:{port}", wait=True, timeout=0.5)
        try:
            assert zk.connected
            zk.create("/late", b"ok")
            assert zk.get("/late")[0] == b"ok"
        finally:
            zk.close()
    finally:
        starter.join()
        server.close()
        session_log.removeHandler(handler)
        session_log.setLevel(old_level)
    assert not errors


# -- auth and ACLs ------------------------------------------------------


def test_digest_auth_owner_can_update_registration_others_only_read(zk_connection_string):
    owner = zkservices.ZooKeeper(zk_connection_string, auth=[("digest", "user:pw")])
    stranger = kazoo_client(zk_connection_string)
    other = zkservices.ZooKeeper(zk_connection_string)
    try:
        reg = owner.register_server("/svc/providers", ("10.0.0.1", 8080), weight=1)
        (node,) = reg.paths
        # the owner is never locked out of its own node
        owner.properties(node).update(weight=7)
        assert props(stranger, node)["weight"] == 7
        # everybody can read ...
        assert other.get_properties(node)["weight"] == 7
        # ... but nobody else can write
        with pytest.raises(NoAuthError):
            stranger.set(node, b"{}")
        with pytest.raises(NoAuthError):
            other.properties(node).update(weight=0)
        assert props(stranger, node)["weight"] == 7
        # the ACL is what the contract describes
        acl, _ = stranger.get_acls(node)
        schemes = {(a.id.scheme, a.perms) for a in acl}
        assert ("world", 1) in schemes  # READ
        assert any(s == "digest" and p == 31 for s, p in schemes)  # ALL, for user
    finally:
        other.close()
        stop(stranger)
        owner.close()


def test_explicit_acl_is_used(zk, zk_client):
    from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

    reg = zk.register_server("/ro", "10.0.0.2:1", acl=READ_ACL_UNSAFE)
    acl, _ = zk_client.get_acls(reg.paths[0])
    assert list(acl) == list(READ_ACL_UNSAFE)
    reg2 = zk.register_server("/open", "10.0.0.2:2", acl=OPEN_ACL_UNSAFE)
    zk_client.set(reg2.paths[0], b"{}")  # anybody may write an open node


# -- wrapping a client ----------------------------------------------------


def test_wrapping_a_started_kazoo_client(zk_connection_string):
    client = kazoo_client(zk_connection_string)
    watcher = kazoo_client(zk_connection_string)
    try:
        zk = zkservices.ZooKeeper(client=client)
        assert zk.client is client
        assert zk.connected
        reg = zk.register_server("/wrapped", "10.1.1.1:80")
        children = zk.children("/wrapped")
        assert list(children) == ["10.1.1.1:80"]
        zk.close()
        # the client is left to its owner, still usable; our registration is gone
        assert client.connected
        assert client.get_children("/wrapped") == []
        assert watcher.exists(reg.paths[0]) is None
        client.create("/still-mine", b"1")
        assert watcher.get("/still-mine")[0] == b"1"
    finally:
        stop(watcher)
        stop(client)


def test_wrapping_a_client_that_was_not_started_is_refused_clearly(zk_connection_string):
    from kazoo.client import KazooClient

    client = KazooClient(hosts=zk_connection_string)
    try:
        with pytest.raises(ValueError, match="start"):
            zkservices.ZooKeeper(client=client)
    finally:
        client.close()


# -- closing, repr, context manager --------------------------------------


def test_close_is_idempotent_and_repr_is_useful(zk_connection_string):
    zk = zkservices.ZooKeeper(zk_connection_string)
    session = zk.client.client_id[0]
    text = repr(zk)
    assert zk_connection_string in text
    assert f"0x{session:x}" in text
    assert "CONNECTED" in text
    assert zk.state == KazooState.CONNECTED and zk.connected
    zk.close()
    zk.close()
    assert zk.closed
    assert "closed" in repr(zk)
    assert not zk.connected


def test_context_manager_closes_and_removes_registrations(zk_connection_string, zk_client):
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        reg = zk.register_server("/cm", "10.0.0.3:3")
        assert zk_client.exists(reg.paths[0]) is not None
    assert zk.closed
    assert zk_client.exists(reg.paths[0]) is None


# -- pass-throughs and aliases -------------------------------------------


def test_pass_throughs(zk, zk_client):
    assert zk.create("/p", b"one") == "/p"
    assert zk.create("/p/deep/er", b"x", makepath=True) == "/p/deep/er"
    seq = zk.create("/p/seq-", b"", sequence=True)
    assert seq.startswith("/p/seq-")
    data, stat = zk.get("/p")
    assert data == b"one" and stat.version == 0
    zk.set("/p", b"two")
    assert zk_client.get("/p")[0] == b"two"
    with pytest.raises(BadVersionError):
        zk.set("/p", b"three", version=0)  # version check passed through
    assert zk.exists("/p").version == 1
    assert zk.exists("/nope") is None
    assert sorted(zk.get_children("/p")) == sorted(["deep", seq.rsplit("/", 1)[1]])
    zk.delete("/p/deep", recursive=True)
    zk.delete(seq)
    zk.delete("/p")
    assert zk_client.exists("/p") is None
    with pytest.raises(NoNodeError):
        zk.get("/p")


def test_pass_through_return_values_are_kazoos_as_annotated(zk, zk_client):
    """The values the precise return types of get_children, delete, ensure_path and
    walk describe (they are kazoo's, passed through)."""
    assert zk.ensure_path("/r/a/b") == "/r/a/b" and zk.ensure_path("/r/a/b") is True
    zk.create("/r/a/c")
    names = zk.get_children("/r/a")
    assert isinstance(names, list) and sorted(names) == ["b", "c"]
    names, stat = zk.get_children("/r/a", include_data=True)
    assert sorted(names) == ["b", "c"] and stat.numChildren == 2
    assert list(zk.walk("/r")) == ["/r", "/r/a", "/r/a/b", "/r/a/c"]
    assert list(zk.walk("/r", children=True))[:2] == [("/r", ["a"]), ("/r/a", ["b", "c"])]
    assert zk.delete("/r/a/c") is True
    assert zk.delete("/r", recursive=True) is None  # kazoo's recursive delete returns nothing
    assert zk.delete("/r", recursive=True) is True  # ... but True when there was nothing to delete


def test_no_public_zookeeper_method_returns_any():
    import typing

    import zkservices.aio

    for cls in (zkservices.ZooKeeper, zkservices.aio.AsyncZooKeeper):
        for name, fn in vars(cls).items():
            if name.startswith("_") or not callable(fn):
                continue
            returns = typing.get_type_hints(fn).get("return")
            assert returns is not typing.Any and typing.get_args(returns) != (typing.Any,), f"{cls.__name__}.{name}"


def test_pass_through_watch_is_called(zk, zk_client):
    zk.create("/w", b"")
    fired = threading.Event()
    zk.get("/w", watch=lambda event: fired.set())
    zk_client.set("/w", b"changed")
    assert fired.wait(30)


def test_writes_from_a_kazoo_watch_callback_do_not_stall(zk, zk_client):
    """zk's writes wait until its views caught up, through kazoo's callback
    queue; from a kazoo watch callback itself (a plain watch, a kazoo
    DataWatch on zk.client...) that wait must be skipped, not run into its
    30 s timeout."""
    from kazoo.recipe.watchers import DataWatch

    zk_client.create("/x")
    view = zk.children("/x")  # a view makes writes settle
    done = threading.Event()

    def on_change(data, stat):
        if data == b"go":
            zk.create("/x/made-in-callback")
            zk.properties("/x/made-in-callback").update(a=1)
            done.set()

    DataWatch(zk.client, "/x", on_change)
    zk_client.set("/x", b"go")
    wait_for(done.is_set, timeout=20, what="the callback's writes (they stall 30 s when broken)")
    wait_for(lambda: list(view) == ["made-in-callback"], what="view")


def test_aliases_kept_from_zc_zk():
    assert zkservices.ZK is zkservices.ZooKeeper
    assert zkservices.ZooKeeper.register is zkservices.ZooKeeper.register_server


def test_register_alias_works(zk, zk_client):
    zk.register("/alias", "10.0.0.4:4")
    assert zk_client.get_children("/alias") == ["10.0.0.4:4"]


# -- logging -------------------------------------------------------------


def test_package_logger_has_a_null_handler():
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("zkservices").handlers)


def test_kazoo_logger_is_left_alone(zk_connection_string, caplog):
    """zkservices configures no other library's logging: kazoo's records keep their
    names and propagate as usual, kazoo's logger keeps its level and handlers."""
    kazoo_logger = logging.getLogger("kazoo")
    before = (kazoo_logger.level, list(kazoo_logger.handlers), kazoo_logger.propagate)
    caplog.set_level(logging.INFO, logger="kazoo")
    with zkservices.ZooKeeper(zk_connection_string) as zk:
        drop_connection(zk)  # kazoo logs the dropped connection
        wait_for(lambda: zk.connected, what="reconnect")
    kazoo_records = [r for r in caplog.records if r.name.startswith("kazoo")]
    assert kazoo_records, "kazoo's records did not reach the root logger under their own names"
    assert not any(r.name.startswith("zkservices.kazoo") for r in caplog.records)
    caplog.set_level(logging.NOTSET, logger="kazoo")  # undo caplog's change before comparing
    assert kazoo_logger.propagate is True
    assert list(kazoo_logger.handlers) == before[1]


def test_session_state_changes_are_logged(zk, caplog):
    caplog.set_level(logging.DEBUG, logger="zkservices")
    drop_connection(zk)
    wait_for(lambda: any(r.name == "zkservices.session" and "suspended" in r.getMessage()
                         for r in caplog.records), what="suspended log record")
    wait_for(lambda: zk.connected and any(
        r.name == "zkservices.session" and "connected" in r.getMessage() and "suspended" not in r.getMessage()
        for r in caplog.records), what="reconnected log record")


def test_resolve_normalises_dot_segments(zk):
    zk.create("/top/a/b/c/d", makepath=True)
    assert zk.resolve("/top/a/b/c/d/./../..") == "/top/a/b"
    assert zk.resolve("/top/./a") == "/top/a"
