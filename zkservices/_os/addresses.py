"""This machine's addresses, for registering a server without naming its host."""

from __future__ import annotations

import fcntl
import socket
import struct

__all__ = ["local_addresses"]

_SIOCGIFADDR = 0x8915


def _ipv4_of(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _ipv6_addresses() -> list[str]:
    found = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 6:
                    continue
                raw, scope = fields[0], int(fields[3], 16)
                if scope != 0:  # link-local, loopback, site: not reachable as is
                    continue
                text = ":".join(raw[i : i + 4] for i in range(0, 32, 4))
                found.append(socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text)))
    except OSError:
        pass
    return found


def local_addresses() -> list[str]:
    """Non-loopback IPv4 and global IPv6 addresses of this machine, else ``['127.0.0.1']``."""
    addresses: list[str] = []
    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:
        interfaces = []
    for name in interfaces:
        address = _ipv4_of(name)
        if address and not address.startswith("127.") and address not in addresses:
            addresses.append(address)
    for address in _ipv6_addresses():
        if address != "::1" and address not in addresses:
            addresses.append(address)
    if not addresses:
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None):
                found = str(info[4][0])
                if not found.startswith("127.") and found != "::1" and found not in addresses:
                    addresses.append(found)
        except OSError:
            pass
    return addresses or ["127.0.0.1"]
