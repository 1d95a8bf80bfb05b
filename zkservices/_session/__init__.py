"""The session: one kazoo client, its retry policy, worker, recovery, registrations and views.

Feature packages (trees, discovery, feeds) use :class:`~zkservices.ZooKeeper`'s public
methods and its named core API (``zk.core``), never private attributes.
"""

from .facade import ZooKeeper, default_connection_string
from .registrar import Registration, local_addresses
from .views import Children, ChildrenChange, Properties

__all__ = [
    "ZooKeeper",
    "default_connection_string",
    "Registration",
    "local_addresses",
    "Children",
    "ChildrenChange",
    "Properties",
]
