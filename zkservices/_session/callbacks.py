"""User callbacks with their signature inspected once.

A view or a ServerSet calls its callbacks with as many of its arguments as each one
takes.  The signature is read when the callback is added -- a callback that raises
``TypeError`` is never called again with fewer arguments, which would hide bugs.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ["Callback"]


class Callback:
    """Wrap ``fn``; calling the wrapper passes ``fn`` at most as many positional
    arguments as it accepts.  Raises TypeError when ``fn`` is not callable or needs
    more than ``max_required`` arguments."""

    __slots__ = ("fn", "max_args", "min_args")

    def __init__(self, fn: Callable[..., Any], *, max_required: int = 2) -> None:
        if not callable(fn):
            raise TypeError(f"callback {fn!r} is not callable")
        self.fn = fn
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):  # builtins without a signature
            self.min_args, self.max_args = 1, 1
            return
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.min_args = len([p for p in positional if p.default is p.empty])
        varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        self.max_args = 2**31 if varargs else len(positional)
        if self.min_args > max_required:
            raise TypeError(
                f"callback {fn!r} requires {self.min_args} arguments; at most {max_required} are passed"
            )

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args[: self.max_args])

    def __repr__(self) -> str:
        return f"<callback {getattr(self.fn, '__qualname__', self.fn)!r}>"
