"""``status SERVICE``: one screen about a service -- providers, properties, the providers node's ACL, warnings.

Decisions:

- SERVICE is the service node (symbolic links followed); its providers are
  the children of SERVICE/providers, or of ``--providers REL`` relative to
  it (``.`` for a Curator or ServerSet directory), as for ``feed``.
- Every provider is listed, disabled ones included (``enabled`` says so),
  in every format; the owner is the session holding an ephemeral node
  (``0x...`` as ZooKeeper prints it; none for a persistent node), the age the
  seconds since the node was created.
- Warnings: nodes below the providers node that no provider format can read,
  and a missing providers node (the service has no providers then).
- ``--json`` prints ``{"path", "providers": [{"name", "host", "port",
  "format", "enabled", "owner", "age"}], "properties", "acl", "warnings"}``
  (``acl``: the providers node's entries, ``{"scheme", "id", "perms"}``,
  ``perms`` as ``cdrwa``; ``owner`` null for a persistent node, ``age`` in
  seconds).
- A SERVICE that does not exist is exit 1, the line naming it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from .args import CommandError, add_timeout, command
from .session import connect, friendly

__all__: list[str] = []

#: ZooKeeper's permission bits, in the order zkCli prints their letters.
_PERMS = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", metavar="SERVICE", help="the service node (links followed)")
    parser.add_argument("--providers", metavar="REL", default="providers",
                        help="where the providers are, relative to SERVICE (default 'providers'; "
                             "'.' for a Curator or ServerSet directory)")
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
    add_timeout(parser)


def _perms(bits: int) -> str:
    return "".join(letter for letter, bit in _PERMS if bits & bit)


def _age(seconds: float) -> str:
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def gather(zk: Any, service: str, providers: str) -> dict[str, Any]:
    """The status of ``service`` as ``status --json`` prints it.

    Raises :class:`CommandError` when ``service`` does not exist.
    """
    from kazoo.exceptions import NoNodeError

    from .._formats import read_provider
    from .._znode.paths import check_path, join

    if not providers or providers.startswith("/"):
        raise CommandError(f"--providers must be a path relative to SERVICE, not {providers!r}")
    try:
        real = zk.resolve(service)
        properties = zk.get_properties(real)
    except NoNodeError:
        raise CommandError(f"no such service node: {service}") from None
    providers_path = check_path(join(real, providers))
    warnings: list[str] = []
    entries: list[dict[str, Any]] = []
    acl: list[dict[str, str]] = []
    try:
        names = sorted(zk.client.get_children(providers_path))
        acls, _ = zk.client.get_acls(providers_path)
    except NoNodeError:
        warnings.append(f"{providers_path} does not exist: the service has no providers")
        names = []
        acls = []
    for entry in acls:
        acl.append({"scheme": entry.id.scheme, "id": entry.id.id, "perms": _perms(entry.perms)})
    now = time.time()
    pending = [(name, zk.client.get_async(join(providers_path, name))) for name in names]
    for name, result in pending:
        try:
            data, stat = result.get(timeout=30)
        except NoNodeError:
            continue  # gone meanwhile
        provider = read_provider(name, data)
        if provider is None:
            warnings.append(f"{join(providers_path, name)}: no provider format can read this node")
            continue
        owner = stat.ephemeralOwner
        entries.append({
            "name": name,
            "host": provider.host,
            "port": provider.port,
            "address": provider.address,
            "format": provider.format,
            "enabled": provider.enabled,
            "owner": f"0x{owner:x}" if owner else None,
            "age": round(max(0.0, now - stat.ctime / 1000.0), 1),
            "properties": dict(provider.properties),
        })
    return {
        "path": real,
        "providers_path": providers_path,
        "providers": entries,
        "properties": properties,
        "acl": acl,
        "warnings": warnings,
    }


def _safe(value: Any) -> str:
    """``value`` for a terminal: text from ZooKeeper holding control characters is shown JSON-quoted."""
    text = str(value)
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in text):
        return json.dumps(text)
    return text


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def _text(status: dict[str, Any]) -> str:
    lines = [f"service {status['path']}"]
    properties = status["properties"]
    lines.append(f"properties ({len(properties)}):" if properties else "properties: none")
    for key in sorted(properties):
        lines.append(f"  {_safe(key)} = {json.dumps(properties[key])}")
    providers = status["providers"]
    lines.append(f"providers at {status['providers_path']} ({len(providers)}):" if providers
                 else f"providers at {status['providers_path']}: none")
    if providers:
        rows = [["NAME", "ADDRESS", "FORMAT", "ENABLED", "OWNER", "AGE"]]
        for p in providers:
            rows.append([_safe(p["name"]), _safe(p["address"]), p["format"], "yes" if p["enabled"] else "no",
                         p["owner"] or "(persistent)", _age(p["age"])])
        lines.extend(_table(rows))
    lines.append("acl of the providers node:" if status["acl"] else "acl of the providers node: (none read)")
    for entry in status["acl"]:
        lines.append(f"  {_safe(entry['scheme'])}:{_safe(entry['id'])} {entry['perms']}")
    if status["warnings"]:
        lines.append(f"warnings ({len(status['warnings'])}):")
        lines.extend(f"  {_safe(w)}" for w in status["warnings"])
    return "\n".join(lines)


@command("status", "show a service: its providers (every format), properties, ACL and warnings")(_status_arguments)
@friendly
def status(args: argparse.Namespace) -> int:
    with connect(args) as zk:
        found = gather(zk, args.service, args.providers)
    if args.json:
        shown = {
            "path": found["path"],
            "providers": [{k: p[k] for k in ("name", "host", "port", "format", "enabled", "owner", "age")}
                          for p in found["providers"]],
            "properties": found["properties"],
            "acl": found["acl"],
            "warnings": found["warnings"],
        }
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print(_text(found))
    return 0
