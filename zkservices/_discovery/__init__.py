"""Service discovery on top of the session: server sets, health checks, self-registration.

- :mod:`.serverset` -- :class:`ServerSet`, the protected view of one service,
  built from :mod:`.serviceviews` (the ZooKeeper side: the session's views of
  the service), :mod:`.guard` (what is published, the shrink guard) and
  :mod:`.snapshot` (the last-known-good file);
- :mod:`.connect` -- :class:`BackgroundConnection`, a session opened by a
  thread that keeps trying;
- :mod:`.checks` -- :class:`TcpCheck`, :class:`HttpCheck`, :class:`CommandCheck`;
- :mod:`.monitor` -- :class:`HealthMonitor`;
- :mod:`.selfreg` -- :class:`HealthCheckedRegistration`.
"""

from .checks import CommandCheck, HealthCheck, HttpCheck, TcpCheck
from .connect import BackgroundConnection
from .monitor import HealthMonitor
from .selfreg import HealthCheckedRegistration, RegistrationChangeCallback
from .serverset import DEFAULT_MIN_FRACTION, ServerSet
from .snapshot import load_snapshot, save_snapshot

__all__ = [
    "ServerSet",
    "DEFAULT_MIN_FRACTION",
    "BackgroundConnection",
    "load_snapshot",
    "save_snapshot",
    "HealthCheck",
    "TcpCheck",
    "HttpCheck",
    "CommandCheck",
    "HealthMonitor",
    "HealthCheckedRegistration",
    "RegistrationChangeCallback",
]
