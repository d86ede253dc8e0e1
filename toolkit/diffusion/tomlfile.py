"""TOML files: reading with one-line errors (``tomllib``), writing with ``tomli-w``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import ToolkitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has the same parser as the tomli package
    import tomli as tomllib


class TomlFileError(ToolkitError):
    """A TOML file is missing or malformed."""


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file raises :class:`TomlFileError` naming it."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise TomlFileError(f"{path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise TomlFileError(f"{path}: not a readable TOML file ({err})") from None


def dumps_toml(document: Mapping[str, Any], *, header: str | None = None) -> str:
    """Serialise ``document`` as TOML text with ``tomli-w``.

    Args:
        document: Keys to TOML values; ``None`` values (at the top level or in a table) are left out, so
            optional fields can be passed as they are.
        header: Optional comment lines written first (``#`` is added).

    Returns:
        The TOML text, ending with a newline.
    """
    lines = [f"# {line}".rstrip() + "\n" for line in header.splitlines()] if header else []
    return "".join(lines) + tomli_w.dumps(_without_none(document))


def _without_none(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _without_none(value) if isinstance(value, Mapping) else value
        for key, value in document.items()
        if value is not None
    }
