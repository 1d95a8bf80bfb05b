"""The plugin's options: each both a command-line flag and an ini key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

__all__ = ["OPTIONS", "Option", "ZooKeeperConfig", "add_options", "get_config"]


@dataclass(frozen=True)
class Option:
    """One option: ``flag`` on the command line, ``ini`` in the ini file (also the ``dest``)."""

    flag: str
    ini: str
    help: str
    default: str | None = None


OPTIONS = (
    Option("--zk-classpath", "zookeeper_classpath", "classpath of the ZooKeeper server jars"),
    Option(
        "--zk-version",
        "zookeeper_version",
        "run a downloaded ZooKeeper of this version (e.g. 3.9: .zookeeper/3.9.N/lib, from scripts/bootstrap --test)",
    ),
    Option("--zk-connect", "zookeeper_connect", "use this running server (host:port) instead of starting one"),
    Option("--zk-startup-timeout", "zookeeper_startup_timeout", "seconds to wait for servers to serve", "60"),
)


@dataclass(frozen=True)
class ZooKeeperConfig:
    """The options' values for one run (a flag wins over its ini key)."""

    classpath: str | None
    version: str | None
    connect: str | None
    startup_timeout: float


def add_options(parser: pytest.Parser) -> None:
    """Register every option in :data:`OPTIONS` with ``parser`` (flag and ini key)."""
    group = parser.getgroup("zkservices", "real ZooKeeper servers (zkservices)")
    for option in OPTIONS:
        group.addoption(option.flag, dest=option.ini, default=None, help=f"{option.help} (ini: {option.ini})")
        parser.addini(option.ini, option.help, default=option.default)


def _value(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    return value or None


def get_config(config: pytest.Config) -> ZooKeeperConfig:
    """The options of this run.

    Raises :class:`pytest.UsageError` when the startup timeout is not a number.
    """
    timeout = _value(config, "zookeeper_startup_timeout") or "60"
    try:
        startup_timeout = float(timeout)
    except ValueError:
        raise pytest.UsageError(f"zookeeper_startup_timeout: not a number of seconds: {timeout!r}") from None
    return ZooKeeperConfig(
        classpath=_value(config, "zookeeper_classpath"),
        version=_value(config, "zookeeper_version"),
        connect=_value(config, "zookeeper_connect"),
        startup_timeout=startup_timeout,
    )
