"""Registration follows health: HealthCheckedRegistration against a real ZooKeeper.

Everything is real: a ZooKeeper server, backend processes (a TCP listener, ``python
-m http.server``) that are killed and restarted.  No wall-clock bounds are
asserted (only generous timeouts); instead every registration and removal is
recorded (``on_change``, the ``zkservices.selfreg`` log) and compared exactly.
"""

from __future__ import annotations

import json
import logging
import os
import threading

import pytest

import zkservices
from zkservices._discovery import CommandCheck
from zkservices.testing import expire_session

from _util import props, wait_for


WAIT = 30.0


FAST = dict(interval=0.1, rise=1, fall=2)


class Recorder:
    """``on_change`` that records ``(registered, reason, paths)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str, tuple[str, ...]]] = []
        self.lock = threading.Lock()

    def __call__(self, registered: bool, reason: str, paths: tuple[str, ...]) -> None:
        with self.lock:
            self.calls.append((registered, reason, paths))

    @property
    def flags(self) -> list[bool]:
        with self.lock:
            return [c[0] for c in self.calls]


def selfreg_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "zkservices.selfreg" and r.levelno == logging.INFO]


def owner(client, path):
    stat = client.exists(path)
    return stat.ephemeralOwner if stat else None


# -- the library class -----------------------------------------------------------


def test_library_registration_follows_health(zk, zk_client, backends, caplog):
    caplog.set_level(logging.INFO, logger="zkservices.selfreg")
    backend = backends("tcp").start()
    node = f"/svc/providers/{backend.address}"
    ok = f"connect to {backend.address} ok"
    refused = f"connect to {backend.address} refused"
    rec = Recorder()
    hreg = zkservices.HealthCheckedRegistration(zk, "/svc/providers", backend.address, on_change=rec,
                                                weight=3, **FAST)
    assert hreg.healthy is None and not hreg.registered and hreg.paths == ()
    assert "not registered created" in repr(hreg)
    hreg.start()
    try:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        assert props(zk_client, node) == {"weight": 3, "pid": os.getpid(), "host": "127.0.0.1", "port": backend.port}
        wait_for(lambda: hreg.registered, WAIT, "registered state")
        assert hreg.healthy is True and hreg.paths == (node,)
        assert repr(hreg).startswith(f"<HealthCheckedRegistration /svc/providers {backend.address} healthy registered started")

        backend.kill()
        wait_for(lambda: zk_client.exists(node) is None, WAIT, "node removed after the backend died")
        wait_for(lambda: not hreg.registered, WAIT, "unregistered state")
        assert hreg.healthy is False

        backend.start()
        wait_for(lambda: zk_client.exists(node), WAIT, "node back after the backend restarted")
        wait_for(lambda: hreg.registered, WAIT, "registered state")
    finally:
        hreg.stop()
    # stop() removes the node before it returns: no waiting here
    assert zk_client.exists(node) is None
    assert not hreg.registered
    assert rec.calls == [
        (True, f"healthy: {ok}", (node,)),
        (False, f"unhealthy: {refused}", (node,)),
        (True, f"healthy: {ok}", (node,)),
        (False, "stopped", (node,)),
    ]
    assert selfreg_messages(caplog) == [
        f"registered {node} (healthy: {ok})",
        f"unregistered {node} (unhealthy: {refused})",
        f"registered {node} (healthy: {ok})",
        f"unregistered {node} (stopped)",
    ]
    with pytest.raises(RuntimeError):
        hreg.start()  # no restart
    hreg.stop()  # idempotent


def test_library_dead_at_start_is_never_registered(zk, zk_client, backends):
    backend = backends("tcp")  # not started yet
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: hreg.healthy is False, WAIT, "first check decided")
        assert not hreg.registered
        assert zk_client.exists(node) is None
        assert rec.calls == []
        backend.start()
        wait_for(lambda: zk_client.exists(node), WAIT, "registered once the backend is up")
    assert zk_client.exists(node) is None
    assert rec.flags == [True, False]


def test_library_check_and_bad_arguments(zk, zk_client, tmp_path):
    flag = tmp_path / "healthy"
    flag.touch()
    check = CommandCheck(["test", "-e", str(flag)])
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/cmd", "10.0.0.1:80", check=check, on_change=rec, **FAST):
        wait_for(lambda: zk_client.exists("/cmd/10.0.0.1:80"), WAIT, "registered")
        flag.unlink()
        wait_for(lambda: zk_client.exists("/cmd/10.0.0.1:80") is None, WAIT, "removed")
        wait_for(lambda: len(rec.calls) == 2, WAIT, "removal recorded")
    assert rec.calls == [
        (True, "healthy: exit 0", ("/cmd/10.0.0.1:80",)),
        (False, "unhealthy: exit 1", ("/cmd/10.0.0.1:80",)),
    ]
    for bad in [dict(path="nope"), dict(address="10.0.0.1"), dict(interval=0), dict(fall=0),
                dict(weight=float("nan")), dict(check=object())]:
        kw = dict(path="/x", address="10.0.0.1:80", **FAST)
        kw.update(bad)
        with pytest.raises((ValueError, TypeError)):
            zkservices.HealthCheckedRegistration(zk, kw.pop("path"), kw.pop("address"), **kw)


def test_session_expiry_while_unhealthy_does_not_restore(zk, zk_client, backends):
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        backend.kill()
        wait_for(lambda: not hreg.registered, WAIT, "unregistered")
        assert zk_client.exists(node) is None

        new = expire_session(zk)  # returns once zkservices has restored what it restores

        assert zk_client.exists(node) is None, "an unhealthy server came back after session loss"
        assert not hreg.registered and hreg.healthy is False
        backend.start()
        wait_for(lambda: owner(zk_client, node) == new, WAIT, "registered again, in the new session")
    assert zk_client.exists(node) is None
    assert rec.flags == [True, False, True, False]


def test_session_expiry_while_healthy_restores(zk, zk_client, backends):
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, weight=5, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        old = owner(zk_client, node)

        new = expire_session(zk)

        assert new != old
        assert owner(zk_client, node) == new, "a healthy server was not restored after session loss"
        assert props(zk_client, node)["weight"] == 5
        assert hreg.registered
        # and it still follows health in the new session
        backend.kill()
        wait_for(lambda: zk_client.exists(node) is None, WAIT, "removed after the backend died")
    # the restore is ZooKeeper's, not a second registration
    assert rec.flags == [True, False]


def test_checks_go_on_while_zookeeper_hangs(zk, zk_client, zk_server, backends):
    """ZooKeeper calls never run on the monitor's thread: a hung ZooKeeper does not stall checks."""
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    with zkservices.HealthCheckedRegistration(zk, "/svc", backend.address, on_change=rec, **FAST) as hreg:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        zk_server.pause()
        try:
            backend.kill()
            wait_for(lambda: hreg.healthy is False, WAIT, "unhealthy while ZooKeeper hangs")
            backend.start()
            # with the removal stuck on the hung server, checks must go on
            wait_for(lambda: hreg.healthy is True, WAIT, "healthy again while ZooKeeper hangs")
        finally:
            zk_server.resume()
        wait_for(lambda: rec.flags == [True, False, True], WAIT, "removal and registration applied")
        wait_for(lambda: owner(zk_client, node) == zk.client.client_id[0], WAIT, "registered at the end")
    assert zk_client.exists(node) is None


