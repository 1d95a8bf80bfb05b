"""Network faults made for real: a 3-node ensemble and client hosts in network namespaces.

A client host is cut from every server past its session timeout (its session
expires, another host sees its registrations go, and they come back once after
the heal), cut for less than the timeout (the same session, nothing re-created),
or loses 5 % or 20 % of its packets while it writes (nothing lost, no transient
error leaked; 10 s each here, ``ZKSERVICES_LOSS_SECONDS`` sets it, and ``make soak``
runs a minute each).  Each client is a Python process on its own host
(:class:`zkservices.testing.HostPython`); any exception a call raises there
fails the test.  Sessions time out after 4 s.  Root only (CI runs as root);
skipped with the reason elsewhere.  Select them with ``-m netfaults``.
"""

from __future__ import annotations

import os
import time

import pytest

from zkservices.testing import Network, network_unavailable

_UNAVAILABLE = network_unavailable()
pytestmark = [
    pytest.mark.netfaults,
    pytest.mark.zookeeper,
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"needs a test network: {_UNAVAILABLE}"),
]

SESSION_TIMEOUT = 4.0

# Run on every client host first: a session, a record of its connection states, and a waiter.
_PRELUDE = """
import threading, time
from zkservices import ZooKeeper
def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
zk = ZooKeeper({hosts!r}, session_timeout={timeout}, wait=True)
states = []
zk.client.add_listener(lambda state: states.append(str(state)))
def session():
    return zk.client.client_id[0]
"""


@pytest.fixture(scope="module")
def net():
    with Network() as network:
        ensemble = network.ensemble(3, startup_timeout=60)
        ensemble.start()
        network.connection_string = ensemble.connection_string  # type: ignore[attr-defined]
        yield network


def _client(net, name):
    python = net.add_host(name).python()
    python.exec(_PRELUDE.format(hosts=net.connection_string, timeout=SESSION_TIMEOUT))
    return python


@pytest.fixture(scope="module")
def watcher(net):
    return _client(net, "watcher")


# A feed on the cut-off host (default shrink guard, a snapshot), every render recorded.
_FEED = """
from zkservices import Feed
renders = []
feed = Feed(zk, '/long', output={output!r}, snapshot={snapshot!r}, on_render=renders.append,
            template_text='{{% for s in services %}}{{% for p in s.providers %}}{{{{ p.name }}}}\\n{{% endfor %}}{{% endfor %}}')
feed.start()
def rendered():
    try:
        with open({output!r}) as f:
            return sorted(f.read().split())
    except FileNotFoundError:
        return None
"""


