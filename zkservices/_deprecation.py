"""Deprecated spellings of arguments and attributes: still accepted, with a DeprecationWarning."""

from __future__ import annotations

import warnings
from typing import TypeVar

__all__ = ["renamed_argument", "renamed_attribute"]

T = TypeVar("T")


def renamed_argument(value: T, old_value: T, *, new: str, old: str, stacklevel: int = 3) -> T:
    """The value of an argument renamed from ``old`` to ``new``: ``value``, or
    ``old_value`` when only the old spelling was given (``None``: not given), with a
    DeprecationWarning pointing ``stacklevel`` frames up (as :func:`warnings.warn`
    counts them from the caller of this function: 3 is the caller's caller).

    :raises TypeError: both spellings were given.
    """
    if old_value is None:
        return value
    if value is not None:
        raise TypeError(f"give {new}= only ({old}= is its deprecated spelling)")
    warnings.warn(f"{old}= is deprecated; use {new}=", DeprecationWarning, stacklevel=stacklevel)
    return old_value


def renamed_attribute(owner: object, old: str, new: str) -> None:
    """Warn that ``owner``'s attribute ``old`` is deprecated for ``new`` (call it from
    the deprecated property: the warning points at the code that read it)."""
    warnings.warn(f"{type(owner).__name__}.{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)
