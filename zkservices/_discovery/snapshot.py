"""Server-set snapshots: the last set published from ZooKeeper, kept in a JSON file.

A :class:`~zkservices.ServerSet` with ``snapshot=FILE`` saves every set it
publishes in full from ZooKeeper and, when ZooKeeper does not answer at start,
serves the saved set until it does.  One file holds many services, keyed by
path: ``{"zkservices_snapshot": 1, "services": {path: entry}}``, each entry
``{"saved": ISO time, "properties": {...}, "providers": {name: data}}``.  The
file is written atomically and meant for one process (threads of it share a
lock per file).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timezone
from typing import Any, Mapping

from .._formats import Provider, provider_from_record, provider_record
from .._os import PathLike, atomic_write

__all__ = ["load_snapshot", "save_snapshot", "snapshot_providers", "snapshot_records", "SNAPSHOT_FORMAT"]

log = logging.getLogger("zkservices.serverset")

#: The version number written into snapshot files.
SNAPSHOT_FORMAT = 1

_locks: dict[str, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock(path: str) -> threading.Lock:
    key = os.path.realpath(path)
    with _locks_lock:
        return _locks.setdefault(key, threading.Lock())


def _read(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError("not a zkservices snapshot (no 'services' object)")
    return data


def load_snapshot(path: PathLike, service_path: str) -> dict | None:
    """The snapshot entry of ``service_path`` in the file at ``path``, or ``None``.

    An entry is ``{"saved": ISO time, "properties": {...}, "providers": {name: data}}``.
    A missing file, a file without this service or an unreadable or malformed
    one gives ``None`` (the last two logged as a WARNING); it never raises.
    """
    path = os.fspath(path)
    try:
        with _lock(path):
            data = _read(path)
    except FileNotFoundError:
        log.info("snapshot %s does not exist yet", path)
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot use snapshot %s: %s", path, exc)
        return None
    entry = data["services"].get(service_path)
    if not isinstance(entry, dict):
        log.info("snapshot %s has no entry for %s", path, service_path)
        return None
    properties = entry.get("properties")
    providers = entry.get("providers")
    if not isinstance(properties, dict) or not isinstance(providers, dict) or not all(
        isinstance(v, dict) for v in providers.values()
    ):
        log.warning("cannot use snapshot %s: malformed entry for %s", path, service_path)
        return None
    return {"saved": entry.get("saved"), "properties": properties, "providers": providers}


def save_snapshot(
    path: PathLike,
    service_path: str,
    properties: Mapping[str, Any],
    providers: Mapping[str, Mapping[str, Any]],
) -> None:
    """Store ``service_path``'s set in the snapshot file at ``path`` (atomically; other services kept).

    An unreadable file is started afresh (with a WARNING).  Raises
    :class:`OSError` when the file cannot be written and :class:`TypeError`
    for data JSON cannot hold.
    """
    path = os.fspath(path)
    with _lock(path):
        try:
            data = _read(path)
        except FileNotFoundError:
            data = {"services": {}}
        except (OSError, ValueError) as exc:
            log.warning("snapshot %s is unreadable (%s); starting it afresh", path, exc)
            data = {"services": {}}
        data["zkservices_snapshot"] = SNAPSHOT_FORMAT
        data["services"][service_path] = {
            "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "properties": dict(properties),
            "providers": {name: dict(value) for name, value in providers.items()},
        }
        atomic_write(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def snapshot_records(providers: Mapping[str, Provider]) -> dict[str, dict[str, Any]]:
    """Providers as a snapshot keeps them: name → a flat mapping of ``host``, ``port``
    and the provider's properties (what feed templates see of it)."""
    return {name: provider_record(provider) for name, provider in providers.items()}


def snapshot_providers(entry: dict | None) -> dict | None:
    """A snapshot entry (:func:`load_snapshot`) with its providers read back as
    :class:`~zkservices.Provider` records (``None`` for ``None``); a record without a
    usable host and port is left out, with a WARNING."""
    if entry is None:
        return None
    providers = {}
    for name, record in entry["providers"].items():
        provider = provider_from_record(name, record)
        if provider is None:
            log.warning("snapshot: provider %s has no usable host and port; left out", name)
        else:
            providers[name] = provider
    return {**entry, "providers": providers}
