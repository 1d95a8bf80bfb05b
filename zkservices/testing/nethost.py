"""One host of a test network: a network namespace with an address, commands and Python run inside it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from .hostpython import HostPython

__all__ = ["Host"]


@dataclass(eq=False)
class Host:
    """One host of a :class:`~zkservices.testing.Network`: a network namespace with one address.

    Made by :meth:`Network.add_host <zkservices.testing.Network.add_host>`.
    :attr:`name` is the test's name for it, :attr:`namespace` the namespace's,
    :attr:`address` its IPv4 address on the network, :attr:`link` the machine's
    end of its veth pair (on the bridge).
    """

    name: str
    namespace: str
    address: str
    link: str = field(repr=False)
    _pythons: list[HostPython] = field(default_factory=list, repr=False)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the host (``ip netns exec NAMESPACE ...``)."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host and return its result (output captured as text; not checked)."""
        return subprocess.run(self.command(*argv), capture_output=True, text=True, timeout=timeout)

    def python(self, *, env: dict[str, str] | None = None) -> HostPython:
        """A Python interpreter running on this host (:class:`~zkservices.testing.HostPython`), closed with the network."""
        py = HostPython(prefix=self.command(), name=self.name, env=env)
        self._pythons.append(py)
        return py
