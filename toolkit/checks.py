"""Checks of arguments and settings shared across the toolkit; each failure is a one-line ``ValueError``
that names the argument, what it must be, and what it got. Booleans are not numbers here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def check_number(name: str, value: object, valid: Callable[[float], bool], expected: str) -> float:
    """``value`` as a float if it is a finite real number that passes ``valid``; else ``ValueError``."""
    is_real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (is_real and np.isfinite(value) and valid(float(value))):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``minimum``; else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def lookup(registry: Mapping[str, T], name: str, what: str, error: type[Exception] = ValueError) -> T:
    """``registry[name]``, or ``error`` (default ``ValueError``) in one line: ``unknown WHAT 'name'; choose
    one of 'a', 'b'``."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise error(f"unknown {what} {name!r}; choose one of {', '.join(map(repr, registry))}") from None
