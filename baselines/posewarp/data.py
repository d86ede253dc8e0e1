"""posewarp's inputs and training pairs: pose maps, the limb-mask prior, the shared jitter, the dataset."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from toolkit.data.datasets import image_to_tensor, letterbox_frames
from toolkit.data.subject import SubjectFrames
from toolkit.nn.warp import limb_transforms
from toolkit.pose.encode import gaussian_heatmaps, posewarp_limb_masks
from toolkit.pose.sequence import PoseSequence

from .model import REFERENCE_SIZE, WARP_LIMBS, PosewarpConfig, PosewarpInputs

# log(prior + 1e-10): a limb absent from the prior stays absent after the softmax.
_LOG_EPSILON = 1e-10


def pose_maps(keypoints: torch.Tensor, config: PosewarpConfig) -> torch.Tensor:
    """``(..., J, 3)`` keypoints on the ``S x S`` image -> ``(..., J, S/2, S/2)`` heatmaps at half
    resolution, sigma ``joint_sigma / 2`` scaled from 256 px."""
    half = keypoints.clone()
    half[..., :2] = (keypoints[..., :2] + 0.5) / 2 - 0.5
    sigma = config.joint_sigma / 2 * config.size / REFERENCE_SIZE
    return gaussian_heatmaps(half, config.size // 2, config.size // 2, sigma)


def log_mask_prior(keypoints: torch.Tensor, config: PosewarpConfig) -> torch.Tensor:
    """``(..., J, 3)`` keypoints on the ``S x S`` image -> ``(..., L + 1, S, S)`` log priors: background
    first, then posewarp's limb masks. The masks are drawn at 256 px, where their widths are defined, and
    area-resized to S."""
    scale = REFERENCE_SIZE / config.size
    big = keypoints.clone()
    big[..., :2] = (keypoints[..., :2] + 0.5) * scale - 0.5
    masks = posewarp_limb_masks(big, REFERENCE_SIZE, REFERENCE_SIZE)  # (..., L, 256, 256)
    lead = masks.shape[:-3]
    masks = F.interpolate(masks.reshape(-1, *masks.shape[-3:]), size=(config.size, config.size), mode="area")
    masks = masks.reshape(*lead, *masks.shape[-3:])
    background = 1.0 - masks.amax(-3, keepdim=True)
    return torch.log(torch.cat([background, masks], -3) + _LOG_EPSILON)


def layout_keypoints(poses: PoseSequence, layout: str) -> torch.Tensor:
    """``(T, J, 3)`` float32 keypoints of ``poses`` in posewarp's ``layout``."""
    return torch.from_numpy(np.ascontiguousarray(poses.to_layout(layout).keypoints, dtype=np.float32))


def prepare_inputs(
    source: torch.Tensor,
    source_keypoints: torch.Tensor,
    target_keypoints: torch.Tensor,
    config: PosewarpConfig,
) -> PosewarpInputs:
    """Encode a batch: ``(B, 3, S, S)`` sources and ``(B, J, 3)`` keypoints (``layout``, on the S x S
    image) -> :class:`PosewarpInputs`."""
    return PosewarpInputs(
        source=source,
        source_pose=pose_maps(source_keypoints, config),
        target_pose=pose_maps(target_keypoints, config),
        log_prior=log_mask_prior(source_keypoints, config),
        transforms=limb_transforms(source_keypoints, target_keypoints, WARP_LIMBS[config.layout]),
    )


# posewarp's augmentation ranges (param.py): scale, rotation in degrees, shift in pixels of a 256 px crop.
SCALE_RANGE = (0.90, 1.05)
MAX_ROTATION = 5.0
MAX_SHIFT = 10


