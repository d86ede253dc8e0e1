"""Errors the toolkit raises for bad input. The CLI prints them as one line, without a traceback."""

from __future__ import annotations

from pathlib import Path


class ToolkitError(Exception):
    """Base class for user-facing errors: the message says what is wrong and what to do."""


class DataError(ToolkitError, ValueError):
    """Training or benchmark data cannot be found, read or written as asked."""


class PoseFormatError(ToolkitError, ValueError):
    """A pose file or pose array is malformed.

    Args:
        message: What is wrong, e.g. ``"expected 18 keypoints, got 17"``.
        path: The file being read, if any.
        frame: The frame index (0-based), if the problem is in one frame.
        field: The offending field, e.g. ``"canvas.width"`` or ``"people[0].pose_keypoints_2d"``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        frame: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.frame = frame
        self.field = field
        self.reason = message
        where = []
        if path is not None:
            where.append(str(path))
        if frame is not None:
            where.append(f"frame {frame}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, message]))

    def at(self, path: str | Path) -> PoseFormatError:
        """The same error, attributed to ``path`` (used by readers that validate after parsing)."""
        return PoseFormatError(self.reason, path=path, frame=self.frame, field=self.field)


class MissingCanvasError(PoseFormatError):
    """A pose file that states no canvas size was read without one (OpenPose, COCO results, PATN)."""


# errno name -> what to do about it
_OS_ADVICE = {
    "ENOSPC": "free some space or write elsewhere (-o)",
    "EDQUOT": "free some space or write elsewhere (-o)",
    "EACCES": "check the permissions, or write elsewhere (-o)",
    "EPERM": "check the permissions, or write elsewhere (-o)",
    "EROFS": "the file system is read-only; write elsewhere (-o)",
    "ENOTDIR": "a part of the path is a file, not a folder; choose another path",
    "EEXIST": "a file is where a folder should be; choose another path",
    "EISDIR": "the path is a folder; name a file",
    "ENOENT": "check the path",
}


def describe_os_error(err: OSError) -> str:
    """One line for an operating-system error: what failed, on which path, and what to do."""
    import errno

    name = errno.errorcode.get(err.errno or 0, "")
    where = f"{err.filename}: " if err.filename else ""
    advice = _OS_ADVICE.get(name)
    reason = err.strerror or str(err)
    return f"{where}{reason}" + (f"; {advice}" if advice else "")
