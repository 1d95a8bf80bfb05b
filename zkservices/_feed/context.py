"""The template context of a feed: services, their properties and their providers.

``{"services": [...]}``, one entry per service in the order given, each with
``path`` (the service node), ``name`` (its last path segment), ``properties`` and
``providers`` (sorted by name, each with ``name``, ``host``, ``port``, ``address``
and ``properties``: the provider node's data, or for a
:class:`~zkservices.Provider` its properties with ``host`` and ``port``).  Pure
functions, no ZooKeeper.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

from .._formats import Provider, provider_record
from .._znode.paths import format_address, parse_address

__all__ = ["build_context", "service_entry", "provider_entry", "describe_changes"]

Providers = Union[Mapping[str, "Provider | Mapping[str, Any] | None"], Sequence[Mapping[str, Any]], None]


def _port(value: Any) -> Any:
    """An integer port from an int, a string of digits or a whole float; anything else as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def provider_entry(
    name: str, data: Provider | Mapping[str, Any] | None, *, with_format: bool = False
) -> dict[str, Any]:
    """The template entry of one provider node: ``name``, ``host``, ``port``, ``address``, ``properties``.

    :param name: the node's name, normally ``host:port`` or ``[v6addr]:port``.
    :param data: the node's data (a mapping, or ``None`` for none), or the
        :class:`~zkservices.Provider` read from it (its properties with its
        ``host`` and ``port``, in whichever format it was registered).

    ``host`` and ``port`` come from the data's ``host``/``port`` keys when
    present, else from the name (a name that is no address gives the whole
    name as ``host`` and ``None`` as ``port``).  ``address`` is ``host:port``
    ready for configuration files, with brackets around an IPv6 host
    (``[::1]:8080``); ``properties`` is the node's data (a dict).  With
    ``with_format`` (a feed's context), the entry also has ``format`` (the
    Provider's; ``zkservices`` for node data, that format's) and ``enabled``.
    """
    properties = provider_record(data) if isinstance(data, Provider) else dict(data or {})
    host: str | None
    port: Any
    try:
        host, port = parse_address(name)
    except ValueError:
        host, port = name, None
    if properties.get("host") not in (None, ""):
        host = str(properties["host"])
    if properties.get("port") not in (None, ""):
        port = _port(properties["port"])
    if not host:
        address = name
    elif port is None:
        address = f"[{host}]" if ":" in host and not host.startswith("[") else host
    else:
        address = format_address(host, port)
    entry = {"name": name, "host": host, "port": port, "address": address, "properties": properties}
    if with_format:
        entry["format"] = data.format if isinstance(data, Provider) else "zkservices"
        entry["enabled"] = data.enabled if isinstance(data, Provider) else True
    return entry


def service_entry(
    path: str, properties: Mapping[str, Any] | None = None, providers: Providers = None, *, with_format: bool = False
) -> dict[str, Any]:
    """The template entry of one service: ``path``, ``name``, ``properties``, ``providers``.

    :param path: the service node's path; ``name`` is its last segment.
    :param properties: the service node's properties.
    :param providers: a mapping of provider node name → node data or
        :class:`~zkservices.Provider` (turned into :func:`provider_entry` dicts) or
        a list of such entries; either way they come out sorted by name.
    :param with_format: entries made from the mapping have ``format`` and
        ``enabled`` too (see :func:`provider_entry`).
    """
    if providers is None:
        entries: list[dict[str, Any]] = []
    elif isinstance(providers, Mapping):
        entries = [provider_entry(name, data, with_format=with_format) for name, data in providers.items()]
    else:
        entries = [dict(p) for p in providers]
    entries.sort(key=lambda p: str(p.get("name", "")))
    stripped = path.rstrip("/")
    return {
        "path": path,
        "name": stripped.rsplit("/", 1)[-1] if stripped else "",
        "properties": dict(properties or {}),
        "providers": entries,
    }


def build_context(services: Sequence[Mapping[str, Any]], *, with_format: bool = False) -> dict[str, Any]:
    """The template context ``{"services": [...]}``, in the given order.

    :param services: mappings with at least ``path`` and optionally
        ``properties``, ``providers`` (see :func:`service_entry`) and ``name``
        (filled in from the path when missing); other keys (``stale``…) are
        copied into the entry.
    :param with_format: each provider entry has ``format`` and ``enabled``
        too (a feed's context; see :func:`provider_entry`).

    Raises :class:`KeyError` for a service without ``path``.
    """
    result = []
    for service in services:
        entry = service_entry(
            service["path"], service.get("properties"), service.get("providers"), with_format=with_format
        )
        if service.get("name") is not None:
            entry["name"] = service["name"]
        for key, value in service.items():
            entry.setdefault(key, value)
        result.append(entry)
    return {"services": result}


def _names(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _entries(value: Any) -> list[Mapping[str, Any]]:
    """The mappings in a list (services, providers); nothing from anything else."""
    if not isinstance(value, (list, tuple)):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def describe_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """What changed from one template context to the next, in a line for the log.

    Providers added, removed or changed by name, service properties added,
    removed or changed by name, services appearing, going and turning stale
    or current: ``"/svc: +10.0.0.2:80, -10.0.0.1:80, properties changed: balance"``.
    ``before`` is ``None`` for the first rendering (then each service's
    providers are listed).  Contexts without services give ``""``; what is not
    shaped like a feed's context (a provider that is not a mapping...) is left out
    of the description, never an error (a :class:`FileFeed` takes any context).
    """
    old = {s.get("path"): s for s in _entries((before or {}).get("services"))}
    parts: list[str] = []
    for service in _entries(after.get("services")):
        path = service.get("path")
        providers = {p.get("name"): p for p in _entries(service.get("providers"))}
        previous = old.pop(path, None)
        if previous is None:
            names = sorted(str(n) for n in providers)
            listed = f": {_names(names)}" if names else ""
            parts.append(f"{path}: {len(names)} provider(s){listed}" + (" (stale)" if service.get("stale") else ""))
            continue
        was = {p.get("name"): p for p in _entries(previous.get("providers"))}
        changes = []
        added = sorted(str(n) for n in providers if n not in was)
        removed = sorted(str(n) for n in was if n not in providers)
        changed = sorted(str(n) for n in providers if n in was and providers[n] != was[n])
        if added:
            changes.append("added " + _names(added))
        if removed:
            changes.append("removed " + _names(removed))
        if changed:
            changes.append("changed " + _names(changed))
        props, old_props = _mapping(service.get("properties")), _mapping(previous.get("properties"))
        for what, keys in (
            ("properties added", [k for k in props if k not in old_props]),
            ("properties removed", [k for k in old_props if k not in props]),
            ("properties changed", [k for k in props if k in old_props and props[k] != old_props[k]]),
        ):
            if keys:
                changes.append(f"{what}: {_names(sorted(str(k) for k in keys))}")
        if bool(service.get("stale")) != bool(previous.get("stale")):
            changes.append("now stale" if service.get("stale") else "now current")
        if changes:
            parts.append(f"{path}: {', '.join(changes)}")
    for path in old:
        parts.append(f"{path}: no longer in the feed")
    return "; ".join(parts)
