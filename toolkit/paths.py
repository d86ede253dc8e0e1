"""Path helpers shared by the readers of frame folders."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path


def natural_key(name: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key putting ``frame_2`` before ``frame_10``: digit runs compare as numbers, text ignores case;
    the name itself breaks ties, so the order is total."""
    parts = tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))
    return parts, name


def natural_sorted(paths: Iterable[Path]) -> list[Path]:
    """``paths`` sorted by :func:`natural_key` of their file names."""
    return sorted(paths, key=lambda path: natural_key(path.name))
