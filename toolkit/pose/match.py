"""Nearest-pose retrieval for the k-NN baseline: pose features, a distance that skips missing joints, exact
k-NN search and frame thresholding.

Given a bank of a subject's frames with their poses, the k-NN baseline shows, for every driving pose, the
bank frame whose pose is nearest. Two feature spaces are registered in ``FEATURES``:

- ``"position"``: joints relative to the neck, in torso lengths. Cheap and intuitive, but it still encodes
  the subject's build (leg and arm length relative to the torso), so across subjects of different
  proportions it can prefer a frame of the wrong phase whose limbs happen to reach the same places.
- ``"angle"``: the image-plane direction of each of BODY_18's 17 limbs as a unit vector. Invariant to
  position, scale and limb lengths, so it compares what the limbs *do*, not how long they are.

Distances are means over the parts seen in both poses, so a missing wrist neither helps nor hurts a match;
they are computed as a few matrix products on torch, exactly (see :func:`masked_sq_distances`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import lookup
from .proportions import BodyProportions
from .sequence import PoseSequence
from .skeleton import BODY_18

_NECK = BODY_18.index("neck")
_HIPS = [BODY_18.index("right_hip"), BODY_18.index("left_hip")]
_SHOULDERS = [BODY_18.index("right_shoulder"), BODY_18.index("left_shoulder")]
_LIMBS = np.array(BODY_18.limbs)  # (17, 2) joint index pairs

# Average adult torso (neck to mid-hip) per shoulder width, for the torso-length fallback.
_TORSO_PER_SHOULDER_WIDTH = BodyProportions().torso / BodyProportions().shoulder_width


@dataclass(frozen=True)
class PoseFeatures:
    """Per-frame feature vectors of a pose sequence, split into parts that can be missing.

    Args:
        values: ``(T, P, D)`` float32; NaN where a part is not seen.
        seen: ``(T, P)`` bool: which parts were measurable in each frame.
    """

    values: np.ndarray
    seen: np.ndarray

    def __len__(self) -> int:
        return self.values.shape[0]


def torso_length(poses: PoseSequence) -> float:
    """One torso length for the whole sequence, in pixels: the median over frames of the distance from the
    neck to the mid-hip.

    A per-sequence median, rather than a per-frame length, keeps the scale steady while the torso
    foreshortens (bending forward, turning) and shrugs off a few bad detections; it assumes the subject's
    distance to the camera does not change much within the sequence (split a sequence where it does).

    Fallbacks, in order, for frames or sequences that lack the joints:

    1. a frame with one hip seen uses that hip (at most ~3% longer than the true torso, since the hip
       lies half a hip width off the body's midline);
    2. a sequence with no frame showing the neck and a hip (an upper-body shot) uses the median shoulder
       width times the average adult ratio of torso to shoulder width (about 1.31);
    3. a sequence with neither uses the torso of an average adult standing as tall as the canvas.

    Returns:
        A positive length in pixels.
    """
    body = poses.to_layout("body_18")
    keypoints = body.keypoints  # (T, 18, 3), NaN where missing
    with np.errstate(invalid="ignore", divide="ignore"):
        # The mean of the hips that are seen; NaN in a frame without hips.
        hips = np.nansum(keypoints[:, _HIPS, :2], axis=1) / body.visible[:, _HIPS].sum(1, keepdims=True)
    torso = np.linalg.norm(keypoints[:, _NECK, :2] - hips, axis=-1)
    shoulders = np.linalg.norm(keypoints[:, _SHOULDERS[0], :2] - keypoints[:, _SHOULDERS[1], :2], axis=-1)
    for lengths, factor in ((torso, 1.0), (shoulders, _TORSO_PER_SHOULDER_WIDTH)):
        lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
        if lengths.size:
            return float(np.median(lengths)) * factor
    return poses.height * BodyProportions().torso


def position_features(poses: PoseSequence) -> PoseFeatures:
    """Joint positions centred on the neck and divided by :func:`torso_length`.

    In a frame without the neck, the midpoint of the shoulders stands in for it (how OpenPose's neck is
    derived from COCO keypoints); a frame with neither has no seen joints. The neck itself is always 0 and
    is counted as seen when present, like any other joint.

    Returns:
        ``values (T, 18, 2)`` float32 and ``seen (T, 18)``.
    """
    keypoints = poses.to_layout("body_18").keypoints
    centre = keypoints[:, _NECK, :2].copy()  # (T, 2)
    no_neck = ~np.isfinite(centre).all(-1)
    centre[no_neck] = keypoints[no_neck][:, _SHOULDERS, :2].mean(axis=1)
    values = (keypoints[..., :2] - centre[:, None]) / torso_length(poses)
    seen = np.isfinite(values).all(-1)
    return PoseFeatures(values.astype(np.float32), seen)


def angle_features(poses: PoseSequence) -> PoseFeatures:
    """Image-plane limb directions: for each of ``BODY_18.limbs`` the unit vector ``(cos, sin)`` from its
    first joint to its second (x right, y down, as in the image). A limb is seen when both joints are.

    Returns:
        ``values (T, 17, 2)`` float32 and ``seen (T, 17)``.
    """
    keypoints = poses.to_layout("body_18").keypoints
    bones = keypoints[:, _LIMBS[:, 1], :2] - keypoints[:, _LIMBS[:, 0], :2]  # (T, 17, 2)
    length = np.linalg.norm(bones, axis=-1, keepdims=True)
    # Two joints detected on the same pixel give no direction.
    seen = np.isfinite(length[..., 0]) & (length[..., 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(seen[..., None], bones / length, np.nan)
    return PoseFeatures(values.astype(np.float32), seen)


FEATURES: dict[str, Callable[[PoseSequence], PoseFeatures]] = {
    "position": position_features,
    "angle": angle_features,
}


def pose_features(poses: PoseSequence, feature: str = "angle") -> PoseFeatures:
    """Features of ``poses`` (any layout convertible to BODY_18) by registry name; see ``FEATURES``."""
    return lookup(FEATURES, feature, "pose feature")(poses)


# --------------------------------------------------------------------------------------------------------
# Distances and search
# --------------------------------------------------------------------------------------------------------


def masked_sq_distances(
    query: PoseFeatures,
    bank: PoseFeatures,
    *,
    chunk_size: int = 1024,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Mean squared distance between feature vectors over the parts seen in both poses.

    ``D[q, b] = sum_p m_qp m_bp |x_qp - y_bp|^2 / sum_p m_qp m_bp``, expanded as
    ``(m_q |x_q|^2) @ m_b^T + m_q @ (m_b |y_b|^2)^T - 2 (m_q x_q) @ (m_b y_b)^T`` over ``count = m_q @
    m_b^T``: a handful of matrix products per chunk of ``chunk_size`` queries, exact up to float32
    rounding (tiny negative results are clamped to 0). A pair with no part seen in both is ``+inf``.
    On GPUs, keep TF32 matrix products off (PyTorch's default) for this: their 10-bit mantissa costs the
    cancellation in the expansion about 1e-3 of ``|x|^2``, the size of the thresholds used on it.

    Args:
        query: Features of Q poses, ``values (Q, P, D)``.
        bank: Features of B poses from the same registry entry, ``values (B, P, D)``.
        chunk_size: Queries per block; memory is about ``5 * chunk_size * B`` floats. Default 1024.
        device: Where to compute. Default ``"cpu"``.

    Returns:
        ``(Q, B)`` float32 tensor on ``device``.
    """
    _check_compatible(query, bank)
    _check_chunk_size(chunk_size)
    # Unseen parts are zeroed, so m x = x and m |x|^2 = |x|^2 below.
    x, mx = _packed(query, device)  # (Q, P, D), (Q, P)
    y, my = _packed(bank, device)  # (B, P, D), (B, P)
    my_t = my.T  # (P, B)
    bank_sq = y.square().sum(-1).T  # (P, B)
    bank_flat = y.flatten(1).T  # (P * D, B)
    out = torch.empty(len(x), len(y), dtype=torch.float32, device=device)
    for start in range(0, len(x), chunk_size):
        xs, ms = x[start : start + chunk_size], mx[start : start + chunk_size]
        count = ms @ my_t  # (q, B)
        total = xs.square().sum(-1) @ my_t + ms @ bank_sq - 2 * xs.flatten(1) @ bank_flat
        mean = total.clamp_min_(0) / count.clamp_min(1)
        out[start : start + chunk_size] = mean.masked_fill_(count == 0, float("inf"))
    return out


def pose_distances(
    query: PoseSequence,
    bank: PoseSequence,
    *,
    feature: str = "angle",
    chunk_size: int = 1024,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``(Q, B)`` float32 distance matrix between every query pose and every bank pose in ``feature`` space
    (see ``FEATURES`` and :func:`masked_sq_distances`)."""
    return masked_sq_distances(
        pose_features(query, feature), pose_features(bank, feature), chunk_size=chunk_size, device=device
    )


def nearest(
    query_poses: PoseSequence,
    bank_poses: PoseSequence,
    *,
    feature: str = "angle",
    k: int = 1,
    chunk_size: int = 1024,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest bank poses for every query pose.

    Only one ``(chunk_size, B)`` block of distances exists at a time, so banks far larger than the query
    fit in memory.

    Args:
        query_poses: Q driving poses.
        bank_poses: B poses of the bank frames.
        feature: Feature space, a key of ``FEATURES``. Default ``"angle"``.
        k: Neighbours per query, 1 <= k <= B. Default 1.
        chunk_size: Queries per block. Default 1024.
        device: Where to compute. Default ``"cpu"``.

    Returns:
        ``indices (Q, k)`` int64 into the bank and ``distances (Q, k)`` float32, nearest first. With
        ``k = 1`` ties go to the lower bank index, as in :func:`threshold_matches` with ``lam = 0``. A
        query with no part in common with any bank pose gets ``inf`` distances.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(bank_poses):
        raise ValueError(f"k must be an integer from 1 to the bank size {len(bank_poses)}, got {k!r}")
    _check_chunk_size(chunk_size)
    query, bank = pose_features(query_poses, feature), pose_features(bank_poses, feature)
    indices, distances = [], []
    for start in range(0, len(query), chunk_size):
        block = PoseFeatures(query.values[start : start + chunk_size], query.seen[start : start + chunk_size])
        table = masked_sq_distances(block, bank, chunk_size=chunk_size, device=device)
        # min() returns the first of equal values; topk() promises no order among ties.
        found = table.min(dim=1, keepdim=True) if k == 1 else table.topk(k, dim=1, largest=False)
        distances.append(found.values)
        indices.append(found.indices)
    return torch.cat(indices), torch.cat(distances)


# --------------------------------------------------------------------------------------------------------
# Frame thresholding
# --------------------------------------------------------------------------------------------------------


def threshold_matches(distances: torch.Tensor | np.ndarray, lam: float) -> np.ndarray:
    """Pick one bank frame per query frame, switching only when the new nearest frame is clearly better.

    Frame 0 takes its nearest bank frame. At frame t, with previous pick p and nearest bank frame n, the
    pick becomes n only if ``D[t, p] - D[t, n] > lam``; otherwise p is kept. Plain nearest-neighbour
    retrieval flickers between near-equal bank frames under pose noise; the threshold trades that flicker
    for holds, which frame interpolation (``toolkit.data.flow``) then smooths. A query frame with no
    finite distance keeps the previous pick.

    Args:
        distances: ``(Q, B)`` distance matrix, e.g. from :func:`pose_distances`.
        lam: Hysteresis in the feature's distance units, >= 0; 0 switches whenever the nearest frame
            changes. Set it a little below the typical distance between consecutive bank frames, so that
            real motion gets through and noise does not. For ``"angle"`` the distance is close to the mean
            squared limb-angle difference in radians^2; ``lam = 0.003`` (a gain of about 3 degrees RMS)
            suits banks filmed at 24-30 fps. For ``"position"`` the units are squared torso lengths; start
            from 0.002.

    Returns:
        ``(Q,)`` int64 bank indices.
    """
    if not (isinstance(lam, (int, float, np.integer, np.floating)) and np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0 (in the feature's distance units), got {lam!r}")
    table = distances.detach().cpu().numpy() if isinstance(distances, torch.Tensor) else np.asarray(distances)
    if table.ndim != 2 or 0 in table.shape:
        raise ValueError(f"distances must be a non-empty (Q, B) matrix, got shape {table.shape}")
    best = table.argmin(axis=1)
    picks = np.empty(len(table), dtype=np.int64)
    picks[0] = best[0]
    for t in range(1, len(table)):
        previous, candidate = picks[t - 1], best[t]
        # inf - inf is NaN, which compares False: a frame with nothing to compare keeps its pick.
        with np.errstate(invalid="ignore"):
            switch = table[t, previous] - table[t, candidate] > lam
        picks[t] = candidate if switch else previous
    return picks


def count_switches(indices: torch.Tensor | np.ndarray) -> int:
    """How many times consecutive picks in a ``(Q,)`` index sequence differ."""
    indices = np.asarray(indices.cpu() if isinstance(indices, torch.Tensor) else indices).reshape(-1)
    return int(np.count_nonzero(indices[1:] != indices[:-1]))


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def _check_compatible(query: PoseFeatures, bank: PoseFeatures) -> None:
    for name, features in (("query", query), ("bank", bank)):
        if features.values.ndim != 3 or features.seen.shape != features.values.shape[:2]:
            raise ValueError(
                f"{name} features must be values (T, P, D) with seen (T, P), got "
                f"{features.values.shape} and {features.seen.shape}"
            )
    if query.values.shape[1:] != bank.values.shape[1:]:
        raise ValueError(
            f"query and bank features differ in shape: {query.values.shape[1:]} vs {bank.values.shape[1:]}; "
            "compute both with the same feature"
        )


def _check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


def _packed(features: PoseFeatures, device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Values with unseen parts zeroed (their NaN would poison the products) and the mask as float."""
    seen = torch.as_tensor(features.seen, device=device)
    values = torch.as_tensor(features.values, dtype=torch.float32, device=device)
    return torch.where(seen[..., None], values, 0.0), seen.float()
