"""One writer per output folder: a second process that would write the same subject, run or output
folder at the same time stops with a one-line error instead of interleaving files with the first.

The lock is an advisory ``flock`` on ``FOLDER/.lock`` (a hidden file, so readers skip it), held for the
life of the writing process and released by the operating system when it ends, killed or not: a stale
lock cannot outlive its holder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ToolkitError

LOCK_NAME = ".lock"


class FolderLockedError(ToolkitError):
    """Another process is writing into the folder."""


@contextmanager
def exclusive_folder(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Hold the write lock of ``folder`` (created if needed) for the ``with`` block.

    Args:
        folder: The folder to own.
        what: What the folder is, for the message ("subject 'alice'", "run folder").

    Raises:
        FolderLockedError: another process holds it; the message names that process.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, as before
        yield Path(folder)
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with path.open("a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            raise FolderLockedError(
                f"{what} {folder} is being written by {holder}; wait for it to finish, or write elsewhere"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()}\n")
        file.flush()
        try:
            yield folder
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
