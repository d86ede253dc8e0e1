"""Adapter for one person's video: train on its beginning, render its end.

The data folder holds::

    ROOT/
      video.mp4        the video: any one file ffmpeg reads (.mp4 .mov .avi .mkv .webm .gif),
      images/          ... or a folder of its frames, in natural order
      poses.json       one pose per frame, any format toolkit.pose.io reads (an OpenPose folder
                       "poses/" too); see docs/pose-format.md
      masks/           optional: one foreground mask per frame (white = person)
      background.png   optional: the empty backdrop, for silhouette IoU

The frames are split by time: the first ``1 - held_out`` of them are the training frames, the rest are
cut into held-out clips of ``clip_frames``. The source image is the first frame.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...data.media import VIDEO_SUFFIXES, iter_media, list_images, read_image, read_video
from ...data.subject import SubjectFrames
from ...pose.io import detect_format, load_poses
from ...pose.sequence import PoseSequence
from . import Benchmark, BenchmarkError, EvalCase, EvalClip


@dataclass(frozen=True)
class VideoFolder:
    """A person's video split by time into training frames and held-out clips.

    Args:
        held_out: Fraction of the frames, at the end, to render; in (0, 1). Default 0.25.
        clip_frames: Frames per held-out clip; the last clip may be shorter. Default 48.
    """

    held_out: float = 0.25
    clip_frames: int = 48
    name: str = "video-folder"
    description: str = "one person's video + poses: fit on the first 75%, render the rest"
    needs_data: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not 0 < self.held_out < 1:
            raise ValueError(f"held_out must be in (0, 1), got {self.held_out}")
        if self.clip_frames < 2:
            raise ValueError(f"clip_frames must be at least 2, got {self.clip_frames}")

    def settings(self) -> dict[str, Any]:
        return {"kind": "video-folder", "held_out": self.held_out, "clip_frames": self.clip_frames}

    def load(self, root: Path, *, progress: bool = True) -> Benchmark:
        """Read every frame, pose, mask and the backdrop of ``root`` and split them."""
        if not root.is_dir():
            raise BenchmarkError(f"{root}: not a folder; give the folder holding the video and poses.json")
        frames, fps = _read_frames(root)
        height, width = frames.shape[1:3]
        poses = _read_poses(root, width, height, fps)
        if len(poses) != len(frames):
            raise BenchmarkError(
                f"{root}: {len(frames)} frames but {len(poses)} poses; give one pose per frame"
            )
        masks = _read_masks(root / "masks", frames.shape[:3]) if (root / "masks").is_dir() else None
        background = _read_background(root / "background.png", frames.shape[1:])
        split = int(round(len(frames) * (1 - self.held_out)))
        if split < 1 or len(frames) - split < 2:
            raise BenchmarkError(
                f"{root}: {len(frames)} frames are too few to hold out {self.held_out:.0%}; "
                "give a longer video"
            )
        subject = root.resolve().name

        def part(start: int, stop: int) -> SubjectFrames:
            return SubjectFrames(
                frames[start:stop], poses[start:stop], None if masks is None else masks[start:stop], subject
            )

        def read_case(_: str) -> EvalCase:
            source = part(0, 1)
            clips = []
            for start, stop in _clip_bounds(split, len(frames), self.clip_frames):
                held = part(start, stop)
                clips.append(
                    EvalClip(
                        name=f"frames_{start:05d}",
                        source_images=source.images,
                        source_poses=source.poses,
                        target_poses=held.poses,
                        truth=held.images,
                        masks=held.masks,
                        background=background,
                    )
                )
            return EvalCase(subject, part(0, split), tuple(clips))

        settings = {
            **self.settings(),
            "root": str(root.resolve()),
            "frames": len(frames),
            "size": [width, height],
        }
        return Benchmark(self.name, root, (subject,), settings, fps, read_case)


def _clip_bounds(start: int, stop: int, length: int) -> list[tuple[int, int]]:
    """``[start, stop)`` cut into pieces of ``length``; a last piece of one frame joins the one before, since
    temporal metrics need two frames."""
    bounds = [(a, min(a + length, stop)) for a in range(start, stop, length)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 2:
        bounds[-2:] = [(bounds[-2][0], stop)]
    return bounds


def _read_frames(root: Path) -> tuple[np.ndarray, float]:
    """``(N, H, W, 3)`` uint8 frames of ``root/images/`` or of the one video file, and the frame rate
    (24 for an image folder)."""
    videos = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if (root / "images").is_dir():
        return np.stack(list(iter_media(root / "images"))), 24.0
    if len(videos) != 1:
        found = ", ".join(p.name for p in videos) or "none"
        raise BenchmarkError(
            f"{root}: expected one video file ({', '.join(VIDEO_SUFFIXES)}) or an images/ folder; "
            f"found {found}"
        )
    frames, fps = read_video(videos[0])
    return np.stack(frames), fps


def _read_poses(root: Path, width: int, height: int, fps: float) -> PoseSequence:
    candidates = sorted(p for p in root.iterdir() if p.stem == "poses" and p.name != "poses.png")
    if len(candidates) != 1:
        raise BenchmarkError(
            f"{root}: expected one pose file or folder named poses (poses.json, poses/ ...), found "
            f"{', '.join(p.name for p in candidates) or 'none'}"
        )
    path = candidates[0]
    # Formats that state no canvas (OpenPose, PATN, COCO) take the frames' size; the others must match it.
    takes = inspect.signature(detect_format(path).read).parameters
    options = {"width": width, "height": height, "fps": fps} if "width" in takes else {}
    poses = load_poses(path, **options)
    if poses.canvas != (width, height):
        raise BenchmarkError(
            f"{path}: poses are on a {poses.width}x{poses.height} canvas but the frames are {width}x{height}"
        )
    return poses.to_layout("body_18").with_fps(fps)


def _read_masks(folder: Path, shape: tuple[int, ...]) -> np.ndarray:
    masks = np.stack([read_image(p, mode="L") > 127 for p in list_images(folder)])  # (N, H, W)
    if masks.shape != shape:
        raise BenchmarkError(
            f"{folder}: expected {shape[0]} masks of {shape[2]}x{shape[1]}, got {masks.shape}"
        )
    return masks


def _read_background(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    if not path.exists():
        return None
    background = read_image(path)
    if background.shape != shape:
        raise BenchmarkError(f"{path}: expected a {shape[1]}x{shape[0]} image like the frames")
    return background