def test_session_closed_under_it(zk_connection_string, zk_client, backends, caplog):
    """Closing the session first: the node goes with it; later changes end the thread quietly."""
    caplog.set_level(logging.INFO, logger="zkservices.selfreg")
    backend = backends("tcp").start()
    node = f"/svc/{backend.address}"
    rec = Recorder()
    own = zkservices.ZooKeeper(zk_connection_string)
    hreg = zkservices.HealthCheckedRegistration(own, "/svc", backend.address, on_change=rec, **FAST).start()
    try:
        wait_for(lambda: zk_client.exists(node), WAIT, "registered")
        own.close()  # its ephemeral node goes with it
        assert zk_client.exists(node) is None
        backend.kill()
        wait_for(lambda: rec.flags == [True, False], WAIT, "removal (a no-op) recorded")
        backend.start()
        wait_for(lambda: any("no longer registering" in m for m in
                             [r.getMessage() for r in caplog.records if r.name == "zkservices.selfreg"]),
                 WAIT, "the closed session noticed")
        assert zk_client.exists(node) is None
    finally:
        hreg.stop(WAIT)
    assert not hreg.registered and rec.flags == [True, False]
    assert "stopped" in repr(hreg)


def test_close_unregisters_and_ends_every_thread(zk, zk_client):
    def threads() -> list[str]:
        return [t.name for t in threading.enumerate()
                if t.name.startswith(("zkservices-selfreg /close", "zkservices-health /close")) and t.is_alive()]

    hreg = zkservices.HealthCheckedRegistration(zk, "/close", "10.0.0.1:80", check=CommandCheck(["true"]), **FAST)
    assert threads() == [] and not hreg.closed  # the constructor starts nothing
    with hreg:
        wait_for(lambda: zk_client.exists("/close/10.0.0.1:80"), WAIT, "registered")
        assert len(threads()) == 2
    assert hreg.closed and zk_client.exists("/close/10.0.0.1:80") is None
    wait_for(lambda: threads() == [], WAIT, "both threads to end")
    hreg.close()  # idempotent
    with pytest.raises(RuntimeError):
        hreg.start()


def test_provider_format_and_its_deprecated_spelling(zk, zk_client):
    check = CommandCheck(["true"])
    with zkservices.HealthCheckedRegistration(zk, "/fmt", "10.0.0.1:80", check=check, provider_format="serverset",
                                              **FAST) as hreg:
        wait_for(lambda: hreg.registered, WAIT, "registered")
        assert hreg.provider_format == "serverset" and hreg.paths[0].startswith("/fmt/member_")
    with pytest.warns(DeprecationWarning, match="format= is deprecated; use provider_format=") as caught:
        old = zkservices.HealthCheckedRegistration(zk, "/fmt", "10.0.0.2:80", check=check, format="curator", **FAST)
    assert caught[0].filename == __file__
    assert old.provider_format == "curator"
    with pytest.warns(DeprecationWarning, match="HealthCheckedRegistration.format is deprecated"):
        assert old.format == "curator"
    with old:
        wait_for(lambda: old.registered, WAIT, "registered")
        assert json.loads(zk_client.get(old.paths[0])[0])["address"] == "10.0.0.2"  # a Curator instance
    with pytest.raises(TypeError, match="provider_format= only"):
        zkservices.HealthCheckedRegistration(zk, "/fmt", "10.0.0.3:80", provider_format="curator", format="curator")