def test_cut_past_the_session_timeout_loses_the_registrations_and_brings_each_back_once(net, watcher, tmp_path):
    client = _client(net, "cutlong")
    client.exec("""
regs = [zk.register_server('/long/providers', f'10.0.0.{i}:80', weight=i) for i in (1, 2, 3)]
zk.update_properties('/long', color='blue')
view = zk.providers('/long/providers')
props = zk.properties('/long')
old = session()
""")
    client.exec(_FEED.format(output=str(tmp_path / "long.txt"), snapshot=str(tmp_path / "long.snapshot")))
    watcher.exec("long_view = zk.providers('/long/providers', missing_ok=True)")
    assert watcher.eval("wait_for(lambda: len(long_view) == 3)")
    first = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
    assert client.eval(f"wait_for(lambda: rendered() == {first!r})"), client.eval("renders")
    old = client.eval("old")

    net.cut("cutlong")
    cut_at = time.monotonic()
    try:
        # calls made while cut off wait for the session (never raise a transient error)
        client.exec("""
during = []
def work():
    try:
        zk.register_server('/long/providers', '10.0.0.9:80', weight=9)
        zk.update_properties('/long', color='green')
        during.append('ok')
    except BaseException as exc:
        during.append(repr(exc))
threading.Thread(target=work, daemon=True).start()
""")
        # the other host sees the registrations go: the server expired the session
        assert watcher.eval("wait_for(lambda: len(long_view) == 0, 60)"), watcher.eval("sorted(long_view)")
        gone_after = time.monotonic() - cut_at
        # ... while the cut-off host's feed keeps the last set it had
        assert client.eval("rendered()") == first
    finally:
        net.heal("cutlong")
    healed_at = time.monotonic()

    assert client.eval("wait_for(lambda: zk.connected and session() != old, 60)")
    assert client.eval("zk.wait_recovered(60)")
    assert client.eval("wait_for(lambda: during, 60) and during") == ["ok"]
    expected = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.9:80"]
    assert watcher.eval(f"wait_for(lambda: sorted(long_view) == {expected!r}, 60)"), watcher.eval("sorted(long_view)")
    back_after = time.monotonic() - healed_at
    new = client.eval("session()")
    assert new != old
    # the server's truth: each registration once, all under the one new session
    assert sorted(watcher.eval("zk.get_children('/long/providers')")) == expected
    owners = watcher.eval(f"[zk.exists('/long/providers/' + name).ephemeralOwner for name in {expected!r}]")
    assert owners == [new] * 4
    # the cut-off host's views equal the server
    assert client.eval(f"wait_for(lambda: sorted(view) == {expected!r})"), client.eval("sorted(view)")
    assert client.eval("wait_for(lambda: dict(props) == zk.get_properties('/long'))")
    assert client.eval("dict(props)")["color"] == "green"
    assert "LOST" in client.eval("states")
    # the feed follows to the new set, and no render it ever made was empty or smaller than 3
    assert client.eval(f"wait_for(lambda: rendered() == {expected!r})"), client.eval("renders")
    client.exec("feed.close()")
    renders = [sorted(text.split()) for text in client.eval("renders")]
    assert renders[0] == first and renders[-1] == expected, renders
    assert all(set(first) <= set(names) for names in renders), renders
    print(f"\ncut past the session timeout: registrations gone on the other host {gone_after:.1f}s after the cut, "
          f"back {back_after:.2f}s after the heal; states {client.eval('states')}; "
          f"the cut-off host's feed rendered {[len(names) for names in renders]} providers")


def test_cut_shorter_than_the_session_timeout_keeps_the_session_and_recreates_nothing(net, watcher):
    client = _client(net, "cutshort")
    client.exec("""
regs = [zk.register_server('/short/providers', f'10.0.1.{i}:80') for i in (1, 2)]
view = zk.providers('/short/providers')
old = session()
""")
    names = ["10.0.1.1:80", "10.0.1.2:80"]
    # the watcher's server may be a commit behind the client's: it syncs before it reads
    watcher.exec(f"zk.client.sync('/short/providers'); short_before = [(s.czxid, s.ephemeralOwner) for s in "
                 f"(zk.exists('/short/providers/' + n) for n in {names!r})]")
    old = client.eval("old")

    net.cut("cutshort")
    try:
        # the connection breaks too (as a partition that resets it would), so the client
        # reconnects through the partition, with its session, once it heals
        client.exec("from zkservices.testing import drop_connection; drop_connection(zk)")
        time.sleep(1.0)  # the fault's length: well under the 4 s session timeout
    finally:
        net.heal("cutshort")
    healed_at = time.monotonic()

    assert client.eval("wait_for(lambda: zk.connected, 30)")
    back_after = time.monotonic() - healed_at
    client.exec("zk.update_properties('/short', after='cut')")  # the session works on
    assert client.eval("session()") == old
    watcher.exec("zk.client.sync('/short/providers')")
    after = watcher.eval(f"[(s.czxid, s.ephemeralOwner) for s in (zk.exists('/short/providers/' + n) for n in {names!r})]")
    assert after == watcher.eval("short_before")  # the same nodes, never re-created
    assert [owner for _, owner in after] == [old, old]
    states = client.eval("states")
    assert "SUSPENDED" in states and "LOST" not in states, states
    assert client.eval("sorted(view)") == names
    print(f"\ncut shorter than the session timeout: the same session, reconnected {back_after:.2f}s after "
          f"the heal; states {states}")


