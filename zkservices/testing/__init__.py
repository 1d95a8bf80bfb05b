"""Real ZooKeeper servers and fault injection for tests, demos and development.

- :class:`ZooKeeperServer`, :class:`ZooKeeperEnsemble`: server processes
  (:mod:`.server`, :mod:`.ensemble`); :class:`ExternalServer`: a server
  somebody else runs (:mod:`.external`);
- :func:`find_java`, :func:`find_classpath`: what runs a server (:mod:`.install`);
- :func:`make_certificates`, :class:`Certificates`: a throw-away CA, server and
  client certificate for TLS servers (``ZooKeeperServer(tls=True)``) (:mod:`.certs`);
- :func:`free_ports`, :func:`four_letter_word`, :func:`srvr`, :func:`server_version`:
  loopback helpers (:mod:`.net`; a server's ``version`` attribute comes from ``srvr``);
- :func:`expire_session`, :func:`drop_connection`: faults on a live client (:mod:`.faults`);
- :class:`Network`, :class:`Host`, :func:`network_unavailable`: hosts in network
  namespaces on a bridge, cut off or losing packets by nftables rules (:mod:`.network`,
  :mod:`.nethost`; root only); :class:`HostPython`, :class:`HostError`: Python code run on such a
  host (:mod:`.hostpython`);
- :class:`ServerError`, :class:`FaultError`: their errors (subclasses of
  :class:`zkservices.ZkServicesError`; ``zkservices.ServerError`` and
  ``zkservices.FaultError`` are deprecated aliases).

The pytest plugin that turns these into fixtures is the separate package
``pytest_zkservices`` (loaded by its ``pytest11`` entry point).
"""

from ..errors import FaultError, ServerError
from .certs import Certificates, make_certificates
from .ensemble import ZooKeeperEnsemble
from .external import ExternalServer
from .faults import drop_connection, expire_session
from .hostpython import HostError, HostPython
from .install import find_classpath, find_java
from .net import four_letter_word, free_ports, server_version, srvr
from .nethost import Host
from .network import Network, network_unavailable
from .server import ZooKeeperServer

__all__ = [
    "Certificates",
    "ExternalServer",
    "FaultError",
    "Host",
    "HostError",
    "HostPython",
    "Network",
    "ServerError",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "drop_connection",
    "expire_session",
    "find_classpath",
    "find_java",
    "four_letter_word",
    "free_ports",
    "make_certificates",
    "network_unavailable",
    "server_version",
    "srvr",
]
