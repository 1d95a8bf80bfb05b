"""Hosts in network namespaces on one bridge, and network faults made by nftables rules.

A :class:`Network` is a private IPv4 /24 (``10.X.Y.0/24``, picked not to
collide with the machine's routes) on a Linux bridge; each :class:`Host` is a
network namespace joined to it by a veth pair, with its own address.  The test
process stays in the machine's own namespace and owns the bridge's address
(``.1``): it reaches every host, and no fault ever cuts it off, so servers can
be watched and controlled throughout.

Faults are nftables rules in a host's namespace (table ``inet zkservices_fault``):
:meth:`Network.cut` drops every packet between a host and others (a TCP
connect from it times out), :meth:`Network.loss` drops a share of them at
random (``numgen random mod 100 < N drop``, in each direction),
:meth:`Network.heal` removes them.  This machine's kernel has no ``netem``:
there is no delay or jitter shaping, only drops.

Needs root, ``ip`` (iproute2) and ``nft`` (nftables); :func:`network_unavailable`
says why not when they are missing.  Every namespace and link is named after the
owning process (``zkf_<pid>_...``): what a crashed run left behind is removed
when the next network starts.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
import shutil
import subprocess
import threading
from typing import Any, Iterable, Sequence

from ..errors import FaultError
from .ensemble import ZooKeeperEnsemble
from .nethost import Host

__all__ = ["Network", "network_unavailable", "sweep_leftovers"]

log = logging.getLogger("zkservices.testing")

PREFIX = "zkf_"
_TABLE = "zkservices_fault"
_NAME = re.compile(r"^zkf_([0-9a-z]+)_")
_counter = 0
_counter_lock = threading.Lock()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def network_unavailable() -> str | None:
    """Why a :class:`Network` cannot be made here (not root, no ``ip``, no ``nft``), or None.

    Tests use it to skip with the reason: ``pytest.mark.skipif(bool(reason := network_unavailable()), reason=...)``.
    """
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return f"`{tool}` is missing (apt-get install {package})"
    return None


def _run(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=30)
    if check and result.returncode != 0:
        raise FaultError(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _owner_alive(name: str) -> bool:
    match = _NAME.match(name)
    if match is None:
        return True
    try:
        os.kill(int(match.group(1), 36), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def sweep_leftovers() -> list[str]:
    """Delete the namespaces and links of networks whose process is gone; return their names."""
    removed = []
    for ns in _run("ip", "netns", "list", check=False).stdout.split("\n"):
        name = ns.split(" ")[0]
        if name.startswith(PREFIX) and not _owner_alive(name):
            _run("ip", "netns", "delete", name, check=False)
            removed.append(name)
    for line in _run("ip", "-o", "link", "show", check=False).stdout.split("\n"):
        parts = line.split(": ")
        if len(parts) > 1:
            name = parts[1].split("@")[0]
            if name.startswith(PREFIX) and not _owner_alive(name):
                _run("ip", "link", "delete", name, check=False)
                removed.append(name)
    if removed:
        log.warning("removed what a crashed network left behind: %s", ", ".join(removed))
    return removed


def _pick_subnet() -> ipaddress.IPv4Network:
    taken = []
    for line in _run("ip", "-4", "-o", "route", "show", "table", "all", check=False).stdout.split("\n") + \
            _run("ip", "-4", "-o", "addr", "show", check=False).stdout.split("\n"):
        for word in line.split():
            try:
                taken.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
    taken = [net for net in taken if net.prefixlen > 0]
    rng = random.SystemRandom()
    for _ in range(200):
        candidate = ipaddress.IPv4Network(f"10.{rng.randint(200, 254)}.{rng.randint(0, 255)}.0/24")
        if not any(candidate.overlaps(net) for net in taken):
            return candidate
    raise FaultError("found no free 10.x.y.0/24 for a test network")


class Network:
    """A private network of hosts, each a network namespace on one bridge, and faults between them.

    One lifecycle: constructing it checks the prerequisites and picks the
    subnet (nothing is created); :meth:`start` removes what crashed runs left
    behind and makes the bridge; :meth:`add_host` and :meth:`ensemble` add hosts;
    :meth:`close` ends every host's Python, closes the ensembles it made, and
    deletes every namespace, veth pair, the bridge and with them every rule,
    for good (idempotent).  A context manager starts and closes it, also when
    the test fails::

        with Network() as net:
            ensemble = net.ensemble(3)           # ZooKeeper servers on hosts zk1..zk3
            client = net.add_host("client")
            py = client.python()
            py.exec(f"from zkservices import ZooKeeper; zk = ZooKeeper({ensemble.connection_string!r})")
            net.cut(client)                      # from every other host
            ...
            net.heal(client)

    :param subnet: the network (an IPv4 ``/24`` written ``10.1.2.0/24``);
        default: a free one in ``10.200.0.0``-``10.254.255.0``.
    :raises FaultError: not root, ``ip`` or ``nft`` missing (:func:`network_unavailable`).
    """

    def __init__(self, *, subnet: str | None = None) -> None:
        reason = network_unavailable()
        if reason is not None:
            raise FaultError(f"cannot make a test network: {reason}")
        global _counter
        with _counter_lock:
            _counter += 1
            number = _counter
        self.id = f"{PREFIX}{_base36(os.getpid())}_{_base36(number)}"
        self.subnet = ipaddress.IPv4Network(subnet) if subnet else _pick_subnet()
        self._addresses = self.subnet.hosts()
        self.address = str(next(self._addresses))
        self.bridge = f"{self.id}b"
        self.hosts: dict[str, Host] = {}
        self._ensembles: list[ZooKeeperEnsemble] = []
        self._started = False
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def start(self) -> Network:
        """Remove leftovers of crashed runs, make the bridge with :attr:`address`; returns the network."""
        if self._closed:
            raise FaultError(f"{self!r} is closed")
        if self._started:
            return self
        sweep_leftovers()
        self._started = True
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", f"{self.address}/{self.subnet.prefixlen}", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise
        log.info("network %s on %s (bridge %s)", self.id, self.subnet, self.bridge)
        return self

    def add_host(self, name: str) -> Host:
        """A new host called ``name``: a namespace, its veth pair on the bridge, the next free address."""
        if not self._started or self._closed:
            raise FaultError(f"{self!r} is not started (or closed): cannot add a host")
        if name in self.hosts:
            raise ValueError(f"the network already has a host {name!r}")
        namespace = f"{self.id}_{name}"
        link = f"{self.id}v{len(self.hosts)}"
        if len(link) > 15:
            raise FaultError(f"interface name {link!r} is too long")
        address = str(next(self._addresses))
        host = Host(name=name, namespace=namespace, address=address, link=link)
        self.hosts[name] = host
        _run("ip", "netns", "add", namespace)
        _run("ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _run("ip", "link", "set", link, "master", self.bridge)
        _run("ip", "link", "set", link, "up")
        _run("ip", "-n", namespace, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _run("ip", "-n", namespace, "link", "set", "eth0", "up")
        _run("ip", "-n", namespace, "link", "set", "lo", "up")
        self._nft(host, f"add table inet {_TABLE}\n"
                        f"add chain inet {_TABLE} input {{ type filter hook input priority 0; policy accept; }}\n"
                        f"add chain inet {_TABLE} output {{ type filter hook output priority 0; policy accept; }}\n")
        log.info("host %s: %s in namespace %s", name, address, namespace)
        return host

    def ensemble(self, n: int = 3, **options: Any) -> ZooKeeperEnsemble:
        """A :class:`~zkservices.testing.ZooKeeperEnsemble` (not started) whose members run on new hosts ``zk1``..``zkN``.

        ``options`` go to the ensemble; it is closed with the network.  Each
        member listens on its host's address, ports 2181, 2888 and 3888.
        """
        hosts = [self.add_host(f"zk{i + 1}") for i in range(n)]
        ensemble = ZooKeeperEnsemble(n, hosts=hosts, **options)
        self._ensembles.append(ensemble)
        return ensemble

    def host_of(self, what: Host | str | Any) -> Host:
        """The host named ``what``, or ``what`` itself, or the host a server runs on (its ``netns``)."""
        if isinstance(what, Host):
            return what
        if isinstance(what, str):
            return self.hosts[what]
        for host in self.hosts.values():
            if host.namespace == getattr(what, "netns", None):
                return host
        raise ValueError(f"{what!r} is no host of {self!r}")

    # -- faults ------------------------------------------------------------

    def _nft(self, host: Host, script: str) -> None:
        _run(*host.command("nft", "-f", "-"), input=script)

    def _peers(self, host: Host, others: Iterable[Host | str | Any] | None) -> list[str]:
        chosen = [self.host_of(o) for o in others] if others is not None else list(self.hosts.values())
        addresses = sorted({h.address for h in chosen if h is not host})
        if not addresses:
            raise ValueError("no other host to cut or drop packets to")
        return addresses

    def _rules(self, host: Host, others: Iterable[Host | str | Any] | None, verdict: str) -> None:
        peers = "{ " + ", ".join(self._peers(host, others)) + " }"
        self._nft(host, f"add rule inet {_TABLE} input ip saddr {peers} {verdict}\n"
                        f"add rule inet {_TABLE} output ip daddr {peers} {verdict}\n")

    def cut(self, host: Host | str | Any, others: Sequence[Host | str | Any] | None = None) -> None:
        """Drop every packet between ``host`` and ``others`` (default: every other host), both ways.

        ``host`` and ``others`` are hosts, their names, or servers started on
        them.  The test process (the bridge's address) is never cut.  Cutting a
        client from every server: ``cut(client)``; one server from the others (a
        minority partition): ``cut(server, ensemble.servers)``.
        """
        target = self.host_of(host)
        self._rules(target, others, "drop")
        log.info("cut %s from %s", target.name, "every host" if others is None else self._peers(target, others))

    def loss(self, host: Host | str | Any, percent: int, others: Sequence[Host | str | Any] | None = None) -> None:
        """Drop ``percent`` % of the packets between ``host`` and ``others`` at random, in each direction.

        Hosts and ``others`` as for :meth:`cut`; 100 % is a cut.
        Only drops: no delay (this kernel has no ``netem``).  TCP retransmits
        what is lost, so calls slow down and connections may time out.
        """
        if not 0 < percent <= 100:
            raise ValueError(f"percent must be in 1..100, not {percent}")
        target = self.host_of(host)
        self._rules(target, others, "drop" if percent == 100 else f"numgen random mod 100 < {int(percent)} drop")
        log.info("%d%% packet loss on %s", percent, target.name)

    def heal(self, host: Host | str | Any | None = None) -> None:
        """Remove every fault of ``host`` (default: of every host)."""
        targets = [self.host_of(host)] if host is not None else list(self.hosts.values())
        for target in targets:
            self._nft(target, f"flush chain inet {_TABLE} input\nflush chain inet {_TABLE} output\n")
        log.info("healed %s", "every host" if host is None else targets[0].name)

    def rules(self, host: Host | str | Any) -> str:
        """The host's fault table as ``nft list table`` prints it (for failure messages)."""
        return _run(*self.host_of(host).command("nft", "list", "table", "inet", _TABLE)).stdout

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """End the hosts' Pythons, close the ensembles, delete every namespace and link (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for host in self.hosts.values():
            for py in host._pythons:
                py.close()
        for ensemble in self._ensembles:
            ensemble.close()
        for host in self.hosts.values():
            _run("ip", "netns", "delete", host.namespace, check=False)
            _run("ip", "link", "delete", host.link, check=False)
        if self._started:
            _run("ip", "link", "delete", self.bridge, check=False)
        log.info("network %s removed", self.id)

    def __enter__(self) -> Network:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "started" if self._started else "not started"
        return f"<Network {self.id} {self.subnet} hosts={list(self.hosts)} {state}>"
