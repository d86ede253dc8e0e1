"""Checks of arguments and settings shared across the toolkit; each failure is a one-line ``ValueError``
that names the argument, what it must be, and what it got. Booleans are not numbers here."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
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


def unknown_choice(what: str, name: object, choices: Collection[str]) -> str:
    """The one wording of a name that is not among ``choices``: ``unknown WHAT 'name'; choose one of 'a',
    'b'``."""
    return f"unknown {what} {name!r}; choose one of {', '.join(map(repr, choices))}"


def check_choice(
    value: object, choices: Collection[str], what: str, error: type[Exception] = ValueError
) -> str:
    """``value`` if it is one of ``choices`` (names, or a registry's keys); else ``error`` (default
    ``ValueError``) in the wording of :func:`unknown_choice`."""
    if not isinstance(value, str) or value not in choices:
        raise error(unknown_choice(what, value, choices))
    return value


def lookup(registry: Mapping[str, T], name: str, what: str, error: type[Exception] = ValueError) -> T:
    """``registry[name]``, or ``error`` (default ``ValueError``) in the wording of :func:`unknown_choice`."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise error(unknown_choice(what, name, registry)) from None
