"""The agent's parts: one configuration entry made into the library object that does its work.

A ``register`` entry becomes a :class:`~zkservices.HealthCheckedRegistration`
(its check an :class:`~zkservices.HttpCheck`, :class:`~zkservices.TcpCheck`
or :class:`~zkservices.CommandCheck`; without a check, :class:`AlwaysUp`, so
the server is registered while the agent runs), and a ``feeds`` entry a
:class:`~zkservices.Feed`, both on the session given.  Nothing here starts
them.
"""

from __future__ import annotations

from typing import Any

from .._discovery import BackgroundConnection, CommandCheck, HealthCheckedRegistration, HttpCheck, TcpCheck
from .._discovery.checks import HealthCheck
from .._feed import Feed
from .._zookeeper import ZooKeeper
from .._znode.paths import parse_address
from .config import CheckConfig, FeedConfig, RegisterConfig, thaw

__all__ = ["AlwaysUp", "make_check", "make_registration", "make_feed", "NO_CHECK_INTERVAL"]

#: Seconds between the (trivial) checks of a registration without a check.
NO_CHECK_INTERVAL = 3600.0


class AlwaysUp:
    """The check of a ``register`` entry without one: always passes."""

    def check(self, timeout: float) -> tuple[bool, str]:
        """``(True, "no check")``."""
        return True, "no check"

    def __repr__(self) -> str:
        return "AlwaysUp()"


def make_check(check: CheckConfig | None) -> HealthCheck:
    """The check an entry's ``check`` section describes."""
    if check is None:
        return AlwaysUp()
    if check.http is not None:
        return HttpCheck(check.http)
    if check.tcp is not None:
        host, port = parse_address(check.tcp)
        return TcpCheck(host, port)
    assert check.command is not None
    return CommandCheck(check.command)


def make_registration(zk: ZooKeeper, entry: RegisterConfig) -> HealthCheckedRegistration:
    """The (not started) registration of one ``register`` entry on ``zk``."""
    check = entry.check
    timing: dict[str, Any] = (
        {"interval": NO_CHECK_INTERVAL, "timeout": 1.0, "rise": 1, "fall": 1}
        if check is None
        else {"interval": check.interval, "timeout": check.timeout, "rise": check.rise, "fall": check.fall}
    )
    return HealthCheckedRegistration(
        zk, entry.path, (entry.host, entry.port), check=make_check(check),
        provider_format=entry.format, **timing, **thaw(entry.properties),
    )


def make_feed(zk: ZooKeeper | BackgroundConnection, entry: FeedConfig, *, command_timeout: float = 60.0) -> Feed:
    """The (not started) feed of one ``feeds`` entry on ``zk`` (or on the session a connection makes)."""
    return Feed(
        zk,
        list(entry.services),
        template_text=entry.template_text,
        template_name=entry.template_file or entry.template,
        output=entry.output,
        providers=entry.providers,
        check_command=entry.check_command,
        reload_command=entry.reload_command,
        reload_interval=entry.reload_interval,
        min_wait=entry.min_wait,
        max_wait=entry.max_wait,
        min_fraction=entry.min_fraction,
        snapshot=entry.snapshot,
        command_timeout=command_timeout,
        name=entry.name,
    )
