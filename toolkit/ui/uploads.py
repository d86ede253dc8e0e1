"""Checks on what a browser uploads, before any work starts: kind, size, count, and that it decodes.

A bad upload raises :class:`UploadError` with the one line the command line would print for the same
file (the readers' own messages), plus what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image, write_image
from ..errors import ToolkitError

POSE_SUFFIXES = (".json", ".csv")
MAX_PHOTO_BYTES = 20 * 2**20
MAX_VIDEO_BYTES = 500 * 2**20
MAX_POSE_BYTES = 50 * 2**20
PHOTO_COUNT = (3, 20)  # DreamBooth's few photos


class UploadError(ToolkitError):
    """An upload of the wrong kind, size or number, or one that does not decode."""


def _paths(files: Sequence[str | Path] | str | Path | None) -> list[Path]:
    if files is None:
        return []
    if isinstance(files, str | Path):
        return [Path(files)]
    return [Path(f) for f in files]


def _check_file(path: Path, suffixes: tuple[str, ...], limit: int, what: str) -> None:
    if path.suffix.lower() not in suffixes:
        raise UploadError(
            f"{path.name}: not {what} ({path.suffix or 'no suffix'}); use {', '.join(suffixes)}"
        )
    size = path.stat().st_size
    if size > limit:
        raise UploadError(
            f"{path.name}: {size / 2**20:.0f} MB is over the {limit / 2**20:.0f} MB limit for {what}"
        )
    if size == 0:
        raise UploadError(f"{path.name}: the file is empty")


def check_photos(
    files: Sequence[str | Path] | None, *, count: tuple[int, int] = PHOTO_COUNT, what: str = "a subject"
) -> list[np.ndarray]:
    """Read ``count`` (default 3 to 20) uploaded photos, for ``what``; returns them as ``(H, W, 3)`` uint8
    RGB arrays, in upload order.

    Raises:
        UploadError: too few or too many, a file that is not an image or over 20 MB, or one that does not
            decode.
    """
    paths = _paths(files)
    low, high = count
    if not low <= len(paths) <= high:
        raise UploadError(f"{len(paths)} photos uploaded; {what} needs {low} to {high}")
    images = []
    for path in paths:
        _check_file(path, IMAGE_SUFFIXES, MAX_PHOTO_BYTES, "an image")
        images.append(read_image(path))  # MediaError names the file that does not decode
    return images


def save_photos(images: Sequence[np.ndarray], folder: Path) -> Path:
    """Write ``images`` as ``folder/00.png, 01.png ...`` (atomically), replacing earlier uploads there."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    for i, image in enumerate(images):
        write_image(folder / f"{i:02d}.png", image)
    return folder


def check_media(files: Sequence[str | Path] | str | Path | None) -> list[Path]:
    """What to extract poses from: one video, or one or more photos (read in upload order); returns the
    paths.

    Raises:
        UploadError: nothing uploaded, a video among several files, or a file of another kind or too large.
    """
    paths = _paths(files)
    if not paths:
        raise UploadError("upload a video, or one or more photos, to extract poses from")
    videos = [p for p in paths if p.suffix.lower() in VIDEO_SUFFIXES]
    if videos and len(paths) > 1:
        raise UploadError(f"{videos[0].name}: upload one video alone, or photos only")
    for path in paths:
        if videos:
            _check_file(path, VIDEO_SUFFIXES, MAX_VIDEO_BYTES, "a video")
        else:
            _check_file(path, IMAGE_SUFFIXES + VIDEO_SUFFIXES, MAX_PHOTO_BYTES, "a video or image")
    return paths


def check_pose_file(file: str | Path | None) -> Path:
    """One uploaded pose file (toolkit JSON, OpenPose JSON, COCO, PATN CSV); returns its path.

    Raises:
        UploadError: nothing uploaded, or a file of another kind or over 50 MB.
    """
    paths = _paths(file)
    if len(paths) != 1:
        raise UploadError("upload one pose file (.json or .csv)")
    _check_file(paths[0], POSE_SUFFIXES, MAX_POSE_BYTES, "a pose file")
    return paths[0]
