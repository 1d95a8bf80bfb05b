"""Loading an agent configuration: one YAML file, or a directory of them merged, checked as a whole.

:func:`load_agent_config` reads the file (or the directory's ``*.yaml`` files
in name order), validates each file's document against the schema, builds
the immutable records of :mod:`.config` and checks what spans entries and
files.  Every problem is collected -- YAML syntax (with its line), unknown
keys, wrong types, bad addresses and paths, unreadable or broken templates,
unreadable auth and certificate files, duplicate registrations, feed names
and outputs, a ``zookeeper`` or ``listen`` section in two files -- and
raised together as one :class:`~zkservices.AgentConfigError`.

Relative file names in a file (templates, outputs, snapshots, the auth file,
certificates) are relative to the directory of the file that names them.
A template is a shipped one (``haproxy``, ``nginx``, ``prometheus``,
``json``) when no file of that name exists there.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from typing import Any, Iterable

import yaml

from .._feed.render import SHIPPED_TEMPLATES, compile_template, shipped_template
from .._os import PathLike
from .._znode.paths import parse_address
from ..errors import AgentConfigError, ConfigProblem, FeedTemplateError
from .config import AgentConfig, CheckConfig, FeedConfig, RegisterConfig, TLSConfig, ZooKeeperConfig

__all__ = ["load_agent_config", "config_files"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

#: What pydantic puts in an error's location for the member of a union (JSON values).
_UNION_TAGS = frozenset({"list", "dict", "str", "int", "float", "bool"})


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys (a second ``register:`` would
    silently replace the first)."""


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the constructor below says so
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {first.line + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def config_files(path: PathLike) -> list[str]:
    """The files a configuration ``path`` stands for: itself, or a directory's
    ``*.yaml`` files (not hidden ones) in name order.

    :raises AgentConfigError: ``path`` is missing, unreadable or a directory without ``*.yaml`` files.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        try:
            entries = sorted(os.listdir(name))
        except OSError as exc:
            raise AgentConfigError([ConfigProblem(name, "", f"cannot read the directory: {exc.strerror or exc}")]) from None
        files = [os.path.join(name, e) for e in entries if e.endswith(".yaml") and not e.startswith(".")]
        files = [f for f in files if os.path.isfile(f)]
        if not files:
            raise AgentConfigError([ConfigProblem(name, "", "the directory holds no *.yaml file")])
        return files
    if not os.path.exists(name):
        raise AgentConfigError([ConfigProblem(name, "", "no such file or directory")])
    return [name]


def _read_document(file: str, problems: list[ConfigProblem]) -> Any:
    try:
        with open(file, "rb") as f:
            raw = f.read()
    except OSError as exc:
        problems.append(ConfigProblem(file, "", f"cannot read it: {exc.strerror or exc}"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(ConfigProblem(file, "", f"not UTF-8 text (byte {exc.start})"))
        return None
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = ": ".join(part for part in (exc.context, exc.problem) if part) or "YAML syntax error"
        problems.append(ConfigProblem(file, where, f"YAML: {what}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(file, "", f"YAML: {exc}"))
        return None
    if document is None:  # an empty file (or only comments): nothing to add
        return {}
    if not isinstance(document, dict):
        problems.append(ConfigProblem(file, "", f"expected a mapping of sections at the top, got {_shown(document)}"))
        return None
    return document


# -- pydantic's errors as the reference writes them ------------------------


def _location(loc: Iterable[Any], document: Any) -> str:
    """pydantic's ``loc`` as a key path (``register[1].check.http``), walking ``document``
    alongside to tell keys from the tags pydantic adds for unions (``list``, ``dict``...)."""
    text = ""
    here: Any = document
    parts = list(loc)
    for i, part in enumerate(parts):
        if part == "[key]":
            continue
        if isinstance(here, dict) and part in here:
            here = here[part]
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            here = here[part]
        elif part in _UNION_TAGS and i + 1 < len(parts) and isinstance(here, (list, dict)):
            continue  # a union member's tag, not a key
        else:
            here = None
        if isinstance(part, int) and text:
            text += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.match(part):
            text += ("." if text else "") + part
        else:
            text += f"[{json.dumps(part) if isinstance(part, str) else part}]" if text else str(part)
    return text


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "...'"


_WANTED = {
    "string_type": "should be text",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "finite_number": "should be a finite number",
    "int_type": "should be a whole number",
    "int_from_float": "should be a whole number",
    "bool_type": "should be true or false",
    "list_type": "should be a list",
    "dict_type": "should be a mapping",
    "model_type": "should be a mapping",
    "model_attributes_type": "should be a mapping",
    "dataclass_type": "should be a mapping",
    "invalid_key": "keys should be text",
    "missing": "required, but missing",
    "too_short": "should list at least one",
    "invalid-json-value": "should be text, a number, true, false, null, a list or a mapping",
}


def _known_keys() -> list[str]:
    from . import schema

    names: set[str] = set()
    for model in (schema.AgentFile, schema.ZooKeeperSection, schema.TLSSection, schema.RegisterEntry,
                  schema.CheckEntry, schema.FeedEntry):
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return sorted(names)


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, _known_keys(), n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return _WANTED[kind]
    if kind == "string_type" and tuple(error["loc"])[-1:] == ("[key]",):
        kind = "invalid_key"
    if kind == "literal_error":
        return f"should be one of {error['ctx']['expected']} (got {_shown(value)})"
    wanted = _WANTED.get(kind)
    if wanted is None:
        text = str(error["msg"])
        wanted = "should" + text[len("Input should"):] if text.startswith("Input should") else text
    return f"{wanted} (got {_shown(value)})"


# -- records ----------------------------------------------------------------


def _absolute(base: str, name: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(name)))


def _readable(file: str, where: str, name: str, problems: list[ConfigProblem]) -> None:
    if os.path.isdir(name):
        problems.append(ConfigProblem(file, where, f"{name} is a directory"))
    elif not os.access(name, os.R_OK):
        reason = "no such file" if not os.path.exists(name) else "not readable"
        problems.append(ConfigProblem(file, where, f"cannot read {name}: {reason}"))


def _parent_exists(file: str, where: str, name: str, problems: list[ConfigProblem]) -> None:
    if os.path.isdir(name):
        problems.append(ConfigProblem(file, where, f"{name} is a directory"))
    elif not os.path.isdir(os.path.dirname(name) or "."):
        problems.append(ConfigProblem(file, where, f"the directory of {name} does not exist"))


def _template(file: str, where: str, written: str, base: str, problems: list[ConfigProblem]) -> tuple[str, str | None]:
    candidate = _absolute(base, written)
    if written in SHIPPED_TEMPLATES and not os.path.exists(candidate):
        text, name, source = shipped_template(written), written, None
    else:
        try:
            with open(candidate, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            problems.append(ConfigProblem(file, where, f"cannot read template {candidate}: {exc.strerror or exc}"))
            return "", candidate
        except UnicodeDecodeError as exc:
            problems.append(ConfigProblem(file, where, f"template {candidate} is not UTF-8 text ({exc.reason})"))
            return "", candidate
        name = source = candidate
    try:
        compile_template(text, name)
    except FeedTemplateError as exc:
        problems.append(ConfigProblem(file, where, f"template error: {exc}"))
    except ImportError as exc:
        problems.append(ConfigProblem(file, where, f"cannot check the template: {exc}"))
    return text, source


def _zookeeper(file: str, section: Any, base: str, problems: list[ConfigProblem]) -> ZooKeeperConfig:
    auth_file = None
    if section.auth_file is not None:
        auth_file = _absolute(base, section.auth_file)
        _readable(file, "zookeeper.auth_file", auth_file, problems)
    tls = None
    if section.tls is not None:
        files = {}
        for what in ("ca", "cert", "key"):
            value = getattr(section.tls, what)
            if value is not None:
                value = _absolute(base, value)
                _readable(file, f"zookeeper.tls.{what}", value, problems)
            files[what] = value
        tls = TLSConfig(**files)
    return ZooKeeperConfig(section.connection, section.session_timeout, auth_file, tls, file,
                           resync_jitter=section.resync_jitter, read_only=section.read_only)


def _registration(file: str, entry: Any) -> RegisterConfig:
    host, port = parse_address(entry.address)
    check = None
    if entry.check is not None:
        c = entry.check
        check = CheckConfig(c.http, c.tcp, c.command, c.interval, c.timeout, c.rise, c.fall)
    return RegisterConfig(entry.path, entry.address, host, port, entry.format, entry.properties, check, file)


def _feed(file: str, index: int, entry: Any, base: str, problems: list[ConfigProblem]) -> FeedConfig:
    where = f"feeds[{index}]"
    output = _absolute(base, entry.output)
    _parent_exists(file, f"{where}.output", output, problems)
    snapshot = None
    if entry.snapshot is not None:
        snapshot = _absolute(base, entry.snapshot)
        _parent_exists(file, f"{where}.snapshot", snapshot, problems)
    text, source = _template(file, f"{where}.template", entry.template, base, problems)
    return FeedConfig(
        name=entry.name if entry.name is not None else os.path.basename(output),
        services=tuple(entry.services),
        template=entry.template,
        output=output,
        template_text=text,
        template_file=source,
        providers=entry.providers,
        check_command=entry.check_command,
        reload_command=entry.reload_command,
        reload_interval=entry.reload_interval,
        min_wait=entry.min_wait,
        max_wait=entry.max_wait,
        min_fraction=entry.min_fraction,
        snapshot=snapshot,
        file=file,
    )


def _cross_checks(
    registrations: list[tuple[str, int, RegisterConfig]],
    feeds: list[tuple[str, int, FeedConfig, bool]],
    problems: list[ConfigProblem],
) -> None:
    seen: dict[tuple[str, str, int], tuple[str, int]] = {}
    for file, index, entry in registrations:
        first = seen.setdefault(entry.key, (file, index))
        if first != (file, index):
            where = f"register[{first[1]}]" + (f" in {first[0]}" if first[0] != file else "")
            problems.append(ConfigProblem(file, f"register[{index}]",
                                          f"registers {entry.address} at {entry.path} again (as {where} does)"))
    names: dict[str, tuple[str, int]] = {}
    outputs: dict[str, tuple[str, int]] = {}
    for file, index, feed, named in feeds:
        for table, value, key, what in ((names, feed.name, "name" if named else "output", "name"),
                                        (outputs, feed.output, "output", "output")):
            first = table.setdefault(value, (file, index))
            if first != (file, index):
                where = f"feeds[{first[1]}]" + (f" in {first[0]}" if first[0] != file else "")
                detail = " (the output file's name: give the feed a name)" if what == "name" and not named else ""
                problems.append(ConfigProblem(file, f"feeds[{index}].{key}",
                                              f"feed {what} {value!r}{detail} is also {where}'s"))


def load_agent_config(path: PathLike) -> AgentConfig:
    """Read and check the agent configuration at ``path``: a YAML file, or a
    directory whose ``*.yaml`` files are read in name order and merged.

    ``zookeeper`` and ``listen`` may appear in one file only; the ``register``
    and ``feeds`` lists are concatenated in file order.  Relative file names
    are relative to the directory of the file naming them.  Needs the
    ``agent`` extra (``pip install zkservices[agent]``).

    :raises AgentConfigError: with every problem found (``problems``; the
        message has one line per problem: file, key path, what is wrong).
    :raises ImportError: the validation library is not installed.
    """
    try:
        from .schema import validate
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the agent configuration needs pydantic: pip install zkservices[agent]") from exc

    files = config_files(path)
    problems: list[ConfigProblem] = []
    zookeeper: tuple[str, ZooKeeperConfig] | None = None
    listen: tuple[str, str] | None = None
    registrations: list[tuple[str, int, RegisterConfig]] = []
    feeds: list[tuple[str, int, FeedConfig, bool]] = []
    for file in files:
        document = _read_document(file, problems)
        if document is None:
            continue
        parsed = validate(document)
        for error in parsed.errors:
            problems.append(ConfigProblem(file, _location(error["loc"], document), _message(error)))
        base = os.path.dirname(os.path.abspath(file))
        if document.get("zookeeper") is not None:
            if zookeeper is not None:
                problems.append(ConfigProblem(file, "zookeeper", f"also in {zookeeper[0]}: give it in one file only"))
            elif parsed.zookeeper is not None:
                zookeeper = (file, _zookeeper(file, parsed.zookeeper, base, problems))
            else:
                zookeeper = (file, ZooKeeperConfig(file=file))
        if document.get("listen") is not None:
            if listen is not None:
                problems.append(ConfigProblem(file, "listen", f"also in {listen[0]}: give it in one file only"))
            else:
                listen = (file, parsed.listen or "")
        registrations.extend((file, i, _registration(file, e)) for i, e in parsed.registrations)
        feeds.extend((file, i, _feed(file, i, e, base, problems), e.name is not None) for i, e in parsed.feeds)
    _cross_checks(registrations, feeds, problems)
    if problems:
        raise AgentConfigError(problems)
    return AgentConfig(
        zookeeper=zookeeper[1] if zookeeper else ZooKeeperConfig(),
        listen=listen[1] if listen else None,
        register=tuple(r for _, _, r in registrations),
        feeds=tuple(f for _, _, f, _ in feeds),
        files=tuple(files),
    )
