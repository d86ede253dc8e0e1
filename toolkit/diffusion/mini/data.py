"""Training samples of the mini models: ``(image, caption[, skeleton])`` from mannequins or from disk.

Two sources, both lists of clips (frames of one subject with one pose per frame):

- :func:`mannequin_clips` renders procedural mannequins on the fly, frame by frame, so any number of
  subjects costs no memory; captions come from each :class:`MannequinSpec`.
- :func:`folder_clips` reads a folder in the ``toolkit data synth`` layout (captions from each
  ``subject.json``), or any clip folder ``images/`` + ``poses.json``, in any keypoint layout.

Every frame is letterboxed into a ``resolution x resolution`` square. The skeleton image is drawn in the
clip's ``layout`` by :func:`control_image`, the same drawing ``toolkit generate`` feeds the ControlNet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ...checks import check_choice
from ...data.datasets import Letterbox, image_to_tensor, is_clip
from ...data.mannequin import MannequinSpec, MannequinSpecError, render_mannequin
from ...data.mannequin.captions import mannequin_caption
from ...data.media import MediaError, list_images, read_image
from ...data.synth_dataset import SUBJECT_FILE
from ...errors import DataError, PoseFormatError
from ...pose.encode import render_openpose
from ...pose.io import load_poses
from ...pose.motions import make_motion
from ...pose.sequence import PoseSequence
from ...pose.skeleton import OPENPOSE_COLORS, SKELETONS, get_skeleton

DEFAULT_CAPTION = "a photo of a person"


# ---- skeleton images ----------------------------------------------------------------------------------


def _openpose_body_18(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    return render_openpose(keypoints, width, height, scale_to_canvas=True)


def _draw_layout(layout: str) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """An OpenPose-style drawing of another layout: limb ``i`` in 60% of ``OPENPOSE_COLORS[i]`` as a
    4-pixel-wide stick, joints as radius-4 dots in full colour, as ``render_openpose`` draws BODY_18."""
    skeleton = get_skeleton(layout)

    def draw(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
        image = np.zeros((height, width, 3), dtype=np.uint8)
        present = (keypoints[:, 2] > 0) & np.isfinite(keypoints[:, :2]).all(-1)
        points = [
            (int(x), int(y)) if on else None for (x, y), on in zip(keypoints[:, :2], present, strict=True)
        ]
        for i, (a, b) in enumerate(skeleton.limbs):
            if points[a] and points[b]:
                color = tuple(int(c * 0.6) for c in OPENPOSE_COLORS[i % len(OPENPOSE_COLORS)])
                cv2.line(image, points[a], points[b], color, thickness=8, lineType=cv2.LINE_AA)
        for j, point in enumerate(points):
            if point:
                cv2.circle(image, point, 4, OPENPOSE_COLORS[j % len(OPENPOSE_COLORS)], thickness=-1)
        return image

    return draw


# What a ControlNet of each layout sees: BODY_18 in ControlNet's own OpenPose convention, others drawn alike.
CONTROL_RENDERERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    name: _openpose_body_18 if name == "body_18" else _draw_layout(name) for name in SKELETONS
}


def check_layout(layout: str) -> str:
    """``layout`` if it names a skeleton; else a one-line :class:`DataError` listing them."""
    return check_choice(layout, CONTROL_RENDERERS, "keypoint layout", DataError)


def control_image(keypoints: np.ndarray, layout: str, width: int, height: int) -> np.ndarray:
    """The skeleton image of one pose: ``(J, 3)`` keypoints of ``layout`` in pixels -> ``(H, W, 3)``
    uint8 RGB on black."""
    return CONTROL_RENDERERS[check_layout(layout)](keypoints, width, height)


# ---- clips --------------------------------------------------------------------------------------------


class Clip:
    """Frames of one subject. Subclasses give ``caption``, ``poses`` (on the square canvas, in the
    clip's layout) and :meth:`frame`."""

    caption: str
    poses: PoseSequence

    def __len__(self) -> int:
        return len(self.poses)

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame ``t`` as ``(resolution, resolution, 3)`` uint8, and the subject's ``(resolution,
        resolution)`` bool foreground where it is known (None otherwise)."""
        raise NotImplementedError


class MannequinClip(Clip):
    """One motion of mannequin ``MannequinSpec.sample(seed)``, rendered when a frame is asked for.

    Args:
        seed: The mannequin (and the motion's timing jitter), as ``toolkit data synth`` uses it.
        motion: A name in ``toolkit.pose.motions``.
        frames: Frames in one loop of the motion.
        resolution: Square canvas side in pixels.
        layout: Keypoint layout of :attr:`poses` (converted from the exact BODY_18 poses).
    """

    def __init__(self, seed: int, motion: str, frames: int, resolution: int, layout: str = "body_18") -> None:
        self.spec = MannequinSpec.sample(seed)
        self.caption = mannequin_caption(self.spec)
        self.body = make_motion(
            motion, frames, 24.0, resolution, resolution, proportions=self.spec.proportions, seed=seed
        )
        self.poses = self.body.to_layout(layout)

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        depth = None if self.body.depth is None else self.body.depth[t]
        rendered = render_mannequin(
            self.spec, self.body.keypoints[t], depth, self.body.width, self.body.height
        )
        return rendered.image, rendered.mask


class FolderClip(Clip):
    """A clip folder on disk: ``images/`` (natural order) and ``poses.json`` (any format
    ``toolkit.pose.io`` reads, one pose per image, on the images' canvas), letterboxed to a square; and
    ``masks/`` (one per image, the subject white) where the folder has them, as ``toolkit data synth``
    writes.

    Args:
        folder: The clip folder.
        resolution: Square canvas side in pixels.
        layout: Keypoint layout to train with; the poses are converted to it when stored in another.
        caption: The caption of every frame.

    Raises:
        DataError: in one line, for unreadable images or poses, counts that differ, or a layout the poses
            cannot be converted to.
    """

    def __init__(self, folder: Path, resolution: int, layout: str, caption: str) -> None:
        try:
            self.paths = list_images(folder / "images")
            poses = load_poses(folder / "poses.json")
            poses = poses.to_layout(layout)
        except (MediaError, PoseFormatError, ValueError) as err:
            raise DataError(f"{folder}: {err}") from None
        if len(poses) != len(self.paths):
            raise DataError(f"{folder}: {len(self.paths)} images but {len(poses)} poses; give one per image")
        self.box = Letterbox.square(poses.width, poses.height, resolution)
        self.poses = self.box.poses(poses)
        self.caption = caption
        masks = folder / "masks"
        self.masks = [masks / path.name for path in self.paths] if masks.is_dir() else None

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        image = self._read(self.paths[t], "RGB")
        if self.masks is None:
            return self.box.image(image), None
        mask = self._read(self.masks[t], "L") > 127
        return self.box.image(image), self.box.image(mask.astype(np.uint8), replicate=False) > 0

    def _read(self, path: Path, mode: str) -> np.ndarray:
        try:
            image = read_image(path, mode=mode)
        except MediaError as err:
            raise DataError(str(err)) from None
        if image.shape[:2] != (self.box.height, self.box.width):
            raise DataError(
                f"{path} is {image.shape[1]}x{image.shape[0]} but its pose is on a "
                f"{self.box.width}x{self.box.height} canvas"
            )
        return image


def mannequin_clips(
    subjects: int,
    resolution: int,
    *,
    motions: Sequence[str] = ("walk", "run", "wave", "jumping_jack", "squat", "dance", "turn"),
    frames: int = 48,
    seed: int = 0,
    layout: str = "body_18",
) -> list[Clip]:
    """Clips of mannequins ``seed .. seed + subjects - 1`` in every motion of ``motions`` (default all
    seven), ``frames`` frames per loop, on a ``resolution`` square."""
    check_layout(layout)
    return [
        MannequinClip(seed + i, motion, frames, resolution, layout)
        for i in range(subjects)
        for motion in motions
    ]


def _caption(clip: Path, default: str) -> str:
    """The caption of a clip: from the ``subject.json`` of its folder or its parent, else ``default``."""
    for folder in (clip, clip.parent):
        if (folder / SUBJECT_FILE).is_file():
            try:
                spec = MannequinSpec.from_dict(json.loads((folder / SUBJECT_FILE).read_text()))
            except (MannequinSpecError, ValueError) as err:
                raise DataError(f"{folder / SUBJECT_FILE}: {err}") from None
            return mannequin_caption(spec)
    return default


def folder_clips(
    root: str | Path, resolution: int, *, layout: str = "body_18", caption: str = DEFAULT_CAPTION
) -> list[Clip]:
    """Every clip under ``root``: ``root`` itself when it is a clip folder, else its clip sub-folders, else
    those of its sub-folders (the ``toolkit data synth`` layout ``ROOT/subject_000/walk/``).

    Args:
        root: The data folder.
        resolution: Square canvas side in pixels.
        layout: Keypoint layout to train with (a name in ``toolkit.pose.skeleton.SKELETONS``).
        caption: Caption of clips without a ``subject.json``. Default ``"a photo of a person"``.

    Raises:
        DataError: in one line, for a missing folder, no clips, or an unreadable clip.
    """
    check_layout(layout)
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: no such data folder; pass a `toolkit data synth` folder or images/ + poses.json"
        )
    found = [root] if is_clip(root) else sorted(p for p in root.iterdir() if is_clip(p))
    if not found:
        found = sorted(
            p for sub in sorted(root.iterdir()) if sub.is_dir() for p in sub.iterdir() if is_clip(p)
        )
    if not found:
        raise DataError(f"{root}: no clip folders (images/ with a poses.json) here or one level down")
    return [FolderClip(folder, resolution, layout, _caption(folder, caption)) for folder in found]


# ---- the dataset --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Where one sample lives: clip index and frame index."""

    clip: int
    t: int


class MiniDataset(Dataset):
    """Every frame of ``clips`` as a training sample.

    Each item is a dict: ``"pixel_values"`` ``(3, R, R)`` float32 in [-1, 1], ``"figure"`` ``(1, R, R)``
    float32, 1 on the subject where its clip knows the foreground and 0 elsewhere (all 0 when unknown),
    ``"caption"`` str, and with ``control=True`` ``"conditioning"`` ``(3, R, R)`` float32 in [0, 1] (the
    skeleton image, as diffusers' ControlNet pipelines feed it).
    """

    def __init__(self, clips: Sequence[Clip], *, control: bool = False, layout: str = "body_18") -> None:
        if not clips:
            raise DataError("no training clips")
        self.clips = list(clips)
        self.control = control
        self.layout = check_layout(layout)

    @cached_property
    def frames(self) -> list[Frame]:
        return [Frame(c, t) for c, clip in enumerate(self.clips) for t in range(len(clip))]

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        frame = self.frames[index]
        image, mask = self.clips[frame.clip].frame(frame.t)
        figure = np.zeros(image.shape[:2], np.float32) if mask is None else mask.astype(np.float32)
        return {
            "pixel_values": image_to_tensor(image),
            "figure": torch.from_numpy(figure)[None],
            **self.condition(index),
        }

    def condition(self, index: int) -> dict[str, torch.Tensor | str]:
        """What sample ``index`` is conditioned on, without its image: ``"caption"``, and with
        ``control=True`` ``"conditioning"``."""
        frame = self.frames[index]
        clip = self.clips[frame.clip]
        item: dict[str, torch.Tensor | str] = {"caption": clip.caption}
        if self.control:
            pose = clip.poses.keypoints[frame.t]
            skeleton = control_image(pose, self.layout, clip.poses.width, clip.poses.height)
            item["conditioning"] = torch.from_numpy(skeleton.transpose(2, 0, 1).copy()).float() / 255
        return item

    def fingerprint(self) -> str:
        """Hex SHA-256 of every clip's caption, poses and length: equal for datasets of the same frames."""
        digest = hashlib.sha256()
        for clip in self.clips:
            digest.update(clip.caption.encode())
            digest.update(np.ascontiguousarray(clip.poses.keypoints).tobytes())
            digest.update(f"{len(clip)}|{type(clip).__name__}".encode())
        return digest.hexdigest()
