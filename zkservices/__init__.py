"""zkservices: service discovery and configuration on Apache ZooKeeper.

The public API is the list ``__all__`` below, filled by the imports above it
(pyflakes checks that the two agree: an import missing from ``__all__`` is
unused, a name in ``__all__`` that is not imported is undefined).  Every
module whose name starts with an underscore is private.  :mod:`zkservices.aio`
and :mod:`zkservices.testing` are public subpackages imported on their own.
"""

import logging

from ._discovery import (
    BackgroundConnection,
    CommandCheck,
    HealthCheck,
    HealthCheckedRegistration,
    HealthMonitor,
    HttpCheck,
    RegistrationChangeCallback,
    ServerSet,
    TcpCheck,
)
from ._feed import Feed
from ._formats import CuratorFormat, Format, NodeSpec, Provider, ServerSetFormat, ZkServicesFormat
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
    TLSOption,
)
from ._tree import Change, Node, TreeInput, emit_tree, parse_tree, validate_tree
from ._types import Address, Command, PathLike, Progress, Watch
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

__version__ = "0.1.0.dev0"

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
    "TLSOption",
    # mixed fleets: provider formats, provider views, selection
    "Provider",
    "Providers",
    "ProvidersChange",
    "Format",
    "NodeSpec",
    "ZkServicesFormat",
    "CuratorFormat",
    "ServerSetFormat",
    "Selector",
    "Lease",
    # trees
    "Change",
    "Node",
    "TreeInput",
    "emit_tree",
    "parse_tree",
    "validate_tree",
    # discovery
    "ServerSet",
    "BackgroundConnection",
    "HealthCheckedRegistration",
    "RegistrationChangeCallback",
    "HealthCheck",
    "CommandCheck",
    "HealthMonitor",
    "HttpCheck",
    "TcpCheck",
    # type aliases of the signatures above
    "Address",
    "Command",
    "PathLike",
    "Progress",
    "Watch",
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
