"""Atomic file writes: a reader never sees a half-written file, and a crash leaves the old file intact.

A temporary file is hidden (its name starts with ``.``) and says ``.tmp``, so that every reader, which
skips hidden files (:func:`is_hidden`), ignores one a killed writer left, and the writer's next run removes
it (:func:`sweep_temporaries`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on error removed.

    The temporary file keeps ``path``'s suffix, so writers that choose a format by extension (imageio,
    OpenCV, PIL) behave as they would on the final name. Parent folders are created.

    Example::

        with atomic_path("out/video.mp4") as tmp:
            write_video(tmp, frames)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp creates files readable by the owner only; give the result the usual permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_hidden(path: Path) -> bool:
    """Whether ``path`` is a hidden file readers skip: a temporary of :func:`atomic_path`, a macOS ``._``
    resource fork, ``.DS_Store`` ... (any name starting with ``.``)."""
    return path.name.startswith(".")


def sweep_temporaries(folder: str | Path) -> int:
    """Remove the temporaries :func:`atomic_path` left in ``folder`` (not below it) when its writer was
    killed; returns how many. Safe while no other process writes into ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    stale = [p for p in folder.iterdir() if p.is_file() and is_hidden(p) and ".tmp" in p.name]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, value: Any, *, indent: int | None = 2) -> None:
    """Serialise ``value`` as strict JSON (NaN/inf rejected) and write it atomically."""
    write_text_atomic(path, json.dumps(value, indent=indent, allow_nan=False) + "\n")
