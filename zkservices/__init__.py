"""zkservices: service discovery and configuration on Apache ZooKeeper.

The public API is listed once, in ``__all__`` below; every module whose name
starts with an underscore is private.
"""

from __future__ import annotations

import logging

from .errors import (
    FeedError,
    FeedTemplateError,
    NoNode,
    SessionClosed,
    BadPropertyLink,
    CancelWatch,
    FailedConnect,
    InvalidPath,
    LinkLoop,
    NodeDeleted,
    TreeError,
    ValueTooLarge,
    ZkServicesError,
)

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - what the lazy names below resolve to
    from ._feed import Feed
    from ._health import CommandCheck, HealthMonitor, HttpCheck, TcpCheck
    from ._session.registrar import Registration
    from ._selfreg import HealthCheckedRegistration
    from ._serverset import ServerSet
    from ._session.facade import ZK, ZooKeeper
    from ._tree import Change, Node, emit_tree, parse_tree, validate_tree
    from ._session.views import Children, ChildrenChange, Properties

# Public names are imported on first use (PEP 562), so that ``import
# zkservices.testing.plugin`` -- which pytest does in every run where this
# package is installed -- stays cheap and loads no kazoo.
_LAZY = {
    "Feed": "._feed",
    
    
    "CommandCheck": "._health",
    "HealthMonitor": "._health",
    "HttpCheck": "._health",
    "TcpCheck": "._health",
    "Registration": "._session.registrar",
    "HealthCheckedRegistration": "._selfreg",
    "ServerSet": "._serverset",
    "ZK": "._session.facade",
    "ZooKeeper": "._session.facade",
    "Node": "._tree",
    "emit_tree": "._tree",
    "parse_tree": "._tree",
    "Change": "._tree",
    "validate_tree": "._tree",
    "Children": "._session.views",
    "ChildrenChange": "._session.views",
    "Properties": "._session.views",
}


from ._lazy import lazy_getattr  # noqa: E402

__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0.dev0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "BadPropertyLink",
    "Children",
    "ChildrenChange",
    "Properties",
    "Registration",
    "HealthCheckedRegistration",
    "CommandCheck",
    "HealthMonitor",
    "HttpCheck",
    "TcpCheck",
    "Feed",
    "FeedError",
    "FeedTemplateError",
    "ServerSet",
    "ZK",
    "ZooKeeper",
    "CancelWatch",
    "FailedConnect",
    "InvalidPath",
    "LinkLoop",
    "NodeDeleted",
    "TreeError",
    "ValueTooLarge",
    "ZkServicesError",
    "NoNode",
    "SessionClosed",
    "Change",
    "Node",
    "emit_tree",
    "parse_tree",
    "validate_tree",
]
