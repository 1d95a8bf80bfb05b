"""zkservices: service discovery and configuration on Apache ZooKeeper.

The public API is the list ``__all__`` below, filled by the imports above it
(ruff's pyflakes rules, in ``make check``, check that the two agree: an import
missing from ``__all__`` is unused, a name in ``__all__`` that is not imported
is undefined).  Every
module whose name starts with an underscore is private.  :mod:`zkservices.aio`
and :mod:`zkservices.testing` are public subpackages imported on their own.
"""

import logging

from ._discovery import CommandCheck, HealthCheckedRegistration, HealthMonitor, HttpCheck, ServerSet, TcpCheck
from ._feed import Feed
from ._formats import CuratorFormat, Provider, ServerSetFormat
from ._session import (
    TLS,
    Children,
    ChildrenChange,
    Lease,
    Properties,
    Providers,
    ProvidersChange,
    Registration,
    Selector,
)
from ._tree import Change, Node, emit_tree, parse_tree, validate_tree
from ._version import __version__
from ._zookeeper import ZK, ZooKeeper
from .errors import (
    BadPropertyLink,
    CancelWatch,
    FailedConnect,
    FaultError,
    FeedError,
    FeedTemplateError,
    InvalidPath,
    LinkLoop,
    NodeDeleted,
    NoNode,
    NoProvider,
    NotAuthorized,
    ServerError,
    SessionClosed,
    TreeError,
    ValueTooLarge,
    ZkServicesError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    # the session
    "ZK",
    "ZooKeeper",
    "Registration",
    "Children",
    "ChildrenChange",
    "Properties",
    "TLS",
    # mixed fleets: provider formats, provider views, selection
    "Provider",
    "Providers",
    "ProvidersChange",
    "CuratorFormat",
    "ServerSetFormat",
    "Selector",
    "Lease",
    # trees
    "Change",
    "Node",
    "emit_tree",
    "parse_tree",
    "validate_tree",
    # discovery
    "ServerSet",
    "HealthCheckedRegistration",
    "CommandCheck",
    "HealthMonitor",
    "HttpCheck",
    "TcpCheck",
    # feeds
    "Feed",
    # errors (zkservices.errors)
    "ZkServicesError",
    "BadPropertyLink",
    "CancelWatch",
    "FailedConnect",
    "FaultError",
    "FeedError",
    "FeedTemplateError",
    "InvalidPath",
    "LinkLoop",
    "NodeDeleted",
    "NoNode",
    "NoProvider",
    "NotAuthorized",
    "ServerError",
    "SessionClosed",
    "TreeError",
    "ValueTooLarge",
]
