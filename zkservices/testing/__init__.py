"""Real ZooKeeper servers and fault injection for tests, demos and development.

- :class:`ZooKeeperServer`, :class:`ZooKeeperEnsemble`: server processes.
- :func:`expire_session`, :func:`drop_connection`: faults on a live client.
- The pytest plugin (``zkservices.testing.plugin``, loaded by the ``pytest11``
  entry point) provides fixtures; see its docstring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ._faults import drop_connection, expire_session
    from ._server import (
        ZooKeeperEnsemble,
        ZooKeeperServer,
        find_classpath,
        find_java,
        four_letter_word,
    )

# Imported on first use, so that loading the pytest plugin (a submodule) is cheap.
_LAZY = {
    "drop_connection": "._faults",
    "expire_session": "._faults",
    "ZooKeeperEnsemble": "._server",
    "ZooKeeperServer": "._server",
    "find_classpath": "._server",
    "find_java": "._server",
    "four_letter_word": "._server",
}


from .._lazy import lazy_getattr  # noqa: E402
from ..errors import FaultError, ServerError  # noqa: E402,F401

__getattr__ = lazy_getattr(__name__, _LAZY, globals())


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
