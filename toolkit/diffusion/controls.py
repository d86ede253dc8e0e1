"""From a pose file to ControlNet conditioning images: fit to the canvas, retarget, draw skeletons."""

from __future__ import annotations

import numpy as np

from ..pose.proportions import BodyProportions
from ..pose.sequence import PoseSequence
from ..pose.skeleton_images import SkeletonImages

# Latents are 1/8 of the image size, and the ControlNet's conditioning encoder downsamples by 8 too.
SIZE_MULTIPLE = 8


def check_size(width: int, height: int) -> tuple[int, int]:
    """Return ``(width, height)`` if both are positive multiples of 8; else raise ``ValueError``."""
    if width <= 0 or height <= 0 or width % SIZE_MULTIPLE or height % SIZE_MULTIPLE:
        raise ValueError(
            f"image size must be positive multiples of {SIZE_MULTIPLE}, got {width}x{height} "
            f"(e.g. --size 512x768)"
        )
    return width, height


def prepare_poses(
    poses: PoseSequence, width: int, height: int, proportions: BodyProportions | None = None
) -> PoseSequence:
    """The poses to render, as BODY_18 on a ``width`` x ``height`` canvas.

    Args:
        poses: Any layout the toolkit converts to BODY_18.
        width: Output image width W, a multiple of 8.
        height: Output image height H, a multiple of 8.
        proportions: The subject's body proportions; when given, every frame is retargeted to them
            (the driver's joint angles on the subject's bone lengths, overall size kept) before fitting.

    Returns:
        The sequence moved onto the new canvas with its aspect ratio kept (centred, letterboxed).
    """
    from ..pose.ops import retarget

    check_size(width, height)
    poses = poses.to_layout("body_18")
    if proportions is not None:
        poses = retarget(poses, proportions)
    return poses.fit_to_canvas(width, height)


def control_images(poses: PoseSequence) -> np.ndarray:
    """OpenPose skeleton images of BODY_18 ``poses`` in ControlNet's convention (pixel-identical to
    controlnet-aux), with strokes thickened in proportion on canvases larger than 512 px.

    Returns:
        ``(T, H, W, 3)`` uint8 RGB.
    """
    return skeleton_images(poses).draw(range(len(poses)))


def skeleton_images(poses: PoseSequence) -> SkeletonImages:
    """:func:`control_images` as a sequence that draws each image when it is asked for."""
    return SkeletonImages(poses, scale_to_canvas=True)
