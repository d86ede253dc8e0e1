"""Per-limb similarity warps (posewarp, Balakrishnan et al. 2018, section 3.2).

posewarp moves each body part of a source image onto the target pose with its own 2-D similarity
transform (rotation, uniform scale, translation), fitted from the part's joints in the source pose to the
same joints in the target pose:

- :func:`limb_points`: the points of every limb, each a joint or the mean of several (the upper body's
  head limb ends at mid-shoulders), with their weights (0 for a missing joint);
- :func:`fit_similarity`: the weighted least-squares similarity between two point sets, in closed form;
  exact for two distinct points (a bone), least squares for more (posewarp's torso quad);
- :func:`warp_layers`: each ``(B, L, C, H, W)`` layer resampled by its own transform with
  ``torch.nn.functional.grid_sample`` (bilinear, zeros outside the source).

Coordinates are the toolkit's pixels: (0, 0) is the centre of the top-left pixel, so a transform maps pixel
centres to pixel centres and ``grid_sample`` runs with ``align_corners=True`` (-1 and +1 are the centres
of the first and last pixels). A transform is a ``(..., 2, 3)`` matrix ``[[a, -b, tx], [b, a, ty]]``
acting on ``(x, y, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

# A limb is a sequence of points; a point is the mean of one or more joints.
LimbPoints = Sequence[Sequence[int]]

# Point spreads below this (squared pixels) have no defined rotation or scale.
_DEGENERATE = 1e-8


def limb_points(keypoints: torch.Tensor, limbs: Sequence[LimbPoints]) -> tuple[torch.Tensor, torch.Tensor]:
    """The points of every limb, padded to the longest limb with weight 0.

    Args:
        keypoints: ``(..., J, 3)`` x, y, confidence in pixels; a joint is missing when its confidence is 0
            or its x, y are not finite.
        limbs: L limbs, each a sequence of points, each point a sequence of joint indices averaged into it
            (``((0,), (1,))`` is the bone from joint 0 to joint 1; ``((0,), (1, 4))`` ends between 1 and 4).

    Returns:
        ``points (..., L, P, 2)`` and ``weights (..., L, P)``: 1 where every joint of the point is present,
        0 for a missing or padding point. P is the most points of any limb.
    """
    num_joints = keypoints.shape[-2]
    used = [j for limb in limbs for point in limb for j in point]
    if not limbs or any(not limb for limb in limbs) or any(not point for limb in limbs for point in limb):
        raise ValueError("every limb needs at least one point, and every point at least one joint")
    if not 0 <= min(used) <= max(used) < num_joints:
        raise ValueError(f"limbs refer to joints {min(used)}..{max(used)} but keypoints have {num_joints}")
    most = max(len(limb) for limb in limbs)
    # Averaging weights and the joints each point needs, built on the host and moved once.
    average = np.zeros((len(limbs), most, num_joints))
    for i, limb in enumerate(limbs):
        for p, point in enumerate(limb):
            average[i, p, list(point)] = 1.0 / len(point)
    average_t = torch.from_numpy(average).to(keypoints)  # (L, P, J)
    needed = torch.from_numpy(average > 0).to(keypoints.device)  # (L, P, J)
    present = (keypoints[..., 2] > 0) & torch.isfinite(keypoints[..., :2]).all(-1)  # (..., J)
    xy = torch.where(present[..., None], keypoints[..., :2], 0.0)  # (..., J, 2)
    points = (average_t[..., None] * xy[..., None, None, :, :]).sum(-2)  # (..., L, P, 2)
    complete = (present[..., None, None, :] | ~needed).all(-1) & needed.any(-1)  # (..., L, P)
    return points, complete.to(keypoints.dtype)


def fit_similarity(
    source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """The similarity transform that maps ``source`` points onto ``target`` points, in least squares.

    Minimises ``sum_k w_k |T(source_k) - target_k|^2`` over ``T(p) = s R(theta) p + t``. With centred
    points ``p_k`` and ``q_k`` (about their weighted means), ``a = s cos(theta)`` and ``b = s sin(theta)``
    are ``sum w (p . q) / sum w |p|^2`` and ``sum w (p x q) / sum w |p|^2``, and ``t`` maps the source
    mean onto the target mean. Two distinct points are matched exactly.

    Degenerate sets fall back gracefully: points all at one place (or one point) give a translation, and
    no weighted point at all gives the identity.

    Args:
        source: ``(..., P, 2)`` x, y.
        target: ``(..., P, 2)`` x, y.
        weights: ``(..., P)`` non-negative weights; default all 1.

    Returns:
        ``(..., 2, 3)`` matrices ``[[a, -b, tx], [b, a, ty]]`` in ``source``'s dtype.
    """
    if source.shape != target.shape or source.shape[-1] != 2:
        raise ValueError(f"source and target must both be (..., P, 2), got {source.shape} and {target.shape}")
    if weights is None:
        weights = torch.ones(source.shape[:-1], dtype=source.dtype, device=source.device)
    w = weights[..., None]  # (..., P, 1)
    total = w.sum(-2).clamp(min=_DEGENERATE)  # (..., 1)
    source_mean = (w * source).sum(-2) / total  # (..., 2)
    target_mean = (w * target).sum(-2) / total
    p = source - source_mean[..., None, :]
    q = target - target_mean[..., None, :]
    spread = (w[..., 0] * (p**2).sum(-1)).sum(-1)  # (..., )
    dot = (w[..., 0] * (p * q).sum(-1)).sum(-1)
    cross = (w[..., 0] * (p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0])).sum(-1)
    defined = spread > _DEGENERATE
    a = torch.where(defined, dot / spread.clamp(min=_DEGENERATE), 1.0)
    b = torch.where(defined, cross / spread.clamp(min=_DEGENERATE), 0.0)
    tx = target_mean[..., 0] - (a * source_mean[..., 0] - b * source_mean[..., 1])
    ty = target_mean[..., 1] - (b * source_mean[..., 0] + a * source_mean[..., 1])
    return torch.stack([torch.stack([a, -b, tx], -1), torch.stack([b, a, ty], -1)], -2)


def limb_transforms(
    source_keypoints: torch.Tensor, target_keypoints: torch.Tensor, limbs: Sequence[LimbPoints]
) -> torch.Tensor:
    """One similarity per limb, from its joints in the source pose to the same joints in the target pose.

    A point counts only when it is present in both poses; a limb with no such point gets the identity.

    Args:
        source_keypoints: ``(..., J, 3)`` in pixels.
        target_keypoints: ``(..., J, 3)`` in pixels, the same layout.
        limbs: As for :func:`limb_points`.

    Returns:
        ``(..., L, 2, 3)`` source-to-target matrices.
    """
    source, source_weights = limb_points(source_keypoints, limbs)
    target, target_weights = limb_points(target_keypoints, limbs)
    return fit_similarity(source, target, source_weights * target_weights)


def apply_transform(transforms: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``(..., 2, 3)`` matrices applied to ``(..., P, 2)`` points -> ``(..., P, 2)``."""
    return points @ transforms[..., :2].transpose(-1, -2) + transforms[..., None, :, 2]


