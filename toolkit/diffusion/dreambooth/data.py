"""The instance and class examples: photos cropped to a square, their skeleton images, flips, batches.

Every photo is centre-cropped to a square (aspect kept) and resized to the training resolution, and its
pose is moved by exactly the same crop and resize, so the skeleton drawn from it lies on the person. A
horizontal flip mirrors the image and the pose *and swaps left and right joints* (``PoseSequence.flipped``),
so the flipped skeleton has OpenPose's left/right colours on the correct limbs. Both versions are
prepared once; a batch only indexes them.

Batches are drawn without a ``DataLoader``: the order of epoch ``e`` is a permutation seeded by
``(seed, e)`` and the flips of micro-step ``m`` by ``(seed, m)``, so the data of any step is known from the
step number alone and a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...data.media import list_images, read_image
from ...pose.ops import crop_resize_image, crop_resize_poses
from ...pose.sequence import PoseSequence
from ..controls import control_images


def center_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square of a ``width`` x ``height`` image, as ``(x0, y0, x1, y1)``."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return x0, y0, x0 + side, y0 + side


def prepare_example(
    image: np.ndarray, pose: PoseSequence | None, resolution: int
) -> tuple[np.ndarray, PoseSequence | None]:
    """Centre-crop ``image`` ``(H, W, 3)`` uint8 to a square, resize it to ``resolution``, and move
    ``pose`` (one frame on the image's canvas) the same way. Returns ``(R, R, 3)`` uint8 and the pose on
    the ``R x R`` canvas (or ``None``)."""
    box = center_box(image.shape[1], image.shape[0])
    size = (resolution, resolution)
    cropped = crop_resize_image(image, box, size)
    return cropped, None if pose is None else crop_resize_poses(pose.to_layout("body_18"), box, size)


def read_photos(folder: Path) -> tuple[list[np.ndarray], list[str]]:
    """The images of ``folder`` in natural order as ``(H, W, 3)`` uint8 RGB, and their file names."""
    paths = list_images(folder)
    return [read_image(p) for p in paths], [p.name for p in paths]


@dataclass(frozen=True)
class ExampleSet:
    """Prepared examples; index ``[flip]`` picks the plain (0) or mirrored (1) version.

    Attributes:
        pixels: ``(2, N, 3, R, R)`` float32 in [-1, 1].
        controls: ``(2, N, 3, R, R)`` float32 in [0, 1]; black where there is no pose.
        posed: ``(N,)`` bool, which examples have a pose (and so get ControlNet residuals).
        poses: The prepared poses (``None`` where there is none), for the record and tests.
    """

    pixels: torch.Tensor
    controls: torch.Tensor
    posed: torch.Tensor
    poses: tuple[PoseSequence | None, ...]

    def __len__(self) -> int:
        return self.pixels.shape[1]

    @classmethod
    def build(
        cls, images: list[np.ndarray], poses: list[PoseSequence | None] | None, resolution: int
    ) -> ExampleSet:
        """Prepare every image (and pose, when ``poses`` is given) with :func:`prepare_example`."""
        poses = poses if poses is not None else [None] * len(images)
        prepared = [
            prepare_example(image, pose, resolution) for image, pose in zip(images, poses, strict=True)
        ]
        crops = np.stack([crop for crop, _ in prepared])  # (N, R, R, 3)
        blank = np.zeros((resolution, resolution, 3), np.uint8)
        controls = []
        for _, pose in prepared:
            if pose is None:
                controls.append([blank, blank])
            else:
                both = PoseSequence.concatenate([pose, pose.flipped()])
                controls.append(list(control_images(both)))
        controls_np = np.stack([np.stack(pair) for pair in controls], axis=1)  # (2, N, R, R, 3)
        images_np = np.stack([crops, crops[:, :, ::-1]])  # (2, N, R, R, 3)
        return cls(
            pixels=torch.from_numpy(images_np.copy()).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0,
            controls=torch.from_numpy(controls_np).permute(0, 1, 4, 2, 3).float() / 255.0,
            posed=torch.tensor([pose is not None for _, pose in prepared]),
            poses=tuple(pose for _, pose in prepared),
        )

    def batch(
        self, indices: np.ndarray, flips: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Examples ``indices`` (``(B,)`` ints), mirrored where ``flips`` (``(B,)`` bool): pixels
        ``(B, 3, R, R)``, controls ``(B, 3, R, R)`` and posed ``(B,)``."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        flip = torch.as_tensor(flips, dtype=torch.long)
        return self.pixels[flip, idx], self.controls[flip, idx], self.posed[idx]


def class_photos(folder: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` class images of ``folder`` (natural order)."""
    return [read_image(p) for p in list_images(folder)[:count]]
