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
from ._session import ZK, ZooKeeper
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
]
