"""Global pose normalisation of Everybody Dance Now (Chan, Ginosar, Zhou and Efros, ICCV 2019).

A driving video and a target video differ in where the subject stands and how big they look. EDN maps
the driver's poses onto the target's canvas with a per-frame scale and translation found from the ankles:
the lowest ankle on screen (largest y) marks where the subject stands, and a subject standing closer to
the camera has ankles lower in the frame and looks taller.

The rule implemented, per sequence (driver and target alike):

1. Per frame, the ankle position ``a`` is the y of the lower seen ankle, and the height ``h`` is ``a``
   minus the neck's y (neck to ankle, on screen; frames without a neck or an ankle are skipped).
2. The closest and farthest positions are robust extremes of ``a``: its 95th and 5th percentiles
   (EDN takes the maximum and a clustered minimum; percentiles resist detector outliers).
3. The heights there are the 90th percentile of ``h`` over the frames whose ``a`` lies within 10% of the
   range of each extreme (the subject standing upright at that distance).
4. ``x_c``, the horizontal centre, is the median x of the neck.

Then, for a driver frame with ankle position ``a``, with ``alpha = (a - s_far) / (s_close - s_far)``:

- scale ``k = t_far_h / s_far_h + clip(alpha, 0, 1) * (t_close_h / s_close_h - t_far_h / s_far_h)``
  (EDN's linear interpolation of the height ratio, held at the extremes so a jump does not shrink the
  body);
- ankle target ``A = t_far + alpha * (t_close - t_far)`` (EDN's translation: the driver's ankle range
  mapped linearly onto the target's);
- every joint ``(x, y)`` maps to ``(t_x_c + k (x - s_x_c), A + k (y - a))``.

A driver whose ankle range is under ``min_range`` of its height stands at one distance: ``alpha`` is then
undefined, so the close ratio applies throughout and ``A = t_close + k (a - s_close)`` keeps hops and
steps at the new scale. A target that stands at one distance pins the driver's ankles to it (EDN's
behaviour: the target never moved there, so the network never saw it there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...checks import check_number
from ..sequence import PoseSequence
from ..skeleton import BODY_18
from ._checks import require_body_18

_NECK = BODY_18.index("neck")
_ANKLES = [BODY_18.index("right_ankle"), BODY_18.index("left_ankle")]


@dataclass(frozen=True)
class AnkleRange:
    """Where a subject stands over a sequence, in pixels of its canvas.

    Args:
        close: Ankle y when closest to the camera (lowest on screen).
        far: Ankle y when farthest from the camera.
        close_height: Neck-to-ankle height at ``close``.
        far_height: Neck-to-ankle height at ``far``.
        centre_x: Median x of the neck.
    """

    close: float
    far: float
    close_height: float
    far_height: float
    centre_x: float


def ankle_range(poses: PoseSequence, *, percentile: float = 5.0) -> AnkleRange:
    """Measure a BODY_18 sequence's closest and farthest ankle positions and the heights there.

    Args:
        poses: BODY_18 sequence with the neck and an ankle seen in some frame.
        percentile: The extremes are the ``100 - percentile`` and ``percentile`` percentiles of the
            per-frame ankle y, in [0, 50). Default 5.

    Returns:
        An :class:`AnkleRange` (see the module docstring for the rule).
    """
    require_body_18(poses, "ankle_range")
    percentile = check_number("percentile", percentile, lambda v: 0 <= v < 50, "in [0, 50)")
    ankle, height, neck_x = _per_frame(poses)
    usable = np.isfinite(ankle) & np.isfinite(height)
    if not usable.any():
        raise ValueError("ankle_range: no frame has both the neck and an ankle; cannot place the subject")
    ankle, height = ankle[usable], height[usable]
    close, far = np.percentile(ankle, [100 - percentile, percentile])
    band = 0.1 * (close - far)
    close_height = np.percentile(height[ankle >= close - band], 90)
    far_height = np.percentile(height[ankle <= far + band], 90)
    if min(close_height, far_height) <= 0:
        raise ValueError("ankle_range: the neck is not above the ankles; are the poses upside down?")
    return AnkleRange(
        close=float(close),
        far=float(far),
        close_height=float(close_height),
        far_height=float(far_height),
        centre_x=float(np.nanmedian(neck_x)),
    )


def normalize_to_target(
    driver: PoseSequence, target: PoseSequence, *, percentile: float = 5.0, min_range: float = 0.05
) -> PoseSequence:
    """Scale and move the driver's poses to stand where, and as tall as, the target subject does.

    Args:
        driver: BODY_18 sequence whose motion is kept.
        target: BODY_18 sequence of the target subject (e.g. its training video's poses).
        percentile: Passed to :func:`ankle_range`. Default 5.
        min_range: A driver ankle range under this fraction of its close height counts as standing at one
            distance. Default 0.05.

    Returns:
        The driver's frames (fps, confidences, depth) on the target's canvas. A frame without a seen ankle
        takes the ankle position of the nearest frame that has one.

    Raises:
        ValueError: for non-BODY_18 poses or a sequence without the neck and an ankle in any frame.
    """
    require_body_18(driver, "normalize_to_target")
    require_body_18(target, "normalize_to_target")
    min_range = check_number("min_range", min_range, lambda v: v >= 0, "a fraction >= 0")
    s = ankle_range(driver, percentile=percentile)
    t = ankle_range(target, percentile=percentile)

    ankle = _fill_from_nearest(_per_frame(driver)[0])  # (T,)
    far_ratio, close_ratio = t.far_height / s.far_height, t.close_height / s.close_height
    if s.close - s.far > min_range * s.close_height:
        alpha = (ankle - s.far) / (s.close - s.far)
        scale = far_ratio + np.clip(alpha, 0.0, 1.0) * (close_ratio - far_ratio)
        ankle_out = t.far + alpha * (t.close - t.far)
    else:
        scale = np.full_like(ankle, close_ratio)
        ankle_out = t.close + scale * (ankle - s.close)

    keypoints = driver.keypoints.copy()
    keypoints[..., 0] = t.centre_x + scale[:, None] * (keypoints[..., 0] - s.centre_x)
    keypoints[..., 1] = ankle_out[:, None] + scale[:, None] * (keypoints[..., 1] - ankle[:, None])
    return replace(driver, keypoints=keypoints, width=target.width, height=target.height)


def _per_frame(poses: PoseSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(T,)`` lower ankle y, neck-to-ankle height and neck x, NaN where not seen."""
    xy = poses.keypoints[..., :2].astype(np.float64)
    ankles = xy[:, _ANKLES, 1]  # (T, 2)
    seen = np.isfinite(ankles).any(axis=1)
    ankle = np.full(len(poses), np.nan)
    ankle[seen] = np.nanmax(ankles[seen], axis=1)
    return ankle, ankle - xy[:, _NECK, 1], xy[:, _NECK, 0]


def _fill_from_nearest(values: np.ndarray) -> np.ndarray:
    """``values`` (T,), at least one finite, with each NaN replaced by the nearest finite value (the
    earlier one on a tie)."""
    finite = np.flatnonzero(np.isfinite(values))
    frames = np.arange(values.size)
    right = np.clip(np.searchsorted(finite, frames), 0, finite.size - 1)
    left = np.clip(right - 1, 0, None)
    left_is_nearer = np.abs(frames - finite[left]) <= np.abs(finite[right] - frames)
    nearest = np.where(left_is_nearer, finite[left], finite[right])
    return values[nearest]
