"""Registry look-up with a one-line error that lists the choices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str) -> T:
    """``registry[name]``, or a ``ValueError`` naming ``what`` was unknown and the registered names."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}; choose one of {', '.join(map(repr, registry))}") from None
