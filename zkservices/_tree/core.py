"""What the tree operations need from a session: the named core API, as a typing Protocol.

The session passes its core (``zk.core``); nothing else of the session is used.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

__all__ = ["SessionCore"]


class SessionCore(Protocol):
    """The part of the session core the tree operations use.

    ``client`` is the started KazooClient (for pipelined ``*_async`` reads and
    transactions), ``retry(fn, *args)`` calls ``fn`` through the session's one
    retry policy, ``settle()`` lets the session's views catch up after a
    write, ``resolve(path)`` follows symbolic links, ``auth`` holds the
    session's ``(scheme, credential)`` pairs, ``default_acl()`` the ACL for new nodes.
    """

    @property
    def client(self) -> Any: ...

    @property
    def auth(self) -> tuple[tuple[str, str], ...]: ...

    def retry(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    def settle(self, timeout: float = 30.0) -> None: ...

    def resolve(self, path: str) -> str: ...

    def default_acl(self) -> list[Any] | None: ...
