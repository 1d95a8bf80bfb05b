"""The one retry policy: no call leaks a transient error through faults made for real.

The policy itself is tested without a server; the promise it serves -- every call
that talks to ZooKeeper waits through suspension and through the recovery after a
session expiry -- is tested with expiries and server restarts while a thread keeps
calling everything that talks to ZooKeeper.
"""

from __future__ import annotations

import collections
import logging
import threading
import time

import pytest
from kazoo.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError

import zkservices
from zkservices._session.retry import RetryPolicy
from zkservices.testing import expire_session

from _util import wait_for


# -- the policy, without a server ------------------------------------------------


def _policy(ready=True, closed=lambda: False):
    event = threading.Event()
    if ready:
        event.set()
    return RetryPolicy(ready=event, closed=closed, delay=0.001, max_delay=0.01), event


def test_transient_errors_are_retried_until_the_call_works():
    policy, _ = _policy()
    outcomes = [ConnectionLoss(), SessionExpiredError(), "done"]

    def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy(call) == "done"
    assert outcomes == []


def test_a_permanent_error_is_raised_at_once():
    policy, _ = _policy()
    calls = []

    def call():
        calls.append(1)
        raise NoNodeError("/x")

    with pytest.raises(NoNodeError):
        policy(call)
    assert calls == [1]


def test_the_callers_deadline_ends_the_wait_with_the_last_transient_error():
    policy, ready = _policy(ready=False)
    started = time.monotonic()
    with pytest.raises(ConnectionLoss):
        policy.within(0.3, lambda: (_ for _ in ()).throw(ConnectionLoss()))
    assert 0.25 <= time.monotonic() - started < 5


def test_closing_ends_the_wait_with_session_closed():
    closed = threading.Event()
    policy, ready = _policy(ready=False, closed=closed.is_set)
    errors = []

    def waiter():
        try:
            policy(lambda: (_ for _ in ()).throw(SessionExpiredError()))
        except Exception as exc:
            errors.append(exc)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.2)
    assert t.is_alive() and not errors  # waiting for the session to be ready
    closed.set()
    ready.set()  # what closing the core does
    t.join(5)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], zkservices.SessionClosed)
    assert isinstance(errors[0], zkservices.ZkServicesError)


# -- the promise, with real faults -------------------------------------------------


class _Churn:
    """A thread calling everything that talks to ZooKeeper, counting calls and errors."""

    def __init__(self, zk: zkservices.ZooKeeper) -> None:
        self.zk = zk
        self.done = collections.Counter()
        self.errors: list[tuple[str, BaseException]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="churn", daemon=True)

    def __enter__(self) -> "_Churn":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "the churn thread hangs"

    def _call(self, what: str, fn, *args, **kw):
        try:
            result = fn(*args, **kw)
        except Exception as exc:  # every error counts: none is expected
            self.errors.append((what, exc))
            return None
        self.done[what] += 1
        return result

    def _run(self) -> None:
        zk = self.zk
        i = 0
        while not self.stop.is_set():
            i += 1
            reg = self._call("register_server", zk.register_server, "/svc/providers", f"10.0.{i % 250}.1:80", n=i)
            self._call("update", lambda: zk.properties("/svc", watch=False).update(n=i))
            view = self._call("children", zk.children, "/svc/providers")
            if view is not None:
                view.close()
            self._call("resolve", zk.resolve, "/alias/providers")
            self._call("get_properties", zk.get_properties, "/svc")
            self._call("exists", zk.exists, "/svc")
            self._call("get", zk.get, "/svc")
            self._call("set", zk.set, "/svc/raw", str(i).encode())
            if reg is not None:
                self._call("unregister", reg.unregister)


def _prepare(zk):
    zk.create("/svc/providers", makepath=True)
    zk.create("/svc/raw")
    zk.create("/alias", b'{"providers ->": "/svc/providers"}')


def _assert_clean(churn: _Churn, faults: int) -> None:
    assert not churn.errors, f"{len(churn.errors)} call(s) raised: " + ", ".join(
        f"{what}: {type(exc).__name__}" for what, exc in churn.errors[:20])
    for what in ("register_server", "update", "children", "resolve", "get_properties", "unregister", "set"):
        assert churn.done[what] >= faults, f"only {churn.done[what]} {what} calls ran during {faults} faults"


def test_no_call_raises_through_20_session_expiries(zk, zk_client):
    _prepare(zk)
    with _Churn(zk) as churn:
        wait_for(lambda: churn.done["unregister"] >= 3, what="churn under way")
        for n in range(20):
            before = churn.done["register_server"]
            expire_session(zk)
            wait_for(lambda: churn.done["register_server"] > before, what=f"calls after expiry {n + 1}")
    _assert_clean(churn, 20)
    # nothing left behind: every registration of the churn was unregistered
    wait_for(lambda: zk_client.get_children("/svc/providers") == [], what="no registration left")


def test_no_call_raises_through_8_server_restarts(zk_server, zk_connection_string, zk_client):
    with zkservices.ZooKeeper(zk_connection_string, session_timeout=30.0) as zk:
        _prepare(zk)
        session = zk.client.client_id[0]
        with _Churn(zk) as churn:
            wait_for(lambda: churn.done["unregister"] >= 3, what="churn under way")
            for n in range(8):
                zk_server.restart()
                before = churn.done["register_server"]
                # generous: a restarted server now and then stays silent until the
                # session times out; the calls must then wait through the expiry too
                wait_for(lambda: churn.done["register_server"] > before, timeout=90,
                         what=f"calls after restart {n + 1}")
        _assert_clean(churn, 8)
        if zk.client.client_id[0] != session:
            logging.getLogger(__name__).warning("the session expired during the restarts (calls waited through it)")
