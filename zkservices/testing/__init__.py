"""Real ZooKeeper servers and fault injection for tests, demos and development.

- :class:`ZooKeeperServer`, :class:`ZooKeeperEnsemble`: server processes.
- :func:`expire_session`, :func:`drop_connection`: faults on a live client.
- The pytest plugin (``zkservices.testing.plugin``, loaded by the ``pytest11``
  entry point) provides fixtures; see its docstring.
"""

from __future__ import annotations

from ._faults import FaultError, drop_connection, expire_session
from ._server import (
    ServerError,
    ZooKeeperEnsemble,
    ZooKeeperServer,
    find_classpath,
    find_java,
    four_letter_word,
)

__all__ = [
    "FaultError",
    "ServerError",
    "ZooKeeperEnsemble",
    "ZooKeeperServer",
    "drop_connection",
    "expire_session",
    "find_classpath",
    "find_java",
    "four_letter_word",
]
