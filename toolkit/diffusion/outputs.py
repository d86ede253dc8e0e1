"""The output folder of ``toolkit generate`` and the rules for resuming into it.

Layout::

    frames/0000.png ...   generated frames
    controls/0000.png ... the skeleton images the ControlNet saw
    video.mp4, video.gif  the frames as videos
    contact_sheet.png     evenly spaced skeletons (top row) over their frames (bottom row)
    manifest.json         command, versions, seed, settings, models, timings, counts

A rerun skips frames already written, but only if the folder's manifest records the same *fingerprint*:
every setting that decides the pixels (poses, prompts, models, LoRA hashes, sampler, seed ...). Otherwise
it stops with a one-line error naming what changed, so frames of different settings never mix.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import sweep_temporaries
from ..data.media import FrameFiles, grid, sheet_indices, write_image, write_video
from ..errors import ToolkitError
from ..manifest import MANIFEST_NAME
from ..pose.skeleton_images import SkeletonImages
from .generate import FRAME_PATTERN, frame_path

FRAMES_DIR = "frames"
CONTROLS_DIR = "controls"
VIDEOS = ("video.mp4", "video.gif")
SHEET = "contact_sheet.png"


class OutputFolderError(ToolkitError):
    """The output folder holds results of other settings, or cannot be used."""


def read_fingerprint(out: Path) -> dict[str, Any] | None:
    """The fingerprint recorded in ``out/manifest.json``, or ``None`` if there is no manifest."""
    path = out / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["options"]["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputFolderError(
            f"{path}: not a manifest written by toolkit generate; choose another --out or pass --overwrite"
        ) from None


def check_output_folder(out: Path) -> None:
    """Raise :class:`OutputFolderError` unless ``out`` is, or can be created as, a folder this process may
    write in: checked before any model loads, so that a typo costs nothing."""
    existing = next(path for path in (out, *out.parents) if path.exists() or path == path.parent)
    if not existing.is_dir():
        raise OutputFolderError(f"{out}: {existing} is a file, not a folder; choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"{out}: no permission to write in {existing}; choose another --out")


def prepare_out(out: Path, fingerprint: dict[str, Any], *, overwrite: bool = False) -> None:
    """Check that frames already in ``out`` were made with the same ``fingerprint`` (nothing is created;
    temporaries a killed run left are removed). ``overwrite`` deletes earlier frames and controls instead."""
    check_output_folder(out)
    frames_dir = out / FRAMES_DIR
    if overwrite:
        for folder in (frames_dir, out / CONTROLS_DIR):
            shutil.rmtree(folder, ignore_errors=True)
    for folder in (out, frames_dir, out / CONTROLS_DIR):
        sweep_temporaries(folder)  # what a killed earlier run left
    has_frames = frames_dir.is_dir() and any(frames_dir.glob("*.png"))
    recorded = read_fingerprint(out) if has_frames else None
    if has_frames and recorded is None:
        raise OutputFolderError(
            f"{frames_dir} holds frames but {out / MANIFEST_NAME} is missing, so they cannot be "
            "resumed; choose another --out or pass --overwrite"
        )
    if recorded is not None and recorded != fingerprint:
        changed = sorted(k for k in {*recorded, *fingerprint} if recorded.get(k) != fingerprint.get(k))
        raise OutputFolderError(
            f"{out} holds frames made with other settings (changed: {', '.join(changed)}); "
            "choose another --out or pass --overwrite to replace them"
        )


def write_controls(out: Path, skeletons: SkeletonImages) -> None:
    """Write the skeleton images as ``out/controls/0000.png ...``, one at a time; those a run with the same
    fingerprint already wrote are kept."""
    for i in range(len(skeletons)):
        path = out / CONTROLS_DIR / FRAME_PATTERN.format(i)
        if not path.is_file():
            write_image(path, skeletons[i])


def read_frames(out: Path, count: int) -> FrameFiles:
    """Frames ``0 .. count-1`` of ``out/frames``, each read from disk when it is indexed."""
    return FrameFiles([frame_path(out / FRAMES_DIR, i) for i in range(count)])


def contact_sheet(controls: SkeletonImages, frames: Sequence[np.ndarray], columns: int = 8) -> np.ndarray:
    """Skeletons over frames at ``columns`` evenly spaced indices, labelled with the frame numbers."""
    picks = sheet_indices(len(frames), columns)
    return grid(
        [list(controls.draw(picks)), [frames[i] for i in picks]],
        row_labels=["pose", "frame"],
        column_labels=[str(i) for i in picks],
    )


def write_videos(out: Path, controls: SkeletonImages, frames: Sequence[np.ndarray], fps: float) -> list[str]:
    """Write ``video.mp4``, ``video.gif`` and ``contact_sheet.png``, streaming ``frames`` (which may read
    them lazily, as :func:`read_frames` does); returns the names."""
    for name in VIDEOS:
        write_video(out / name, frames, fps)
    write_image(out / SHEET, contact_sheet(controls, frames))
    return [*VIDEOS, SHEET]
