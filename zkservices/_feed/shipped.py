"""What the shipped ``prometheus`` and ``json`` templates render: the data, built in Python, dumped as JSON.

Provider data comes from ZooKeeper and whoever can write a provider node
chooses it, so these templates never paste values into JSON text: the
filters here build plain lists and dicts from the template context and the
``json`` filter dumps them with :func:`json.dumps` (every string escaped,
non-ASCII and the line separators as ``\\u`` escapes, no NaN).

- :func:`file_sd` (filter ``file_sd``): Prometheus ``file_sd`` target groups,
  one per service: ``targets`` the ``host:port`` of its providers (a feed
  holds the enabled ones only), ``labels`` ``service`` (the service node's
  path) and each string or number property that every provider of the group
  has with the same value (a label belongs to the whole group), under a
  valid label name (:func:`label_name`), its value as a string.
- :func:`provider_list` (filter ``provider_list``): one entry per provider,
  with ``service``, ``name``, ``host``, ``port``, ``format``, ``enabled`` and
  ``properties`` (the node's properties without ``host`` and ``port``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

__all__ = ["file_sd", "provider_list", "label_name", "to_json", "SERVICE_LABEL", "NOT_LABELS"]

#: The label naming a target group's service node.
SERVICE_LABEL = "service"

#: Provider properties never made labels: where it serves (already the target)
#: and the registering process's id (it changes with every restart).
NOT_LABELS = frozenset({"host", "port", "pid"})

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def label_name(name: str) -> str | None:
    """``name`` made a valid Prometheus label name, or ``None`` when nothing is left.

    Characters other than ``[A-Za-z0-9_]`` become ``_``, a leading digit gets
    a ``_`` in front, and leading underscores are cut to one: names starting
    with ``__`` are Prometheus's own (``__address__`` would redirect the scrape).
    """
    text = _INVALID.sub("_", name)
    if text[:1].isdigit():
        text = "_" + text
    if text.startswith("__"):
        text = "_" + text.lstrip("_")
    return text if text.strip("_") else None


def _label_value(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), float("-inf")) else None
    return str(value)


def _properties(provider: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(provider.get("properties") or {}).items() if k not in ("host", "port")}


def file_sd(services: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Prometheus ``file_sd`` target groups for the template context's ``services`` (see the module)."""
    groups = []
    for service in services:
        providers = [p for p in service.get("providers", ()) if p.get("enabled", True)]
        labels = {SERVICE_LABEL: str(service.get("path", ""))}
        shared: dict[str, str] | None = None
        for provider in providers:
            values = {}
            for key, value in _properties(provider).items():
                text = _label_value(value)
                if isinstance(key, str) and key not in NOT_LABELS and text is not None:
                    values[key] = text
            shared = values if shared is None else {k: v for k, v in shared.items() if values.get(k) == v}
        for key in sorted(shared or {}):
            name = label_name(key)
            if name is not None and name not in labels:
                labels[name] = (shared or {})[key]
        groups.append({"targets": [str(p.get("address")) for p in providers], "labels": labels})
    return groups


def provider_list(services: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per provider of the template context's ``services`` (see the module)."""
    return [
        {
            "service": service.get("path"),
            "name": provider.get("name"),
            "host": provider.get("host"),
            "port": provider.get("port"),
            "format": provider.get("format", "zkservices"),
            "enabled": bool(provider.get("enabled", True)),
            "properties": _properties(provider),
        }
        for service in services
        for provider in service.get("providers", ())
    ]


def to_json(value: Any, indent: int | None = 2) -> str:
    """``value`` as JSON text (filter ``json``): every string escaped, ASCII only, no NaN."""
    return json.dumps(value, indent=indent, ensure_ascii=True, allow_nan=False)
