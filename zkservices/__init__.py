"""zkservices: service discovery and configuration on Apache ZooKeeper.

The public API is listed once, in ``__all__`` below; every module whose name
starts with an underscore is private.
"""

from __future__ import annotations

import logging

from ._errors import (
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

from ._registration import Registration
from ._health import CommandCheck, HealthMonitor, HttpCheck, TcpCheck
from ._selfreg import HealthCheckedRegistration
from ._feed import Feed, FeedError
from ._serverset import ServerSet
from ._session import ZK, ZooKeeper
from ._tree import Node, emit_tree, parse_tree
from ._treeops import Change, validate_tree
from ._views import Children, ChildrenChange, Properties

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
    "Change",
    "Node",
    "emit_tree",
    "parse_tree",
    "validate_tree",
]