def invert_similarity(transforms: torch.Tensor) -> torch.Tensor:
    """The inverse of ``(..., 2, 3)`` similarity matrices ``[[a, -b, tx], [b, a, ty]]``: ``[[a', -b',
    tx'], [b', a', ty']]`` with ``(a', b') = (a, -b) / (a^2 + b^2)`` and ``t' = -R' t``. A zero scale
    (every target point in one place) has no inverse and raises ``ValueError``."""
    a, b = transforms[..., 0, 0], transforms[..., 1, 0]
    scale2 = a**2 + b**2
    if bool((scale2 <= _DEGENERATE).any()):
        raise ValueError("a transform collapses the plane to a point (zero scale) and cannot be inverted")
    ai, bi = a / scale2, -b / scale2
    tx, ty = transforms[..., 0, 2], transforms[..., 1, 2]
    txi = -(ai * tx - bi * ty)
    tyi = -(bi * tx + ai * ty)
    return torch.stack([torch.stack([ai, -bi, txi], -1), torch.stack([bi, ai, tyi], -1)], -2)


def warp_layers(layers: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Move every layer by its own transform: output pixel ``x`` takes the layer's value at ``T^-1(x)``.

    Args:
        layers: ``(B, L, C, H, W)`` float.
        transforms: ``(B, L, 2, 3)`` source-to-target similarities in pixels (:func:`limb_transforms`).

    Returns:
        ``(B, L, C, H, W)`` bilinearly resampled layers; what comes from outside the source is 0, and a
        layer whose transform has zero scale (it would shrink to a point) is all 0.
        Differentiable with respect to ``layers`` (and ``transforms``).
    """
    if layers.ndim != 5 or transforms.shape != (*layers.shape[:2], 2, 3):
        raise ValueError(
            f"expected layers (B, L, C, H, W) and transforms (B, L, 2, 3), got {tuple(layers.shape)} and "
            f"{tuple(transforms.shape)}"
        )
    batch, count, channels, height, width = layers.shape
    transforms = transforms.to(layers.dtype)
    # A zero scale (a limb whose target joints coincide) shrinks the layer to a point: it is left empty.
    collapsed = (transforms[..., 0, 0] ** 2 + transforms[..., 1, 0] ** 2) <= _DEGENERATE  # (B, L)
    identity = torch.eye(2, 3, dtype=layers.dtype, device=layers.device)
    inverse = invert_similarity(torch.where(collapsed[..., None, None], identity, transforms))
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=layers.dtype, device=layers.device),
        torch.arange(width, dtype=layers.dtype, device=layers.device),
        indexing="ij",
    )
    centres = torch.stack([xs, ys], -1).reshape(1, 1, height * width, 2)  # (1, 1, HW, 2)
    source = apply_transform(inverse, centres)  # (B, L, HW, 2)
    # align_corners=True: -1 and +1 are the centres of the first and last pixels.
    size = torch.tensor([max(width - 1, 1), max(height - 1, 1)], dtype=layers.dtype, device=layers.device)
    grid = (2 * source / size - 1).reshape(batch * count, height, width, 2)
    warped = F.grid_sample(
        layers.reshape(batch * count, channels, height, width),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )
    return warped.reshape(batch, count, channels, height, width) * ~collapsed[..., None, None, None]
