"""Filling missing joints: linear interpolation over short gaps, and median fill for the rest.

Filled joints get the confidence ``FILLED_CONFIDENCE`` (0.05) unless told otherwise: a fixed value far
below what detectors report for a real detection (OpenPose and MediaPipe accept joints from 0.1-0.5 up),
so later steps can tell filled joints from detected ones, or drop them with a threshold. Depth, where the
sequence has it, is filled the same way as x and y.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...checks import check_count, check_number
from ..sequence import PoseSequence

FILLED_CONFIDENCE = 0.05


def interpolate_gaps(
    poses: PoseSequence, *, max_gap: int = 5, confidence: float = FILLED_CONFIDENCE
) -> PoseSequence:
    """Fill each joint's short gaps by linear interpolation between the frames either side.

    Only gaps with an observed frame on both sides are filled (no extrapolation at the ends); longer gaps
    stay missing.

    Args:
        poses: Any layout.
        max_gap: Longest run of consecutive missing frames to fill, >= 1. Default 5 (0.2 s at 24 fps).
        confidence: Confidence given to filled joints, > 0. Default ``FILLED_CONFIDENCE`` (0.05).

    Returns:
        A new sequence; observed joints are unchanged.
    """
    max_gap = check_count("max_gap", max_gap)
    confidence = check_number("confidence", confidence, lambda v: v > 0, "a positive number")
    seen = poses.visible  # (T, J)
    frames = np.arange(len(poses))[:, None]  # (T, 1)
    previous = np.maximum.accumulate(np.where(seen, frames, -1), axis=0)  # last seen frame at or before t
    following = np.minimum.accumulate(np.where(seen, frames, len(poses))[::-1], axis=0)[::-1]
    fill = ~seen & (previous >= 0) & (following < len(poses)) & (following - previous - 1 <= max_gap)

    values = _channels(poses)  # (T, J, C)
    joints = np.arange(poses.num_joints)
    start = values[np.clip(previous, 0, None), joints]  # (T, J, C)
    end = values[np.clip(following, 0, len(poses) - 1), joints]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = ((frames - previous) / (following - previous))[..., None]  # (T, J, 1)
    filled = np.where(fill[..., None], start + weight * (end - start), values)
    return _with_filled(poses, filled, fill, confidence)


def median_fill(
    poses: PoseSequence, *, window: int | None = None, confidence: float = FILLED_CONFIDENCE
) -> PoseSequence:
    """Fill missing joints with the median of that joint's observed positions.

    The fix of the k-NN retrieval baseline for joints a detector missed: a plausible position from the
    same joint elsewhere in the sequence, which keeps the skeleton complete for matching and rendering.

    Args:
        poses: Any layout.
        window: ``None`` (default) for the median over the whole sequence, or an odd number of frames for
            the median over a window centred on each frame, which follows a subject that moves.
        confidence: Confidence given to filled joints, > 0. Default ``FILLED_CONFIDENCE`` (0.05).

    Returns:
        A new sequence; observed joints are unchanged. A joint never observed in the sequence (or in the
        window) stays missing.
    """
    if window is not None:
        window = check_count("window", window)
        if window % 2 == 0:
            raise ValueError(f"window must be an odd number of frames (centred on each frame), got {window}")
    confidence = check_number("confidence", confidence, lambda v: v > 0, "a positive number")
    seen = poses.visible  # (T, J)
    values = np.where(seen[..., None], _channels(poses), np.nan)  # (T, J, C)
    missing = np.argwhere(~seen)  # (N, 2) frame, joint
    with warnings.catch_warnings():
        # A joint with no observation in range has an all-NaN median: it stays missing.
        warnings.simplefilter("ignore", RuntimeWarning)
        if window is None:
            medians = np.nanmedian(values, axis=0)[missing[:, 1]]  # (N, C)
        else:
            half = window // 2
            padded = np.pad(values, ((half, half), (0, 0), (0, 0)), constant_values=np.nan)
            windows = sliding_window_view(padded, window, axis=0)  # (T, J, C, window)
            medians = np.nanmedian(windows[missing[:, 0], missing[:, 1]], axis=-1)  # (N, C)
    filled = values.copy()
    filled[missing[:, 0], missing[:, 1]] = medians
    fill = ~seen & np.isfinite(filled[..., :2]).all(-1)
    return _with_filled(poses, filled, fill, confidence)


def _channels(poses: PoseSequence) -> np.ndarray:
    """``(T, J, C)`` float64 values to fill: x, y and, if present, depth."""
    xy = poses.keypoints[..., :2].astype(np.float64)
    if poses.depth is None:
        return xy
    return np.concatenate([xy, poses.depth[..., None].astype(np.float64)], axis=-1)


def _with_filled(
    poses: PoseSequence, filled: np.ndarray, fill: np.ndarray, confidence: float
) -> PoseSequence:
    """``poses`` with the joints where ``fill`` (T, J) is set taken from ``filled`` (T, J, C)."""
    keypoints = poses.keypoints.copy()
    keypoints[..., :2] = np.where(fill[..., None], filled[..., :2], keypoints[..., :2])
    keypoints[..., 2] = np.where(fill, confidence, keypoints[..., 2])
    depth = poses.depth
    if depth is not None:
        depth = np.where(fill, filled[..., 2], depth).astype(np.float32)
    return replace(poses, keypoints=keypoints, depth=depth)
