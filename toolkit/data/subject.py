"""``SubjectFrames``: a subject's frames with their poses, the one input type of every method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pose.sequence import PoseSequence


@dataclass(frozen=True, eq=False)
class SubjectFrames:
    """Frames of one subject with their poses: what a method learns from, or is given as a source.

    Args:
        images: ``(N, H, W, 3)`` uint8 RGB frames.
        poses: ``N`` poses on the frames' ``W x H`` canvas (BODY_18).
        masks: Optional ``(N, H, W)`` bool foreground masks.
        name: Subject name, for logs and reports.
        description: What the subject looks like, in words, where it is known (a mannequin benchmark gives
            its subject's caption, ``toolkit.data.mannequin.captions``); empty otherwise.
    """

    images: np.ndarray
    poses: PoseSequence
    masks: np.ndarray | None = None
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        images = self.images
        if not (isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[-1] == 3):
            raise ValueError(f"images must be an (N, H, W, 3) array, got shape {np.shape(images)}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 RGB, got {images.dtype}")
        if len(self.poses) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.poses)} poses: they must pair up")
        if self.poses.canvas != (images.shape[2], images.shape[1]):
            raise ValueError(
                f"poses are on a {self.poses.width}x{self.poses.height} canvas but the images are "
                f"{images.shape[2]}x{images.shape[1]}: fit the poses to the images first"
            )
        if self.masks is not None and self.masks.shape != images.shape[:3]:
            raise ValueError(f"masks must have shape {images.shape[:3]}, got {self.masks.shape}")

    def __len__(self) -> int:
        return len(self.images)