_WORKLOAD = """
import random
def workload(seconds):
    rng = random.Random(22)
    registered = {}
    version = None
    ops = 0
    retries = [0]
    policy = zk.core.retry        # count the waits of the one retry policy (instrumentation only)
    pause = policy._pause
    def counted(*args, **kwargs):  # whatever the policy's pause takes
        retries[0] += 1
        return pause(*args, **kwargs)
    policy._pause = counted
    view = zk.providers('/lossy/providers', missing_ok=True)
    started = time.monotonic()
    durations = []
    try:
        i = 0
        while time.monotonic() - started < seconds:
            i += 1
            began = time.monotonic()
            roll = rng.random()
            if roll < 0.35 or not registered:
                address = f'10.2.{i // 250}.{i % 250}:80'
                zk.register_server('/lossy/providers', address, n=i)
                registered[address] = i
            elif roll < 0.55:
                address = rng.choice(sorted(registered))
                zk.unregister('/lossy/providers', address)
                del registered[address]
            elif roll < 0.8:
                zk.update_properties('/lossy', version=i)
                version = i
            else:
                zk.get_children('/lossy/providers')
                zk.get_properties('/lossy')
            ops += 1
            durations.append(time.monotonic() - began)
    finally:
        policy._pause = pause
    return {"ops": ops, "retries": retries[0], "registered": sorted(registered), "version": version,
            "seconds": time.monotonic() - started, "median": sorted(durations)[len(durations) // 2],
            "slowest": max(durations)}
"""


# Seconds of workload per loss rate: short in the test suite; ``make soak`` runs a minute each.
LOSS_SECONDS = float(os.environ.get("ZKSERVICES_LOSS_SECONDS", "10"))


@pytest.mark.parametrize("percent", [5, 20])
def test_packet_loss_while_writing_loses_nothing_and_leaks_no_error(net, watcher, percent):
    name = f"lossy{percent}"
    client = _client(net, name)
    client.exec(_WORKLOAD.replace("/lossy", f"/lossy{percent}"))
    client.exec(f"zk.ensure_path('/lossy{percent}/providers'); zk.update_properties('/lossy{percent}', version=0)")
    net.loss(name, percent, [s for s in net.hosts.values() if s.name.startswith("zk")])
    try:
        figures = client.eval(f"workload({LOSS_SECONDS})", timeout=LOSS_SECONDS * 3 + 120)  # any exception fails the test
    finally:
        net.heal(name)
    expected = figures["registered"]
    assert figures["ops"] > 0
    assert client.eval("zk.wait_recovered(60)")
    path = f"/lossy{percent}"
    assert watcher.eval(f"wait_for(lambda: sorted(zk.get_children('{path}/providers')) == {expected!r}, 60)"), \
        (watcher.eval(f"sorted(zk.get_children('{path}/providers'))"), expected)
    watcher.exec(f"zk.client.sync('{path}')")  # the last properties write may come after the last registration
    assert watcher.eval(f"zk.get_properties('{path}')")["version"] == figures["version"]
    assert client.eval(f"wait_for(lambda: sorted(zk.providers('{path}/providers')) == {expected!r}, 60)")
    # nothing leaked: the client's session holds exactly the registrations it made
    owned = watcher.eval(f"sorted(n for n in zk.get_children('{path}/providers') "
                         f"if zk.exists('{path}/providers/' + n).ephemeralOwner == {client.eval('session()')})")
    assert owned == expected
    states = client.eval("states")
    print(f"\n{percent}% packet loss for {figures['seconds']:.0f}s: {figures['ops']} operations, "
          f"{figures['retries']} retries, median {figures['median'] * 1000:.0f} ms and slowest "
          f"{figures['slowest']:.2f}s per operation, {len(expected)} registrations at the end, "
          f"{states.count('SUSPENDED')} suspensions, {states.count('LOST')} session losses")
