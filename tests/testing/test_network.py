"""The network fault harness itself: hosts in namespaces, cuts that cut, heals that heal, nothing left behind.

Made for real (root, ``ip``, ``nft``); skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from zkservices.testing import FaultError, HostError, HostPython, Network, network_unavailable

_UNAVAILABLE = network_unavailable()
pytestmark = [
    pytest.mark.netfaults,
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=f"needs a test network: {_UNAVAILABLE}"),
]

_LISTEN = """
import socket, threading
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", 7000))
listener.listen(50)
def accept():
    while True:
        conn, _ = listener.accept()
        conn.sendall(b"hello")
        conn.close()
threading.Thread(target=accept, daemon=True).start()
"""

_CONNECT = """
import socket
def hello(address, timeout=2.0):
    try:
        with socket.create_connection((address, 7000), timeout=timeout) as s:
            return s.recv(5).decode()
    except socket.timeout:
        return "timeout"
"""


def _ip(*argv: str) -> str:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=True).stdout


def _nft_tables(namespace: str) -> str:
    return subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "tables"],
                          capture_output=True, text=True).stdout


_PYTHONS: dict[str, HostPython] = {}


@pytest.fixture(scope="module")
def net():
    with Network() as network:
        server = network.add_host("server").python()
        server.exec(_LISTEN)
        for name in ("client", "other"):
            _PYTHONS[name] = network.add_host(name).python()
            _PYTHONS[name].exec(_CONNECT)
        yield network
    _PYTHONS.clear()


def _hello(net: Network, name: str) -> str:
    return _PYTHONS[name].eval(f"hello({net.hosts['server'].address!r})")


def test_hosts_reach_each_other_on_their_own_addresses(net):
    assert _hello(net, "client") == "hello"
    addresses = {h.address for h in net.hosts.values()} | {net.address}
    assert len(addresses) == 4 and all(a.startswith(str(net.subnet.network_address)[:-1]) for a in addresses)
    # the test process (the bridge's address) reaches every host too
    with socket.create_connection((net.hosts["server"].address, 7000), timeout=5) as s:
        assert s.recv(5) == b"hello"


def test_cut_times_a_connect_out_and_heal_restores_it(net):
    net.cut("client")
    try:
        assert "drop" in net.rules("client")
        assert _hello(net, "client") == "timeout"
        assert _hello(net, "other") == "hello"  # only the cut host is cut
    finally:
        net.heal("client")
    assert "drop" not in net.rules("client")
    assert _hello(net, "client") == "hello"


def test_cut_from_some_hosts_only(net):
    net.cut("client", ["other"])
    try:
        assert _hello(net, "client") == "hello"  # the server is not among the others
    finally:
        net.heal()


def test_loss_drops_a_share_of_packets(net):
    net.loss("client", 30)
    try:
        assert "numgen random mod 100 < 30 drop" in net.rules("client")
    finally:
        net.heal("client")
    net.loss("client", 100)  # every packet: a cut, and certain
    try:
        assert _hello(net, "client") == "timeout"
    finally:
        net.heal("client")
    assert _hello(net, "client") == "hello"
    with pytest.raises(ValueError):
        net.loss("client", 0)


def test_errors_on_a_host_come_back_with_their_type(net):
    python = _PYTHONS["client"]
    with pytest.raises(HostError) as caught:
        python.exec("import kazoo.exceptions; raise kazoo.exceptions.ConnectionLoss('gone')")
    assert caught.value.type == "kazoo.exceptions.ConnectionLoss"
    assert "gone" in caught.value.traceback
    with pytest.raises(HostError, match="not JSON"):
        python.eval("object()")
    assert python.eval("1 + 1") == 2  # the host lives on


def test_close_leaves_nothing_behind_and_a_crashed_run_is_swept():
    # a leftover of a "crashed" run: named after a process that does not exist
    dead = 4194000
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n, pid36 = dead, ""
    while n:
        n, r = divmod(n, 36)
        pid36 = digits[r] + pid36
    leftover = f"zkf_{pid36}_1_old"
    _ip("netns", "add", leftover)
    _ip("link", "add", f"zkf_{pid36}_1b", "type", "bridge")
    network = Network()
    with network:
        host = network.add_host("h")
        network.add_host("h2")
        python = host.python()
        network.cut(host)
        assert "zkservices_fault" in _nft_tables(host.namespace)
        assert host.namespace in _ip("netns", "list")
        assert leftover not in _ip("netns", "list")  # swept at start
        assert f"zkf_{pid36}_1b" not in _ip("-o", "link")
        namespaces = [h.namespace for h in network.hosts.values()]
    assert network.closed and not python.running  # the host's Python ended with it
    listed = _ip("netns", "list")
    links = _ip("-o", "link")
    assert not any(ns in listed for ns in namespaces)
    assert network.id not in listed and network.id not in links
    assert "zkservices_fault" not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    with pytest.raises(FaultError):
        network.start()


def test_close_runs_when_the_test_fails():
    with pytest.raises(RuntimeError):
        with Network() as network:
            network.add_host("h")
            raise RuntimeError("the test failed")
    assert network.id not in _ip("netns", "list") and network.id not in _ip("-o", "link")


def test_a_server_cut_from_the_others_stops_serving_and_the_majority_elects():
    with Network() as net:
        ensemble = net.ensemble(3, startup_timeout=60)
        ensemble.start()
        leader = ensemble.leader()
        net.cut(leader, ensemble.servers)  # a minority partition: the clients' side stays open
        try:
            others = [s for s in ensemble.servers if s is not leader]
            ensemble_modes = _wait_modes(others, leader)
            assert sorted(ensemble_modes[s.name] for s in others) == ["follower", "leader"]
            assert ensemble_modes[leader.name] is None  # no quorum: not serving
        finally:
            net.heal()
        ensemble.wait_serving(timeout=60)
        assert sorted(s.mode for s in ensemble.servers) == ["follower", "follower", "leader"]


def _wait_modes(others, cut, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        modes = {s.name: s.mode for s in [*others, cut]}
        if modes[cut.name] is None and sorted(str(modes[s.name]) for s in others) == ["follower", "leader"]:
            return modes
        if time.monotonic() > deadline:
            raise AssertionError(f"no new majority within {timeout}s: {modes}")
        time.sleep(0.05)
