"""The exception tree of zkservices, documented in one place.

Every exception zkservices raises on purpose derives from :class:`ZkServicesError`.
Errors about bad input additionally derive from :class:`ValueError` so that
callers who only care about "the input was wrong" can catch that.

- ``ZkServicesError``
  - ``FailedConnect`` -- no server answered within the connect timeout.
  - ``LinkLoop`` (also ``ValueError``) -- symbolic or property links form a loop.
  - ``BadPropertyLink`` (also ``ValueError``) -- a property link is malformed or dangles.
  - ``TreeError`` (also ``ValueError``) -- a tree file is malformed; names file and line.
  - ``NodeDeleted`` -- a view's node was deleted and the operation needs it.
  - ``ValueTooLarge`` (also ``ValueError``) -- encoded data exceeds ZooKeeper's limit.
  - ``InvalidPath`` (also ``ValueError``) -- a path ZooKeeper would reject.
  - ``FeedError`` (in ``_feed``) -- a feed could not render or start.
  - ``FeedTemplateError`` (also ``ValueError``, in ``_feed_render``) -- a template
    is broken or uses an undefined name; names template and line.
  - ``testing.ServerError``, ``testing.FaultError`` -- a test server or fault failed.
- ``CancelWatch`` -- raised by a callback to remove itself quietly (not an error).
"""

from __future__ import annotations

__all__ = [
    "ZkServicesError",
    "FailedConnect",
    "LinkLoop",
    "BadPropertyLink",
    "TreeError",
    "NodeDeleted",
    "ValueTooLarge",
    "InvalidPath",
    "CancelWatch",
]


class ZkServicesError(Exception):
    """Base class of every error zkservices raises on purpose."""


class FailedConnect(ZkServicesError):
    """No ZooKeeper server answered within the connect timeout."""


class LinkLoop(ZkServicesError, ValueError):
    """Symbolic links or property links refer to each other in a loop."""


class BadPropertyLink(ZkServicesError, ValueError):
    """A property link (``'name =>'``) is empty, malformed or names nothing."""


class TreeError(ZkServicesError, ValueError):
    """A tree file (text or YAML) cannot be used; the message names file and line.

    ``filename`` and ``lineno`` are also available as attributes (``None`` when
    unknown), and ``reason`` holds the message without the location.
    """

    def __init__(self, reason: str, *, filename: str | None = None, lineno: int | None = None):
        self.reason = reason
        self.filename = filename
        self.lineno = lineno
        where = filename or "<string>"
        if lineno is not None:
            where = f"{where}, line {lineno}"
        super().__init__(f"{where}: {reason}")


class NodeDeleted(ZkServicesError):
    """The node behind a view was deleted; the view cannot be updated."""


class ValueTooLarge(ZkServicesError, ValueError):
    """Encoded node data would exceed ZooKeeper's node size limit."""


class InvalidPath(ZkServicesError, ValueError):
    """A path ZooKeeper would reject (relative, empty segment, reserved name...)."""


class CancelWatch(Exception):
    """Raise from a callback to unregister it without logging an error."""
