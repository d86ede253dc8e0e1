"""Torch datasets for the image-to-image baselines, and the pieces they are built from.

- :data:`POSE_ENCODINGS`: what a pose-conditioned network sees, by name: the OpenPose RGB skeleton
  (``"openpose"``, ``render_openpose``), one Gaussian heatmap per joint (``"heatmaps"``,
  ``gaussian_heatmaps``) or one line map per limb (``"limbs"``, ``limb_maps``); all from
  ``toolkit.pose.encode``, scaled to [-1, 1] like the images.
- :class:`Letterbox`: fit frames of any canvas into the square a network works at, and back.
- :func:`load_subject_frames`: a subject's frames, masks and poses from disk (the mannequin dataset's
  layout, or any folder of ``images/`` with a ``poses.json``); :func:`mannequin_frames` renders them.
- :func:`knn_pairs`: pair every frame of a driver A with the frame of subject B whose pose is nearest.
- :class:`PairDataset`: input -> target pairs (a pose or an image of A in, a frame of B out) with pix2pix's
  random jitter and optional mirroring, deterministic per sample.

Images are ``(H, W, 3)`` uint8 on disk and in :class:`~.subject.SubjectFrames`, and ``(3, H, W)`` float32 in
[-1, 1] in tensors (pix2pix's convention, matching its tanh output).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..checks import lookup
from ..errors import DataError
from ..pose.encode import gaussian_heatmaps, limb_maps, render_openpose
from ..pose.io import load_poses
from ..pose.match import nearest
from ..pose.motions import make_motion
from ..pose.ops import crop_poses, resize_image, resize_poses
from ..pose.sequence import PoseSequence
from ..pose.skeleton import BODY_18
from .mannequin import MannequinSpec, render_sequence
from .media import MediaError, list_images, read_image
from .subject import SubjectFrames

# ---- pose encodings -----------------------------------------------------------------------------------

# The encoders' pixel sizes (OpenPose's 4 px sticks, PATN's sigma 6, Ren et al.'s 4 px lines) are for
# 256 px images; they scale with the canvas so that a 64 px skeleton is not all limbs.
_REFERENCE_SIDE = 256


def _scaled(value: float, width: int, height: int) -> float:
    return value * max(width, height) / _REFERENCE_SIDE


def _openpose(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    stick = max(1, round(_scaled(4, width, height)))
    images = render_openpose(keypoints, width, height, stick_width=stick, joint_radius=stick)  # (T, H, W, 3)
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def _heatmaps(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    return gaussian_heatmaps(keypoints, width, height, sigma=_scaled(6.0, width, height)) * 2.0 - 1.0


def _limbs(keypoints: np.ndarray, width: int, height: int) -> np.ndarray:
    maps = limb_maps(keypoints, width, height, thickness=max(1.0, _scaled(4.0, width, height)))
    return maps * 2.0 - 1.0


@dataclass(frozen=True)
class PoseEncoding:
    """A pose encoder: ``encode((T, 18, 3) BODY_18 keypoints, width, height) -> (T, channels, H, W)``
    float32 in [-1, 1]."""

    channels: int
    encode: Callable[[np.ndarray, int, int], np.ndarray]


POSE_ENCODINGS: dict[str, PoseEncoding] = {
    "openpose": PoseEncoding(3, _openpose),
    "heatmaps": PoseEncoding(BODY_18.num_joints, _heatmaps),
    "limbs": PoseEncoding(len(BODY_18.limbs), _limbs),
}


def pose_encoding(name: str) -> PoseEncoding:
    """The encoder registered as ``name`` in ``POSE_ENCODINGS``."""
    return lookup(POSE_ENCODINGS, name, "pose encoding")


def encode_poses(poses: PoseSequence, encoding: str = "openpose") -> np.ndarray:
    """``(T, C, H, W)`` float32 network input in [-1, 1] for every pose of ``poses`` (any layout that
    converts to BODY_18), on its canvas."""
    body = poses.to_layout("body_18")
    return pose_encoding(encoding).encode(body.keypoints, body.width, body.height)


# ---- canvases -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letterbox:
    """Fit a ``width x height`` canvas into an ``out_width x out_height`` one: scaled uniformly, centred on
    whole pixels, the rest filled by repeating the border. :meth:`undo` maps an output image back.

    Poses move exactly as the image does (the same pixel-centre mapping as ``resize_image``).
    """

    width: int
    height: int
    out_width: int
    out_height: int

    @classmethod
    def square(cls, width: int, height: int, side: int) -> Letterbox:
        """Into a ``side x side`` square, the shape the networks work at."""
        return cls(width, height, side, side)

    @property
    def inner(self) -> tuple[int, int]:
        """``(w, h)``: the size of the scaled canvas inside the output."""
        scale = min(self.out_width / self.width, self.out_height / self.height)
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    @property
    def offset(self) -> tuple[int, int]:
        inner_w, inner_h = self.inner
        return (self.out_width - inner_w) // 2, (self.out_height - inner_h) // 2

    @property
    def identity(self) -> bool:
        return (self.width, self.height) == (self.out_width, self.out_height)

    def image(self, image: np.ndarray, *, replicate: bool = True) -> np.ndarray:
        """``(height, width[, C])`` -> ``(out_height, out_width[, C])``; the margins repeat the border, or
        are 0 with ``replicate=False`` (for masks)."""
        if self.identity:
            return image
        (inner_w, inner_h), (x0, y0) = self.inner, self.offset
        scaled = resize_image(image, inner_w, inner_h)
        right, bottom = self.out_width - inner_w - x0, self.out_height - inner_h - y0
        mode = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
        padded = cv2.copyMakeBorder(scaled, y0, bottom, x0, right, mode, value=0)
        return padded.reshape(self.out_height, self.out_width, *image.shape[2:])

    def poses(self, poses: PoseSequence) -> PoseSequence:
        """Poses on the input canvas -> on the output canvas."""
        if self.identity:
            return poses
        (inner_w, inner_h), (x0, y0) = self.inner, self.offset
        scaled = resize_poses(poses, inner_w, inner_h)
        keypoints = scaled.keypoints.copy()
        keypoints[..., :2] += np.array([x0, y0], dtype=np.float32)
        return replace(scaled, keypoints=keypoints, width=self.out_width, height=self.out_height)

    def undo(self, image: np.ndarray) -> np.ndarray:
        """``(out_height, out_width[, C])`` -> ``(height, width[, C])``: the inner region, scaled back."""
        if self.identity:
            return image
        (inner_w, inner_h), (x0, y0) = self.inner, self.offset
        return resize_image(image[y0 : y0 + inner_h, x0 : x0 + inner_w], self.width, self.height)


def letterbox_frames(frames: SubjectFrames, side: int) -> SubjectFrames:
    """``frames`` fitted into a ``side x side`` square (see :class:`Letterbox`); masks pad with False."""
    box = Letterbox.square(*frames.poses.canvas, side)
    if box.identity:
        return frames
    masks = None
    if frames.masks is not None:
        masks = np.stack([box.image(m.astype(np.uint8) * 255, replicate=False) for m in frames.masks]) > 127
    images = np.stack([box.image(image) for image in frames.images])
    return _subject_frames(images, box.poses(frames.poses), masks, frames.name)


# ---- frames on disk -----------------------------------------------------------------------------------


def load_subject_frames(
    root: str | Path, subject: str | int | None = None, *, clips: Sequence[str] | None = None
) -> SubjectFrames:
    """Every frame of one subject, with poses and (where present) masks.

    Accepted layouts, looked up under ``root / subject`` (``subject`` an int ``i`` means
    ``subject_{i:03d}``, the mannequin dataset's naming) or ``root`` itself when ``subject`` is None:

    - a clip folder: ``images/`` (frames in natural order), ``poses.json`` (any format
      ``toolkit.pose.io`` reads, one pose per frame on the frames' canvas), optional ``masks/``;
    - a subject folder holding clip folders (``walk/``, ``wave/`` ... as ``toolkit data synth`` writes
      them), read in name order.

    Args:
        root: Dataset or subject folder.
        subject: Subject folder name or index; None reads ``root`` itself.
        clips: Only these clip folders of a subject folder. Default all.

    Returns:
        One :class:`~toolkit.data.subject.SubjectFrames`; masks only if every clip has them.

    Raises:
        DataError: nothing readable there, or images and poses that do not pair up.
    """
    folder = Path(root)
    if subject is not None:
        name = f"subject_{subject:03d}" if isinstance(subject, int) else str(subject)
        folder = folder / name
    if not folder.is_dir():
        raise DataError(f"{folder}: no such subject folder")
    if is_clip(folder):
        found = [folder]
    else:
        found = sorted(p for p in folder.iterdir() if is_clip(p))
        if clips is not None:
            missing = sorted(set(clips) - {p.name for p in found})
            if missing:
                raise DataError(f"{folder}: no clip(s) {', '.join(missing)}; found {[p.name for p in found]}")
            found = [p for p in found if p.name in clips]
    if not found:
        raise DataError(f"{folder}: no clip folders (images/ with a poses.json) in this folder")
    parts = [_read_clip(clip) for clip in found]
    has_masks = all(part.masks is not None for part in parts)
    return _subject_frames(
        np.concatenate([part.images for part in parts]),
        PoseSequence.concatenate([part.poses.with_fps(parts[0].poses.fps) for part in parts]),
        np.concatenate([part.masks for part in parts]) if has_masks else None,  # type: ignore[misc]
        folder.name,
    )


def mannequin_frames(
    seed: int,
    poses: PoseSequence | None = None,
    *,
    motions: Sequence[str] = ("walk",),
    frames: int = 24,
    size: int = 64,
    fps: float = 24.0,
) -> SubjectFrames:
    """Frames of the procedural mannequin ``MannequinSpec.sample(seed)`` with exact poses and masks, as
    ``toolkit data synth`` renders its subject ``seed`` (plain backdrop).

    Args:
        seed: The mannequin.
        poses: Poses to render it in; default one loop of each of ``motions`` (made with the mannequin's
            proportions and ``seed``), ``frames`` frames each on a ``size x size`` canvas at ``fps``.
        motions: Motion names (``toolkit.pose.motions``), when ``poses`` is None.
        frames: Frames per motion. Default 24.
        size: Canvas side in pixels. Default 64.
        fps: Frame rate. Default 24.
    """
    spec = MannequinSpec.sample(seed)
    if poses is None:
        poses = PoseSequence.concatenate(
            [
                make_motion(m, frames, fps, size, size, proportions=spec.proportions, seed=seed)
                for m in motions
            ]
        )
    rendered = list(render_sequence(spec, poses))
    images = np.stack([frame.image for frame in rendered])
    masks = np.stack([frame.mask for frame in rendered])
    return _subject_frames(images, poses.to_layout("body_18"), masks, f"mannequin_{seed}")


def _subject_frames(
    images: np.ndarray, poses: PoseSequence, masks: np.ndarray | None, name: str
) -> SubjectFrames:
    return SubjectFrames(images, poses, masks, name=name)


def is_clip(folder: Path) -> bool:
    """Whether ``folder`` is one clip: an ``images/`` folder and its ``poses.json``."""
    return (folder / "images").is_dir() and (folder / "poses.json").is_file()


def _read_clip(folder: Path) -> SubjectFrames:
    try:
        images = np.stack([read_image(path) for path in list_images(folder / "images")])
        masks = None
        if (folder / "masks").is_dir():
            masks = np.stack([read_image(path, mode="L") > 127 for path in list_images(folder / "masks")])
    except (MediaError, ValueError) as err:
        raise DataError(f"{folder}: {err}") from None
    poses = load_poses(folder / "poses.json").to_layout("body_18")
    if len(poses) != len(images) or (masks is not None and len(masks) != len(images)):
        counts = f"{len(images)} images, {len(poses)} poses" + (
            "" if masks is None else f", {len(masks)} masks"
        )
        raise DataError(f"{folder}: {counts}; give one pose (and mask) per frame")
    if poses.canvas != (images.shape[2], images.shape[1]):
        raise DataError(
            f"{folder}: poses are on a {poses.width}x{poses.height} canvas but the frames are "
            f"{images.shape[2]}x{images.shape[1]}"
        )
    return _subject_frames(images, poses, masks, folder.name)


# ---- pairing ------------------------------------------------------------------------------------------


def knn_pairs(driver: PoseSequence, subject: PoseSequence, feature: str = "angle") -> np.ndarray:
    """For every pose of ``driver`` (person A), the index of the nearest pose of ``subject`` (person B) in
    ``feature`` space (``toolkit.pose.match.FEATURES``): the pairing of the seed paper's cross-subject
    pose2pics and of pics2pics. Returns ``(len(driver),)`` int64."""
    indices, _ = nearest(driver, subject, feature=feature)
    return indices[:, 0].numpy()


# ---- the dataset --------------------------------------------------------------------------------------


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 127.5 - 1.0


def tensor_to_images(tensor: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` float in [-1, 1] -> ``(B, H, W, 3)`` uint8, rounded."""
    pixels = ((tensor.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round()
    return pixels.to(torch.uint8).permute(0, 2, 3, 1).numpy()


@dataclass(frozen=True)
class Augmentation:
    """pix2pix's training augmentation.

    Args:
        jitter: Random jitter: scale up by ``1 + jitter`` and crop back at a random offset; pix2pix's 286
            -> 256 is ``30 / 256``. 0 turns it off. Default ``30 / 256``.
        flip: Mirror half of the samples left-right (poses flip with the image, left and right joints
            swap). Off by default: a subject's clothes and hair are rarely symmetric.
    """

    jitter: float = 30 / 256
    flip: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")


class PairDataset(Dataset):
    """Input -> target pairs for an image-to-image network on ``side x side`` squares.

    Item ``i`` pairs input ``i`` (pose ``inputs.poses[i]`` encoded with ``encoding``, or the image
    ``inputs.images[i]`` when ``encoding`` is None) with target ``targets.images[pairs[i]]``:

    - pose2pics on the subject's own frames: ``inputs = targets``, ``pairs = arange(N)``;
    - cross-subject pose2pics: ``inputs`` = A's frames (only the poses are used), ``pairs =
      knn_pairs(A.poses, B.poses)``;
    - pics2pics: the same pairs with ``encoding=None`` (A's images in).

    A key is an index (the clean sample, for sample grids) or ``(index, draw)``: the sample augmented with
    ``numpy.random.default_rng(draw)``, so that a training run (and a resumed one) sees the same samples.

    Args:
        inputs: A's frames (or B's own).
        targets: B's frames.
        pairs: ``(len(inputs),)`` indices into ``targets``; default ``arange`` (requires equal lengths).
        encoding: A name in ``POSE_ENCODINGS``, or None for image inputs.
        side: Square size the network works at; frames are letterboxed into it.
        augmentation: Random jitter and flips. Default :class:`Augmentation`.

    Items are dicts: ``input (C, side, side)``, ``target (3, side, side)`` float32 in [-1, 1], ``index``.
    """

    def __init__(
        self,
        inputs: SubjectFrames,
        targets: SubjectFrames,
        pairs: np.ndarray | None = None,
        *,
        encoding: str | None = "openpose",
        side: int = 256,
        augmentation: Augmentation | None = None,
    ) -> None:
        if pairs is None:
            if len(inputs) != len(targets):
                raise ValueError(f"{len(inputs)} inputs and {len(targets)} targets: pass pairs to match them")
            pairs = np.arange(len(inputs))
        pairs = np.asarray(pairs, dtype=np.int64)
        if pairs.shape != (len(inputs),) or (
            len(pairs) and not 0 <= pairs.min() <= pairs.max() < len(targets)
        ):
            raise ValueError(f"pairs must be ({len(inputs)},) indices into the {len(targets)} targets")
        if encoding is not None:
            pose_encoding(encoding)
        self.inputs = letterbox_frames(inputs, side)
        self.targets = letterbox_frames(targets, side)
        self.pairs = pairs
        self.encoding = encoding
        self.side = side
        self.augmentation = augmentation or Augmentation()

    @property
    def input_channels(self) -> int:
        return 3 if self.encoding is None else pose_encoding(self.encoding).channels

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index = int(index)
        source = self.inputs.images[index] if self.encoding is None else None
        poses = self.inputs.poses[index]
        target = self.targets.images[self.pairs[index]]
        if draw is not None:
            source, poses, target = self._augment(np.random.default_rng(draw), source, poses, target)
        if self.encoding is None:
            condition = image_to_tensor(source)  # type: ignore[arg-type]
        else:
            condition = torch.from_numpy(encode_poses(poses, self.encoding)[0])
        return {"input": condition, "target": image_to_tensor(target), "index": index}

    def _augment(
        self, rng: np.random.Generator, source: np.ndarray | None, poses: PoseSequence, target: np.ndarray
    ) -> tuple[np.ndarray | None, PoseSequence, np.ndarray]:
        """The same jitter crop and flip on the input (image or pose) and the target."""
        # Both draws are made whatever the settings, so turning one off leaves the other's draws alone.
        grown = round(self.side * (1 + self.augmentation.jitter))
        x0, y0 = (int(v) for v in rng.integers(0, grown - self.side + 1, size=2))
        mirror = bool(rng.random() < 0.5) and self.augmentation.flip

        def crop(image: np.ndarray) -> np.ndarray:
            image = resize_image(image, grown, grown, interpolation="linear")[
                y0 : y0 + self.side, x0 : x0 + self.side
            ]
            return np.ascontiguousarray(image[:, ::-1]) if mirror else image

        box = (x0, y0, x0 + self.side, y0 + self.side)
        poses = crop_poses(resize_poses(poses, grown, grown), box)
        poses = poses.flipped() if mirror else poses
        return (None if source is None else crop(source)), poses, crop(target)
