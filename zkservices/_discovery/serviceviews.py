"""The ZooKeeper side of a server set: the session's views of one service.

:class:`ServiceViews` opens a ``Properties`` view of the service node and a
``Providers`` view of its providers node (both with ``missing_ok``: a node that does
not exist yet, or that a link does not lead to yet, is an empty view waiting for
it) and reads what a :class:`~zkservices.ServerSet` offers for publishing.  It sets
no watches of its own: the views follow the nodes, re-armed with the session's
other views after a connection or session loss, and call ``on_change`` on the
session's worker when what they hold changed.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from .._formats import Provider
from .._session import Properties, Providers
from .._zookeeper import ZooKeeper
from ..errors import BadPropertyLink, LinkLoop

__all__ = ["ServiceViews"]

log = logging.getLogger("zkservices.serverset")


class ServiceViews:
    """The views of one service, opened (each reading its node) by the constructor.

    :param zk: the session.
    :param service: the service node.
    :param providers_path: its providers node.
    :param on_change: called (on the session's worker, with no arguments) whenever
        a view's content changed; it must only note that and return.

    Raises what opening a view raises (ZooKeeper errors); nothing stays open then.
    """

    def __init__(self, zk: ZooKeeper, service: str, providers_path: str, *, on_change: Callable[[], None]) -> None:
        self.service = service
        self._on_change = on_change
        opened: list[Any] = []
        try:
            opened.append(zk.properties(service, missing_ok=True))
            opened.append(zk.providers(providers_path, missing_ok=True))
            for view in opened:
                view(self._changed)
        except BaseException:
            for view in opened:
                view.close()
            raise
        self._properties: Properties = opened[0]
        self._providers: Providers = opened[1]

    def _changed(self, view: Any = None) -> None:
        self._on_change()

    def read(self) -> tuple[dict[str, Any], dict[str, Provider]]:
        """``(properties, providers)`` as the views hold them now: the service's
        properties (a bad property link is left out, with a WARNING) and its enabled
        providers, name → :class:`~zkservices.Provider` in name order."""
        view = self._properties
        properties = {}
        for key in list(view):
            try:
                properties[key] = view[key]
            except (BadPropertyLink, LinkLoop) as exc:
                log.warning("%s: property %r: %s; left out", self.service, key, exc)
            except KeyError:
                pass
        providers = {name: p for name, p in self._providers.snapshot().items() if p.enabled}
        return properties, providers

    def close(self) -> None:
        """Close both views (idempotent)."""
        self._properties.close()
        self._providers.close()

    def __repr__(self) -> str:
        return f"<ServiceViews {self._properties!r} {self._providers!r}>"
