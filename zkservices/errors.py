"""Every exception zkservices raises, documented in one place.

Every exception zkservices raises on purpose derives from :class:`ZkServicesError`.
Errors about bad input also derive from :class:`ValueError`; errors that stand for
one of kazoo's (a missing node, a closed session) also derive from that kazoo
exception, so zc.zk-style ``except NoNodeError`` keeps working.

- ``ZkServicesError``
  - ``FailedConnect`` -- no server answered within the connect timeout.
  - ``SessionClosed`` (also kazoo's ``ConnectionClosedError``) -- the helper was closed
    while a call waited for ZooKeeper.
  - ``NoNode`` (also kazoo's ``NoNodeError``) -- a node that zkservices needs is missing;
    ``path`` names it.
  - ``NotAuthorized`` (also kazoo's ``NoAuthError``) -- ZooKeeper refused a write (or read)
    for want of rights; ``path`` names the node, ``action`` what was refused.
  - ``LinkLoop`` (also ``ValueError``) -- symbolic or property links form a loop.
  - ``BadPropertyLink`` (also ``ValueError``) -- a property link is malformed or dangles.
  - ``TreeError`` (also ``ValueError``) -- a tree file is malformed; names file and line.
  - ``NodeDeleted`` -- a view's node was deleted and the operation needs it.
  - ``ValueTooLarge`` (also ``ValueError``) -- encoded data exceeds ZooKeeper's limit.
  - ``InvalidPath`` (also ``ValueError``) -- a path ZooKeeper would reject.
  - ``FeedError`` -- a feed could not render, write, check or reload its file.
  - ``FeedTemplateError`` (also ``ValueError``) -- a template is broken or uses an
    undefined name; names template and line.
  - ``NoProvider`` -- a selector has no enabled provider that is not down; ``path``
    names the service.
  - ``AgentConfigError`` (also ``ValueError``) -- an agent configuration is invalid;
    ``problems`` holds every problem found (:class:`ConfigProblem`: file, key path, what).
- ``CancelWatch`` -- raised by a callback to remove itself quietly (not an error).

The test harness's errors derive from ``ZkServicesError`` too but are
:mod:`zkservices.testing`'s public names (defined here, outside this module's
``__all__``, so the tree has one root):

  - ``ServerError`` -- a test server could not be found, started or reached.
  - ``FaultError`` -- a fault could not be injected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kazoo.exceptions import ConnectionClosedError, NoAuthError, NoNodeError

__all__ = [
    "ZkServicesError",
    "FailedConnect",
    "SessionClosed",
    "NoNode",
    "NotAuthorized",
    "LinkLoop",
    "BadPropertyLink",
    "TreeError",
    "NodeDeleted",
    "ValueTooLarge",
    "InvalidPath",
    "FeedError",
    "FeedTemplateError",
    "NoProvider",
    "AgentConfigError",
    "ConfigProblem",
    "CancelWatch",
]


class ZkServicesError(Exception):
    """Base class of every error zkservices raises on purpose."""


class FailedConnect(ZkServicesError):
    """No ZooKeeper server answered within the connect timeout."""


class SessionClosed(ZkServicesError, ConnectionClosedError):
    """The :class:`~zkservices.ZooKeeper` helper was closed while the call waited."""


class NoNode(ZkServicesError, NoNodeError):
    """A node zkservices needs does not exist; ``path`` names it (``None`` when unknown).

    Like kazoo's NoNodeError, its message is the path alone (``"no such node"`` without one).
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        super().__init__(path or "no such node")


class NotAuthorized(ZkServicesError, NoAuthError):
    """ZooKeeper refused an operation on ``path`` for want of rights (its ACL).

    The message reads ``"<action> <path>: not authorized"``.
    """

    def __init__(self, path: str, action: str = "write") -> None:
        self.path = path
        self.action = action
        super().__init__(f"{action} {path}: not authorized")


class LinkLoop(ZkServicesError, ValueError):
    """Symbolic links or property links refer to each other in a loop."""


class BadPropertyLink(ZkServicesError, ValueError):
    """A property link (``'name =>'``) is empty, malformed or names nothing."""


class TreeError(ZkServicesError, ValueError):
    """A tree file (text or YAML) cannot be used; the message names file and line.

    ``filename`` and ``lineno`` are also available as attributes (``None`` when
    unknown), and ``reason`` holds the message without the location.
    """

    def __init__(self, reason: str, *, filename: str | None = None, lineno: int | None = None) -> None:
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


class FeedError(ZkServicesError):
    """A feed could not produce its file: no data, a template, check, write or
    reload failure.  The message says which."""


_NO_VALUE: object = object()


class FeedTemplateError(ZkServicesError, ValueError):
    """A feed template cannot be compiled or rendered.

    The message names the template and, when known, the line:
    ``"nginx.conf.j2, line 3: 'weight' is undefined"``.  ``template_name``,
    ``lineno`` (or ``None``) and ``reason`` are attributes too; when the
    ``token`` filter refused a value, ``refused`` is true and ``value`` holds it.
    """

    def __init__(
        self, reason: str, *, template_name: str, lineno: int | None = None, value: object = _NO_VALUE
    ) -> None:
        self.reason = reason
        self.template_name = template_name
        self.lineno = lineno
        self.refused = value is not _NO_VALUE
        self.value = None if value is _NO_VALUE else value
        where = template_name if lineno is None else f"{template_name}, line {lineno}"
        super().__init__(f"{where}: {reason}")


class ServerError(ZkServicesError):
    """A ZooKeeper test server could not be found, started or reached
    (public as :class:`zkservices.testing.ServerError`)."""


class FaultError(ZkServicesError):
    """A fault could not be injected or the client did not react as expected
    (public as :class:`zkservices.testing.FaultError`)."""


class NoProvider(ZkServicesError):
    """A selector found no provider to give: none registered, all disabled or down.

    ``path`` names the service; ``known``, ``disabled`` and ``down`` count the
    providers of the view and why they were not given.
    """

    def __init__(self, path: str, *, known: int = 0, disabled: int = 0, down: int = 0) -> None:
        self.path = path
        self.known = known
        self.disabled = disabled
        self.down = down
        if not known:
            why = "no providers registered"
        else:
            why = f"{known} provider(s): {disabled} disabled, {down} down"
        super().__init__(f"{path}: no provider available ({why})")


@dataclass(frozen=True)
class ConfigProblem:
    """One problem of an agent configuration: where it is and what is wrong.

    ``file`` names the file (``""`` when the problem is not in one file),
    ``location`` the key path in it as the configuration reference writes it
    (``register[1].check.http``, ``feeds[0].template``, ``bogus_key``; ``line 3,
    column 5`` for a YAML syntax error; ``""`` for the whole file) and
    ``message`` what is wrong.  ``str()`` gives the line ``zkservices agent``
    prints: ``"agent.yaml: register[1].check.http: unknown key"``.
    """

    file: str
    location: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.location, self.message) if part)


class AgentConfigError(ZkServicesError, ValueError):
    """An agent configuration is invalid.

    ``problems`` holds every problem found, in file order (each a
    :class:`ConfigProblem`); the message is their lines, one per problem.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid agent configuration")


class CancelWatch(Exception):
    """Raise from a callback to unregister it without logging an error."""
