"""The session: one kazoo client, its retry policy, worker, recovery, registrations and views.

Feature packages (trees, discovery, feeds) use :class:`~zkservices.ZooKeeper`'s public
methods and its named core API (``zk.core``), never private attributes.
"""

from .core import SessionCore, default_connection_string
from .providers import Providers, ProvidersChange
from .registrar import Registration
from .selector import Lease, Selector
from .tls import TLS, TLSOption
from .views import Children, ChildrenChange, Properties

__all__ = [
    "SessionCore",
    "default_connection_string",
    "Registration",
    "TLS",
    "TLSOption",
    "Children",
    "ChildrenChange",
    "Properties",
    "Providers",
    "ProvidersChange",
    "Selector",
    "Lease",
]
