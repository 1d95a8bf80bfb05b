"""The agent's configuration, parsed: immutable records, compared by value.

What :func:`~zkservices.load_agent_config` returns.  Every record is a frozen
dataclass of plain values (strings, numbers, tuples, read-only mappings), so
two loads of the same files compare equal entry by entry: a reload keeps
the registrations and feeds whose entries did not change.  Nothing here
imports the validation library; the records are built by the loader from
the validated YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .._znode.paths import parse_address

__all__ = ["TLSConfig", "ZooKeeperConfig", "CheckConfig", "RegisterConfig", "FeedConfig", "AgentConfig"]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``mapping``, nested mappings and lists frozen too."""

    def freeze(value: Any) -> Any:
        if isinstance(value, Mapping):
            return MappingProxyType({k: freeze(v) for k, v in value.items()})
        if isinstance(value, (list, tuple)):
            return tuple(freeze(v) for v in value)
        return value

    return MappingProxyType({k: freeze(v) for k, v in mapping.items()})


def thaw(value: Any) -> Any:
    """Plain ``dict``/``list`` copies of frozen properties (for writing them to ZooKeeper)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class TLSConfig:
    """The ``zookeeper.tls`` section: PEM files (absolute paths); ``None`` where not given."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class ZooKeeperConfig:
    """The ``zookeeper`` section; ``None`` where the file leaves a setting to the
    command line's options and the environment.

    ``connection`` is the connection string as written, ``session_timeout``
    seconds, ``resync_jitter`` seconds over which the views' re-reads after a session
    loss are spread (the session's ``resync_jitter``), ``read_only`` whether a
    server cut off from its quorum may serve the session, reads only (the
    session's ``read_only``), ``auth_file`` the absolute path of a file of ``SCHEME:CREDENTIALS``
    lines (never its content), ``tls`` the certificate files; ``file`` the
    configuration file holding the section (not compared).
    """

    connection: str | None = None
    session_timeout: float | None = None
    auth_file: str | None = None
    tls: TLSConfig | None = None
    file: str = field(default="", compare=False)
    resync_jitter: float | None = None
    read_only: bool | None = None


@dataclass(frozen=True)
class CheckConfig:
    """A registration's ``check``: exactly one of ``http`` (a URL), ``tcp``
    (``HOST:PORT`` as written) and ``command`` (a shell command), and its timing:
    a check every ``interval`` seconds taking at most ``timeout``, ``rise``
    passes in a row to register, ``fall`` failures in a row to unregister."""

    http: str | None = None
    tcp: str | None = None
    command: str | None = None
    interval: float = 2.0
    timeout: float = 2.0
    rise: int = 2
    fall: int = 3

    @property
    def kind(self) -> str:
        """``"http"``, ``"tcp"`` or ``"command"``."""
        return "http" if self.http is not None else "tcp" if self.tcp is not None else "command"


@dataclass(frozen=True)
class RegisterConfig:
    """One ``register`` entry: keep ``address`` registered below ``path`` (the
    providers node) in ``format`` while ``check`` passes (always, without one).

    ``address`` is as written (``HOST:PORT``, ``[v6]:PORT``, ``:PORT`` for
    every address of the host); ``host`` and ``port`` are it parsed (``host``
    ``""`` for ``:PORT``).  ``properties`` is a read-only mapping.  ``file`` is
    the configuration file the entry came from; it takes no part in
    comparisons, so an entry moved between files is the same entry.
    """

    path: str
    address: str
    host: str
    port: int
    format: str = "zkservices"
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    check: CheckConfig | None = None
    file: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.properties, MappingProxyType):
            object.__setattr__(self, "properties", _frozen(self.properties))

    @property
    def key(self) -> tuple[str, str, int]:
        """What two entries may not share: the path and the parsed address."""
        return (self.path, self.host, self.port)


@dataclass(frozen=True)
class FeedConfig:
    """One ``feeds`` entry: render ``services`` (service nodes, their providers
    at ``providers`` relative to each) with a template into ``output``.

    ``template`` is as written (a shipped template's name or a file);
    ``template_file`` the absolute path of the file read (``None`` for a
    shipped template) and ``template_text`` its text, compared too: an edited
    template file makes a changed entry.  Paths (``output``, ``snapshot``) are
    absolute.  ``max_wait`` ``None`` means 4 x ``min_wait``;
    ``reload_interval`` 0 means no limit.
    """

    name: str
    services: tuple[str, ...]
    template: str
    output: str
    template_text: str = field(default="", repr=False)
    template_file: str | None = None
    providers: str = "providers"
    check_command: str | None = None
    reload_command: str | None = None
    reload_interval: float = 0.0
    min_wait: float = 0.2
    max_wait: float | None = None
    min_fraction: float = 0.5
    snapshot: str | None = None
    file: str = field(default="", compare=False)


@dataclass(frozen=True)
class AgentConfig:
    """A whole agent configuration, as :func:`~zkservices.load_agent_config` returns it.

    ``zookeeper`` (empty when no file has the section), ``listen`` (the HTTP
    listener's ``HOST:PORT`` as written, or ``None``), the ``register`` and
    ``feeds`` entries in file order, and ``files``, the files read (in name
    order).  Records compare by value; :meth:`registration` and :meth:`feed`
    find entries by what identifies them.
    """

    zookeeper: ZooKeeperConfig = field(default_factory=ZooKeeperConfig)
    listen: str | None = None
    register: tuple[RegisterConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    files: tuple[str, ...] = field(default=(), compare=False)

    def registration(self, path: str, address: str) -> RegisterConfig | None:
        """The ``register`` entry for ``path`` and ``address`` (compared parsed), or ``None``.

        Raises :class:`ValueError` for an address that does not parse.
        """
        host, port = parse_address(address)
        return next((r for r in self.register if r.key == (path, host, port)), None)

    def feed(self, name: str) -> FeedConfig | None:
        """The feed named ``name``, or ``None``."""
        return next((f for f in self.feeds if f.name == name), None)
