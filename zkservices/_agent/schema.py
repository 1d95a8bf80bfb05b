"""The schema of one agent configuration file, in pydantic v2.

Why pydantic: the configuration must be *validated by a schema* that reports
every problem at once with its key path, for ``--check`` and for reloads
alike.  pydantic v2 collects all errors of a document in one pass, each with
its location as a tuple (``('register', 1, 'check', 'http')``) and a machine
readable type (``extra_forbidden``, ``missing``, ``float_type``...), so the
loader turns them into the reference's ``register[1].check.http`` lines with
its own wording; ``extra="forbid"`` makes unknown keys errors; strict mode
refuses the coercions an operator would not expect (``"3"`` for a number,
``1`` for text, ``yes`` strings for booleans) while a whole number still
passes for seconds; frozen models and field validators keep the checks next
to the fields.  It is well kept (monthly releases, typed, a compiled core)
and the most widely used of the candidates.  jsonschema reports paths too but
would need a second pass for what JSON Schema cannot say (addresses, paths,
the node formats' own rules) with its errors in another shape; voluptuous
stops at the first error of a branch and is little maintained; attrs+cattrs
structures classes well but its error paths need its detailed-validation
mode and extra plumbing for messages.

The models here check one file's document in isolation (types, unknown
keys, addresses, paths, URLs, what each node format accepts); what needs
the files around it (templates, duplicates across entries and files, the
sections allowed once) is the loader's.  pydantic is imported only when a
configuration is loaded: ``import zkservices`` does not need the ``agent``
extra.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Annotated, Any, List, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._formats import resolve_format
from .._znode.connection import split_connection_string
from .._znode.paths import check_path, join, parse_address

__all__ = [
    "AgentFile",
    "ZooKeeperSection",
    "TLSSection",
    "RegisterEntry",
    "CheckEntry",
    "FeedEntry",
    "Validated",
    "validate",
]


def _address(text: str) -> str:
    parse_address(text)
    return text


def _host_address(text: str) -> str:
    host, _ = parse_address(text)
    if not host:
        raise ValueError(f"address {text!r}: a host is needed here")
    return text


def _path(text: str) -> str:
    return check_path(text)


def _connection(text: str) -> str:
    split_connection_string(text)
    return text


def _url(text: str) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _relative(text: str) -> str:
    if not text or text.startswith("/"):
        raise ValueError(f"expected a path relative to each service ('providers', '.'), got {text!r}")
    check_path(join("/service", text))  # what ServerSet will make of it: refuses bad segments
    return text


Address = Annotated[str, AfterValidator(_address)]
HostAddress = Annotated[str, AfterValidator(_host_address)]
ZNodePath = Annotated[str, AfterValidator(_path)]
Text = Annotated[str, AfterValidator(_not_blank)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class TLSSection(_Section):
    """``zookeeper.tls``."""

    ca: Optional[Text] = None
    cert: Optional[Text] = None
    key: Optional[Text] = None

    @model_validator(mode="after")
    def _pair(self) -> "TLSSection":
        if (self.cert is None) != (self.key is None):
            raise ValueError("give cert and key together (or neither)")
        return self


class ZooKeeperSection(_Section):
    """``zookeeper``."""

    connection: Optional[Annotated[str, AfterValidator(_connection)]] = None
    session_timeout: Optional[PositiveSeconds] = None
    resync_jitter: Optional[Seconds] = None
    read_only: Optional[bool] = None
    auth_file: Optional[Text] = None
    tls: Optional[TLSSection] = None


class CheckEntry(_Section):
    """``register[].check``."""

    http: Optional[Annotated[str, AfterValidator(_url)]] = None
    tcp: Optional[HostAddress] = None
    command: Optional[Text] = None
    interval: PositiveSeconds = 2.0
    timeout: PositiveSeconds = 2.0
    rise: Count = 2
    fall: Count = 3

    @model_validator(mode="after")
    def _one_kind(self) -> "CheckEntry":
        given = [k for k in ("http", "tcp", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            said = f" (got {', '.join(given)})" if given else ""
            raise ValueError(f"give exactly one of http, tcp, command{said}")
        return self


class RegisterEntry(_Section):
    """``register[]``."""

    path: ZNodePath
    address: Address
    format: Literal["zkservices", "curator", "serverset"] = "zkservices"
    properties: dict[str, JsonValue] = Field(default_factory=dict)
    check: Optional[CheckEntry] = None

    @field_validator("properties")
    @classmethod
    def _storable(cls, properties: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # What the format will write: refuses host/port properties, NaN, values too large...
        taken = [name for name in ("host", "port") if name in properties]
        if taken:
            verb = "come" if len(taken) > 1 else "comes"
            raise ValueError(f"{' and '.join(taken)} {verb} from address: not a property")
        path, address, format = (info.data.get(k) for k in ("path", "address", "format"))
        if path is not None and address is not None and format is not None:
            host, port = parse_address(address)
            resolve_format(format).node(path, host or "127.0.0.1", port, properties)
        return properties


class FeedEntry(_Section):
    """``feeds[]``."""

    name: Optional[Text] = None
    services: Annotated[List[ZNodePath], Field(min_length=1)]
    providers: Annotated[str, AfterValidator(_relative)] = "providers"
    template: Text
    output: Text
    check_command: Optional[Text] = None
    reload_command: Optional[Text] = None
    reload_interval: Seconds = 0.0
    min_wait: Seconds = 0.2
    max_wait: Optional[Seconds] = None
    min_fraction: Annotated[float, Field(ge=0, le=1)] = 0.5
    snapshot: Optional[Text] = None


class AgentFile(_Section):
    """One configuration file (every section optional): the whole schema, for
    reference; :func:`validate` checks it piece by piece."""

    zookeeper: Optional[ZooKeeperSection] = None
    listen: Optional[Address] = None
    registrations: List[RegisterEntry] = Field(default_factory=list, alias="register")
    feeds: List[FeedEntry] = Field(default_factory=list)


class _TopLevel(_Section):
    zookeeper: Any = None
    listen: Any = None
    registrations: List[Any] = Field(default_factory=list, alias="register")
    feeds: List[Any] = Field(default_factory=list)


@dataclass
class Validated:
    """What :func:`validate` found valid in one file: the sections and the
    entries (with their index) that passed; ``errors`` pydantic's error dicts
    of the rest, their ``loc`` from the top of the file."""

    zookeeper: ZooKeeperSection | None = None
    listen: str | None = None
    registrations: list[tuple[int, RegisterEntry]] = field(default_factory=list)
    feeds: list[tuple[int, FeedEntry]] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)


_LISTEN: TypeAdapter[Optional[str]] = TypeAdapter(Optional[Address], config=ConfigDict(strict=True))


def validate(document: Any) -> Validated:
    """Validate one file's document (its YAML) section by section and entry by
    entry, so that every problem is found and the valid entries are kept for
    the checks across entries and files."""
    result = Validated()

    def attempt(prefix: tuple[Any, ...], check: Any, value: Any) -> Any:
        try:
            return check(value)
        except ValidationError as exc:
            for error in exc.errors():
                result.errors.append({**error, "loc": prefix + tuple(error["loc"])})
            return None

    top = attempt((), _TopLevel.model_validate, document)
    if top is None:  # wrong top-level keys or list types: check what can be checked
        if not isinstance(document, dict):
            return result
        top = _TopLevel.model_construct(
            zookeeper=document.get("zookeeper"),
            listen=document.get("listen"),
            registrations=document.get("register") if isinstance(document.get("register"), list) else [],
            feeds=document.get("feeds") if isinstance(document.get("feeds"), list) else [],
        )
    if top.zookeeper is not None:
        result.zookeeper = attempt(("zookeeper",), ZooKeeperSection.model_validate, top.zookeeper)
    result.listen = attempt(("listen",), _LISTEN.validate_python, top.listen)
    for i, entry in enumerate(top.registrations):
        parsed = attempt(("register", i), RegisterEntry.model_validate, entry)
        if parsed is not None:
            result.registrations.append((i, parsed))
    for i, entry in enumerate(top.feeds):
        parsed = attempt(("feeds", i), FeedEntry.model_validate, entry)
        if parsed is not None:
            result.feeds.append((i, parsed))
    return result
