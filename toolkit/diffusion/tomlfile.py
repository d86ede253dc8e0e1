"""Reading TOML files with one-line errors, and a minimal writer for the simple documents the toolkit
writes (``subject.toml``).

Python reads TOML with the standard library (``tomllib``, Python 3.11+) but cannot write it. The documents
written here are flat: top-level keys whose values are strings, numbers, booleans or lists of those,
followed by tables of such values. That subset is written exactly, and ``tomllib`` reads it back unchanged.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ToolkitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has the same parser as the tomli package
    import tomli as tomllib

Scalar = str | bool | int | float
Value = Scalar | Sequence[Scalar]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


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


def dumps_toml(document: Mapping[str, Value | Mapping[str, Value]], *, header: str | None = None) -> str:
    """Serialise a flat document as TOML text.

    Args:
        document: Keys to values; a value is a scalar (``str``, ``bool``, ``int``, ``float``), a list of
            scalars, or a table (a mapping of keys to such values). ``None`` values are left out, so
            optional fields can be passed as they are. Tables are written after the plain keys, in order.
        header: Optional comment lines written first (``#`` is added).

    Returns:
        The TOML text, ending with a newline.

    Raises:
        TypeError: for a value outside that subset (nested tables, lists of tables, other types).
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    tables = [(key, value) for key, value in document.items() if isinstance(value, Mapping)]
    for key, value in document.items():
        if value is not None and not isinstance(value, Mapping):
            lines.append(f"{_key(key)} = {_value(value, key)}")
    for name, table in tables:
        lines.extend(["", f"[{_key(name)}]"])
        for key, value in table.items():
            if isinstance(value, Mapping):
                raise TypeError(f"{name}.{key}: nested tables are not supported")
            if value is not None:
                lines.append(f"{_key(key)} = {_value(value, f'{name}.{key}')}")
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _value(value: object, where: str) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(item, where) for item in value) + "]"
    return _scalar(value, where)


def _scalar(value: object, where: str) -> str:
    # bool before int: True is an int in Python.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        # repr gives the shortest text that reads back to the same float; TOML accepts its forms.
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        # JSON's string escapes (\" \\ \n \t \uXXXX ...) are all valid in TOML basic strings.
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"{where}: cannot write {type(value).__name__} values as TOML")
