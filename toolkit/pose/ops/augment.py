"""Pose augmentation after Ren et al., "Human motion transfer from poses in the wild" (ECCV workshops 2020).

Poses detected in the wild are noisy: joints go missing, whole limbs vanish behind the body, positions
jitter, and the subject's proportions differ from the training subject's. Training a pose-to-image network
on poses corrupted the same way makes it robust to them. Each augmentation here draws from a generator
passed in, so a seed gives the same corruption every time.

In order:

1. Limb scaling: each bone's length is multiplied by its own factor from ``U(1 - limb_scale, 1 +
   limb_scale)``, drawn once per sequence (a clip keeps one body), and every descendant moves with its
   bone's end, so the skeleton stays connected (see :func:`~toolkit.pose.ops.retarget.retarget`, whose
   foreshortening-keeping mode this is).
2. Jitter: every seen joint moves by Gaussian noise of ``jitter`` pixels per coordinate, per frame.
3. Limb drop: per frame, each bone is dropped with probability ``drop_limb``, which removes its end joint
   and everything hanging from it (a forearm takes the wrist; an upper arm the elbow and the wrist), as a
   detector loses a limb that is hidden.
4. Joint drop: per frame, each joint is dropped with probability ``drop_joint``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...checks import check_number
from ..sequence import PoseSequence
from ._checks import require_body_18
from .retarget import NUM_BONES, TREE_ORDER, bone_lengths, retarget


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths of each pose augmentation; 0 turns one off.

    Args:
        drop_joint: Probability of dropping each joint in each frame, in [0, 1]. Default 0.05.
        drop_limb: Probability of dropping each bone (and what hangs from it) in each frame, in [0, 1].
            Default 0.02.
        jitter: Standard deviation in pixels of the Gaussian noise added to x and y, >= 0. Default 2.0.
        limb_scale: Bone lengths are scaled by factors in ``[1 - limb_scale, 1 + limb_scale]``, in [0, 1).
            Default 0.1.
    """

    drop_joint: float = 0.05
    drop_limb: float = 0.02
    jitter: float = 2.0
    limb_scale: float = 0.1

    def __post_init__(self) -> None:
        probability = (lambda v: 0 <= v <= 1, "a probability in [0, 1]")
        check_number("AugmentConfig.drop_joint", self.drop_joint, *probability)
        check_number("AugmentConfig.drop_limb", self.drop_limb, *probability)
        check_number("AugmentConfig.jitter", self.jitter, lambda v: v >= 0, "a number of pixels >= 0")
        check_number("AugmentConfig.limb_scale", self.limb_scale, lambda v: 0 <= v < 1, "in [0, 1)")


def jitter_poses(poses: PoseSequence, pixels: float, rng: np.random.Generator) -> PoseSequence:
    """``poses`` with detector-like jitter: Gaussian noise of ``pixels`` on x and y of every joint in every
    frame, drawn from ``rng`` as one ``(T, J, 2)`` array; missing joints stay missing (NaN + noise). Any
    layout."""
    check_number("pixels", pixels, lambda v: v >= 0, "a number of pixels >= 0")
    keypoints = poses.keypoints.copy()
    keypoints[..., :2] += rng.normal(0.0, pixels, keypoints[..., :2].shape)
    return replace(poses, keypoints=keypoints)


def augment_poses(
    poses: PoseSequence, rng: np.random.Generator | int, config: AugmentConfig | None = None
) -> PoseSequence:
    """Corrupt a BODY_18 sequence as poses in the wild are corrupted (see the module docstring).

    Args:
        poses: BODY_18 sequence.
        rng: A ``numpy.random.Generator`` (advanced by the draws) or an integer seed.
        config: Strengths; default ``AugmentConfig()``.

    Returns:
        A new sequence with the same canvas, fps and depth; dropped joints are missing.
    """
    require_body_18(poses, "augment_poses")
    config = config or AugmentConfig()
    if not isinstance(rng, np.random.Generator):
        if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
            raise ValueError(f"rng must be a numpy.random.Generator or an integer seed, got {rng!r}")
        rng = np.random.default_rng(rng)
    frames, joints = len(poses), poses.num_joints

    # Every draw is made whatever the config, so changing one strength leaves the others' draws alone.
    factors = rng.uniform(1 - config.limb_scale, 1 + config.limb_scale, NUM_BONES)  # (17,)
    noise = rng.normal(0.0, 1.0, (frames, joints, 2)) * config.jitter  # (T, J, 2)
    limb_dropped = rng.random((frames, NUM_BONES)) < config.drop_limb  # (T, 17)
    joint_dropped = rng.random((frames, joints)) < config.drop_joint  # (T, J)

    lengths = bone_lengths(poses)
    if config.limb_scale > 0 and np.isfinite(lengths).any():
        poses = retarget(poses, factors * lengths, keep_foreshortening=True)
    keypoints = poses.keypoints.copy()
    keypoints[..., :2] += noise
    # A dropped bone takes its end joint and, parents coming first in the tree, all of its descendants.
    limb_gone = np.zeros_like(joint_dropped)
    for bone, parent, child in TREE_ORDER:
        limb_gone[:, child] = limb_dropped[:, bone] | limb_gone[:, parent]
    keypoints[limb_gone | joint_dropped] = (np.nan, np.nan, 0.0)
    return replace(poses, keypoints=keypoints)
