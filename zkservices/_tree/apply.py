"""Applying a plan: multi-op transactions, a few in flight at once, then ACL changes.

:func:`applying` is the step (either driver runs it); :func:`apply_plan` runs it
on the session core, blocking.

The plan is cut into transactions of at most :data:`BATCH_OPS` operations
and about :data:`BATCH_BYTES` bytes (well under ZooKeeper's 1 MB request
limit), committed with ``commit_async``: while the server works on the
batches in flight (at most :data:`BATCHES_IN_FLIGHT`), the next one is
built, and the answers of those done are taken in.  ZooKeeper applies one
session's requests in order, so a batch's parents exist when its children
are created.  Each batch is atomic; the whole plan is not.  Once a batch
failed no further batch is sent (those already in flight may still apply).
ACL changes cannot be part of a ZooKeeper transaction; they are sent after
the transactions, pipelined, each atomic by itself.

Creates go into a transaction as kazoo's own ``Create`` requests, made by
:func:`~zkservices._session.kazoo_internals.add_create` (what
``TransactionRequest.create`` checks -- paths, data, ACLs -- was checked when the
plan was made; where kazoo's request classes are missing, ``create`` itself);
sets and deletes through its methods.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Iterator

from kazoo.exceptions import ConnectionClosedError, NoAuthError, RolledBackError, RuntimeInconsistency
from kazoo.security import ACL, OPEN_ACL_UNSAFE

from .._session.drivers import run
from .._session.kazoo_internals import add_create
from .._session.retry import RETRYABLE
from .._steps.requests import Commit, Send, Step, Wait, set_acls
from ..errors import NotAuthorized
from .core import SessionCore
from .plan import Change, Op, log_changes
from .read import Progress

__all__ = ["apply_plan", "applying", "BATCH_OPS", "BATCH_BYTES", "BATCHES_IN_FLIGHT"]

log = logging.getLogger("zkservices.tree")

BATCH_OPS = 1000  # operations per transaction at most
BATCH_BYTES = 512 * 1024  # estimated request size per transaction at most
BATCHES_IN_FLIGHT = 4  # transactions sent and not yet answered, at most


def apply_plan(
    core: SessionCore, plan: list[Op], progress: Progress | None = None
) -> tuple[list[Change], BaseException | None]:
    """Apply ``plan`` on the session's client, blocking (:func:`applying`)."""
    return run(core, applying(plan, core.default_acl(), progress))


def applying(
    plan: list[Op], default_acl: list[ACL] | None, progress: Progress | None = None
) -> Step[tuple[list[Change], BaseException | None]]:
    """Apply ``plan``: transactions, a few in flight, then ACL changes (a step).

    :param default_acl: the ACL of created nodes without one of their own (the
        session's: with auth, world-read and all for the identity).
    :returns: the changes applied, and the first error (None if all went
        well).  A failed batch is rolled back as a whole; no batch is sent
        after it, but those in flight may still have been applied.  ACL
        changes are sent only when every batch was applied.
    """
    writes = [op for op in plan if op.action != "acl"]
    acls = [op for op in plan if op.action == "acl"]
    applied: list[Change] = []
    error: BaseException | None = None
    total = len(writes)
    in_flight: deque[tuple[list[Op], Any]] = deque()

    def take_oldest() -> Step[None]:
        nonlocal error
        batch, ticket = in_flight.popleft()
        (results,) = yield Wait(ticket)
        if isinstance(results, (ConnectionClosedError,) + RETRYABLE):
            error = error or results
            return
        if isinstance(results, BaseException):
            raise results
        failure = _batch_failure(batch, results)
        if failure is not None:
            log.info("a batch of %d change(s) was rolled back: %s", len(batch), failure)
            error = error or failure
            return
        changes = [op.change for op in batch]
        log_changes(changes)
        applied.extend(changes)
        if progress is not None:
            progress("writing", len(applied), total)

    for batch in _batches(writes):
        while len(in_flight) >= BATCHES_IN_FLIGHT:
            yield from take_oldest()
        if error is not None:
            break
        in_flight.append((batch, (yield Send([Commit(_building(batch, default_acl))]))))
    while in_flight:
        yield from take_oldest()
    if error is None and acls:
        outcomes = yield Wait((yield Send([set_acls(op.path, op.acl or (), op.version) for op in acls])))
        for op, outcome in zip(acls, outcomes):
            if isinstance(outcome, Exception):
                error = error or _annotated(outcome, op.change)
                continue
            log_changes([op.change])
            applied.append(op.change)
    return applied, error


def _building(batch: list[Op], default_acl: list[ACL] | None) -> Any:
    return lambda client: _transaction(client, batch, default_acl)


def _transaction(client: Any, batch: list[Op], default_acl: list[ACL] | None) -> Any:
    """A kazoo transaction holding ``batch`` (not committed yet)."""
    transaction = client.transaction()
    chroot = client.chroot or ""
    prefix = "" if chroot == "/" else chroot  # (kazoo keeps it normalized: no trailing '/')
    # (as TransactionRequest.create does: ours, else the client's default, else open)
    fallback = default_acl if default_acl is not None else (client.default_acl or OPEN_ACL_UNSAFE)
    acl_given: tuple[ACL, ...] | None = None
    acl = fallback
    for op in batch:
        action = op.action
        if action == "create":
            if op.acl is not acl_given:
                acl_given = op.acl
                acl = list(acl_given) if acl_given else fallback
            add_create(transaction, prefix, op.path, op.data or b"", acl)
        elif action == "set":
            transaction.set_data(op.path, op.data or b"", version=op.version)
        else:
            transaction.delete(op.path, version=op.version)
    return transaction


def _batches(ops: list[Op]) -> Iterator[list[Op]]:
    batch: list[Op] = []
    size = 0
    limit = BATCH_OPS
    for op in ops:
        path = op.path
        cost = 64 + (len(path) if path.isascii() else len(path.encode("utf-8"))) + len(op.data or b"")
        if op.acl:
            cost += 40 * len(op.acl)
        if batch and (len(batch) >= limit or size + cost > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(op)
        size += cost
    if batch:
        yield batch


def _batch_failure(batch: list[Op], results: list[Any]) -> BaseException | None:
    """The error that made a transaction fail (with the change it hit), or None."""
    for op, result in zip(batch, results):
        if isinstance(result, Exception) and not isinstance(result, (RolledBackError, RuntimeInconsistency)):
            return _annotated(result, op.change)
    for result in results:
        if isinstance(result, Exception):
            return result
    return None


def _annotated(exc: BaseException, change: Change) -> BaseException:
    """``exc`` (a kazoo error, which carries no text) as the same type saying what failed.

    A refusal for want of rights becomes :class:`~zkservices.NotAuthorized` naming the node.
    """
    if isinstance(exc, NoAuthError) and not isinstance(exc, NotAuthorized):
        return NotAuthorized(change.path, change.action)
    if exc.args:
        return exc
    try:
        return type(exc)(f"{change}: {type(exc).__name__}")
    except Exception:  # pragma: no cover - an exception type with another signature
        return exc
