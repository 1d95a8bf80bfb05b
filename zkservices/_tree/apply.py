"""Applying a plan: multi-op transactions sent back to back, then ACL changes.

The plan is cut into transactions of at most :data:`BATCH_OPS` operations
and about :data:`BATCH_BYTES` bytes (well under ZooKeeper's 1 MB request
limit), all committed with ``commit_async`` back to back: ZooKeeper applies
one session's requests in order, so a batch's parents exist when its
children are created.  Each batch is atomic; the whole plan is not.  ACL
changes cannot be part of a ZooKeeper transaction; they are sent after the
transactions, pipelined, each atomic by itself.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

from kazoo.exceptions import ConnectionClosedError, NoAuthError, RolledBackError, RuntimeInconsistency

from .._session.retry import RETRYABLE
from ..errors import NotAuthorized
from .core import SessionCore
from .plan import Change, Op, log_changes
from .read import Progress

__all__ = ["apply_plan", "BATCH_OPS", "BATCH_BYTES"]

log = logging.getLogger("zkservices.tree")

BATCH_OPS = 1000  # operations per transaction at most
BATCH_BYTES = 512 * 1024  # estimated request size per transaction at most


def apply_plan(
    core: SessionCore, plan: list[Op], progress: Progress | None = None
) -> tuple[list[Change], BaseException | None]:
    """Apply ``plan`` on the session's client: transactions sent back to back, then ACL changes.

    :returns: the changes applied, and the first error (None if all went
        well).  A failed batch is rolled back as a whole; later batches may
        still have been applied.  ACL changes are sent only when every batch
        was applied.
    """
    client = core.client
    default_acl = core.default_acl()  # with auth: world-read, all for the identity
    writes = [op for op in plan if op.change.action != "acl"]
    acls = [op for op in plan if op.change.action == "acl"]
    sent = []
    for batch in _batches(writes):
        transaction = client.transaction()
        for op in batch:
            change = op.change
            if change.action == "create":
                transaction.create(change.path, change.data or b"", acl=list(change.acl) if change.acl else default_acl)
            elif change.action == "set":
                transaction.set_data(change.path, change.data or b"", version=op.version)
            else:
                transaction.delete(change.path, version=op.version)
        sent.append((batch, transaction.commit_async()))
    applied: list[Change] = []
    error: BaseException | None = None
    total = len(writes)
    for batch, pending in sent:
        try:
            results = pending.get()
        except (ConnectionClosedError,) + RETRYABLE as exc:
            error = error or exc
            continue
        failure = _batch_failure(batch, results)
        if failure is not None:
            log.info("a batch of %d change(s) was rolled back: %s", len(batch), failure)
            error = error or failure
            continue
        changes = [op.change for op in batch]
        log_changes(changes)
        applied.extend(changes)
        if progress is not None:
            progress("writing", len(applied), total)
    if error is None and acls:
        started = [(op, client.set_acls_async(op.change.path, list(op.change.acl or ()), op.version)) for op in acls]
        for op, pending in started:
            try:
                pending.get()
            except Exception as exc:
                error = error or _annotated(exc, op.change)
                continue
            log_changes([op.change])
            applied.append(op.change)
    return applied, error


def _batches(ops: list[Op]) -> Iterator[list[Op]]:
    batch: list[Op] = []
    size = 0
    for op in ops:
        change = op.change
        cost = 64 + len(change.path.encode("utf-8")) + len(change.data or b"") + 40 * len(change.acl or ())
        if batch and (len(batch) >= BATCH_OPS or size + cost > BATCH_BYTES):
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
