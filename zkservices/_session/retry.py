"""The one retry policy: which kazoo errors are transient, and how calls wait them out."""

from __future__ import annotations

from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

__all__ = ["RETRYABLE", "TRANSIENT"]

#: Errors a call to ZooKeeper raises while the connection is suspended or the
#: session is being replaced: waited out by the retry policy, never final.
RETRYABLE = (ConnectionLoss, OperationTimeoutError, SessionExpiredError)

#: RETRYABLE plus kazoo's timeout for a connection attempt (a server that is not up yet).
TRANSIENT = RETRYABLE + (KazooTimeoutError,)
