"""zkservices: service discovery and configuration on Apache ZooKeeper.

The public API is the list ``__all__`` below, filled by the imports above it
(ruff's pyflakes rules, in ``make check``, check that the two agree: an import
missing from ``__all__`` is unused, a name in ``__all__`` that is not imported
is undefined).  Every
module whose name starts with an underscore is private.  :mod:`zkservices.aio`
and :mod:`zkservices.testing` are public subpackages imported on their own.

Names that moved are still served, with a :class:`DeprecationWarning` naming
their new place, by the module's ``__getattr__`` (not imported here, so not in
``__all__``): ``ServerError`` and ``FaultError``, the test harness's errors,
live in :mod:`zkservices.testing`.
"""

import logging
import warnings

from ._agent import (
    Agent,
    AgentConfig,
    CheckConfig,
    FeedConfig,
    RegisterConfig,
    TLSConfig,
    ZooKeeperConfig,
    load_agent_config,
)
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
from ._version import __version__
from ._zookeeper import ZK, ZooKeeper
from .errors import (
    AgentConfigError,
    BadPropertyLink,
    CancelWatch,
    ConfigProblem,
    FailedConnect,
    FeedError,
    FeedTemplateError,
    InvalidPath,
    LinkLoop,
    NodeDeleted,
    NoNode,
    NoProvider,
    NotAuthorized,
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
    # the fleet agent and its configuration
    "Agent",
    "AgentConfig",
    "ZooKeeperConfig",
    "TLSConfig",
    "RegisterConfig",
    "CheckConfig",
    "FeedConfig",
    "load_agent_config",
    # errors (zkservices.errors)
    "ZkServicesError",
    "AgentConfigError",
    "ConfigProblem",
    "BadPropertyLink",
    "CancelWatch",
    "FailedConnect",
    "FeedError",
    "FeedTemplateError",
    "InvalidPath",
    "LinkLoop",
    "NodeDeleted",
    "NoNode",
    "NoProvider",
    "NotAuthorized",
    "SessionClosed",
    "TreeError",
    "ValueTooLarge",
]

#: Old top-level names → the public module that has them now.
_MOVED = {"ServerError": "zkservices.testing", "FaultError": "zkservices.testing"}


def __getattr__(name: str) -> type:
    """Serve a name that moved (see :data:`_MOVED`) with a DeprecationWarning;
    raise AttributeError for any other unknown name."""
    if name in _MOVED:
        warnings.warn(
            f"zkservices.{name} is deprecated; use {_MOVED[name]}.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        from . import errors

        return getattr(errors, name)  # the same class zkservices.testing exports
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