@dataclass(frozen=True)
class Jitter:
    """One draw of posewarp's augmentation, applied alike to both frames of a pair.

    ``flip`` mirrors left-right (left and right joints swap); then the image is scaled by ``scale`` about
    its centre, shifted by ``shift`` (x, y) pixels and rotated by ``degrees`` (counter-clockwise on
    screen) about its centre.
    """

    flip: bool = False
    scale: float = 1.0
    shift: tuple[int, int] = (0, 0)
    degrees: float = 0.0

    @classmethod
    def draw(cls, rng: np.random.Generator, size: int) -> Jitter:
        """posewarp's draw (``rand_augmentations``) for an ``size x size`` image; the shift's range is
        scaled from 256 px."""
        flip = bool(rng.random() >= 0.5)
        scale = float(rng.uniform(*SCALE_RANGE))
        reach = MAX_SHIFT * size / REFERENCE_SIZE
        shift = (int(reach * (rng.random() - 0.5)), int(reach * (rng.random() - 0.5)))
        degrees = float((rng.random() - 0.5) * 2 * MAX_ROTATION)
        return cls(flip, scale, shift, degrees)

    def matrix(self, size: int) -> np.ndarray:
        """The ``(2, 3)`` float64 affine of the scale, shift and rotation on pixel centres of an ``size x
        size`` image (the convention of ``cv2.warpAffine``)."""
        centre = ((size - 1) / 2, (size - 1) / 2)
        rotate = np.vstack([cv2.getRotationMatrix2D(centre, self.degrees, 1.0), [0, 0, 1]])
        scale = np.vstack([cv2.getRotationMatrix2D(centre, 0.0, self.scale), [0, 0, 1]])
        shift = np.array([[1, 0, self.shift[0]], [0, 1, self.shift[1]], [0, 0, 1]], dtype=np.float64)
        return (rotate @ shift @ scale)[:2]

    def apply(self, image: np.ndarray, poses: PoseSequence) -> tuple[np.ndarray, PoseSequence]:
        """Jitter an ``(S, S, 3)`` uint8 image and its one-frame pose alike; what comes from outside the
        image is black (as in posewarp)."""
        size = image.shape[0]
        if self.flip:
            image, poses = np.ascontiguousarray(image[:, ::-1]), poses.flipped()
        matrix = self.matrix(size)
        image = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        keypoints = poses.keypoints.copy()
        xy = keypoints[..., :2].astype(np.float64)
        keypoints[..., :2] = xy @ matrix[:, :2].T + matrix[:, 2]
        return image, replace(poses, keypoints=keypoints)


class PairsDataset(Dataset):
    """(source, target) frame pairs of one subject, letterboxed into ``size x size``.

    Key ``(index, draw)``: source frame ``index`` and, with ``default_rng(draw)``, a target among the
    frames more than ``min_gap`` of the video's length away (posewarp's rule), then (with ``augment``) one
    :class:`Jitter` for both frames. A plain index pairs it with the frame half the sequence away, without
    jitter (the clean samples of sample grids).

    Items: ``source``/``target`` ``(3, S, S)``, ``source_pose``/``target_pose`` ``(J, S/2, S/2)``,
    ``log_prior`` ``(L + 1, S, S)``, ``transforms`` ``(L, 2, 3)``.

    Raises:
        ValueError: fewer than 2 frames.
    """

    def __init__(self, frames: SubjectFrames, config: PosewarpConfig) -> None:
        if len(frames) < 2:
            raise ValueError(
                f"posewarp learns from pairs of frames: got {len(frames)} frame(s), need 2 or more"
            )
        boxed = letterbox_frames(frames, config.size)
        self.images = boxed.images
        self.poses = boxed.poses
        self.keypoints = layout_keypoints(boxed.poses, config.layout)
        self.config = config

    def __len__(self) -> int:
        return len(self.images)

    def partners(self, index: int) -> np.ndarray:
        """Indices of the frames that may be ``index``'s target: more than ``min_gap`` of the length
        away. The ends of the video always have one; a middle frame of a short one may have none."""
        count = len(self.images)
        return np.flatnonzero(np.abs(np.arange(count) - index) > self.config.min_gap * count)

    def pair(self, key: int | tuple[int, int]) -> tuple[int, int]:
        """The (source, target) frame indices of ``key``."""
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index, count = int(index), len(self.images)
        if draw is None:
            return index, (index + count // 2) % count
        partners = self.partners(index)
        if not len(partners):  # only possible when min_gap is near 0.5: pair with the farther end
            partners = np.array([0 if index >= count / 2 else count - 1])
        return index, int(partners[np.random.default_rng(draw).integers(len(partners))])

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, other = self.pair(key)
        draw = None if isinstance(key, (int, np.integer)) else key[1]
        images, keypoints = [self.images[index], self.images[other]], []
        # A second generator, so the target's draw above is unchanged whether or not jitter is on.
        jitter = (
            Jitter.draw(np.random.default_rng([draw, 1]), self.config.size)
            if draw is not None and self.config.augment
            else None
        )
        for k, frame in enumerate((index, other)):
            poses = self.poses[frame]
            if jitter is not None:
                images[k], poses = jitter.apply(images[k], poses)
            keypoints.append(layout_keypoints(poses, self.config.layout))
        inputs = prepare_inputs(image_to_tensor(images[0])[None], keypoints[0], keypoints[1], self.config)
        item = {name: value[0] for name, value in vars(inputs).items()}
        return {**item, "target": image_to_tensor(images[1])}
