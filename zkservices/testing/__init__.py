"""Real ZooKeeper servers and fault injection for tests, demos and development.

- :class:`ZooKeeperServer`, :class:`ZooKeeperEnsemble`: server processes.
- :func:`expire_session`, :func:`drop_connection`: faults on a live client.
- The pytest plugin (``zkservices.testing.plugin``, loaded by the ``pytest11``
  entry point) provides fixtures; see its docstring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._faults import FaultError, drop_connection, expire_session
    from ._server import (
        ServerError,
        ZooKeeperEnsemble,
        ZooKeeperServer,
        find_classpath,
        find_java,
        four_letter_word,
    )

# Imported on first use, so that loading the pytest plugin (a submodule) is cheap.
_LAZY = {
    "FaultError": "._faults",
    "drop_connection": "._faults",
    "expire_session": "._faults",
    "ServerError": "._server",
    "ZooKeeperEnsemble": "._server",
    "ZooKeeperServer": "._server",
    "find_classpath": "._server",
    "find_java": "._server",
    "four_letter_word": "._server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


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
