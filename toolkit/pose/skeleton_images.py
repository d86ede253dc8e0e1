"""A pose sequence as OpenPose skeleton images, each drawn when it is asked for, so that a clip of any
length costs the memory of the frames in use: drawn whole, 10,000 frames at 512 px would be 7.9 GB."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import overload

import numpy as np

from .encode import render_openpose
from .sequence import PoseSequence


class SkeletonImages(Sequence[np.ndarray]):
    """``(H, W, 3)`` uint8 RGB skeleton images of BODY_18 ``poses`` (see :func:`~.encode.render_openpose`),
    as a sequence: ``images[i]``, ``images[2:5]``, ``len(images)``, iteration, and :meth:`draw` for a batch.

    Args:
        poses: BODY_18 poses; their canvas is the images' size.
        scale_to_canvas: Thicken strokes in proportion on canvases larger than 512 px (ControlNet's
            convention, as ``render_openpose``). Default False.
    """

    def __init__(self, poses: PoseSequence, *, scale_to_canvas: bool = False) -> None:
        self.poses = poses.to_layout("body_18")
        self.scale_to_canvas = scale_to_canvas

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of every image."""
        return self.poses.width, self.poses.height

    def draw(self, indices: Iterable[int]) -> np.ndarray:
        """The images of frames ``indices``, ``(N, H, W, 3)`` uint8 RGB."""
        keypoints = self.poses.keypoints[list(indices)]
        width, height = self.size
        if not len(keypoints):
            return np.zeros((0, height, width, 3), np.uint8)
        return render_openpose(keypoints, width, height, scale_to_canvas=self.scale_to_canvas)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> SkeletonImages: ...
    def __getitem__(self, index: int | slice) -> np.ndarray | SkeletonImages:
        if isinstance(index, slice):
            return SkeletonImages(self.poses[index], scale_to_canvas=self.scale_to_canvas)
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        return self.draw([index % len(self)])[0]

    def sha256(self) -> str:
        """A hash of what decides the drawings (keypoints, confidences, canvas, stroke scaling), cheap at
        any length."""
        digest = hashlib.sha256(repr((self.size, self.scale_to_canvas)).encode())
        digest.update(np.ascontiguousarray(self.poses.keypoints).tobytes())
        return digest.hexdigest()
