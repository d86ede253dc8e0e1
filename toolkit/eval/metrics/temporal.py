"""Temporal metrics, one value per transition t-1 -> t: flicker and flow warping error.

Both are in [0, 1] units (grey levels / 255), averaged over pixels and channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...checks import check_choice
from ...data.flow import FLOW_METHODS, optical_flow, warp_image
from .base import Metric, MetricInputs, MetricKind, Score


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """``(N - 1,)`` mean absolute change between consecutive ``(N, H, W, 3)`` uint8 frames, in [0, 1]
    units."""
    values = np.empty(len(frames) - 1)
    for t in range(1, len(frames)):
        values[t - 1] = np.abs(frames[t].astype(np.int16) - frames[t - 1]).mean() / 255.0
    return values


@dataclass(frozen=True)
class Flicker(Metric):
    """How much more the generated video changes from frame to frame than the ground truth does: per
    transition, the mean absolute change between consecutive generated frames minus the same for the
    target frames.

    0 = exactly as much change as the truth; > 0 = flicker or jitter on top of the true motion; < 0 = less
    change than the truth (a frozen video scores minus the truth's motion). So the closer to 0 the better.
    """

    name: ClassVar[str] = "flicker"
    kind: ClassVar[MetricKind] = "sequence"
    higher_is_better: ClassVar[bool | None] = None

    def score(self, inputs: MetricInputs) -> Score:
        values = frame_changes(inputs.generated) - frame_changes(inputs.target)
        return Score(float(values.mean()), values)


def consistent_flow(forward: np.ndarray, backward: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Pixels whose flow is trustworthy: ``(H, W)`` bool.

    ``forward`` is the flow of frame t (``t(p) ~ s(p + forward(p))``) and ``backward`` that of the other
    frame s. A pixel passes when ``q = p + forward(p)`` lies inside the frame and the flows agree both ways
    (Sundaram et al. 2010; Ruder et al. 2016):
    ``|forward(p) + backward(q)|^2 <= alpha (|forward(p)|^2 + |backward(q)|^2) + beta``.
    Pixels that fail are occluded or disoccluded between the frames, or badly matched.
    """
    height, width = forward.shape[:2]
    x = np.arange(width, dtype=np.float32)[None, :] + forward[..., 0]
    y = np.arange(height, dtype=np.float32)[:, None] + forward[..., 1]
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    back = warp_image(np.ascontiguousarray(backward, dtype=np.float32), forward)  # backward(p + forward(p))
    mismatch = np.sum((forward + back) ** 2, axis=-1)
    bound = alpha * (np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)) + beta
    return inside & (mismatch <= bound)


@dataclass(frozen=True)
class WarpError(Metric):
    """Flow warping error: does the generated video move the way the ground truth moves?

    Per transition t-1 -> t:

    1. ``F = optical_flow(target[t], target[t - 1])``, measured on the ground truth, so that
       ``target[t](p) ~ target[t - 1](p + F(p))``;
    2. ``warped = warp_image(generated[t - 1], F)``: the previous generated frame carried along the true
       motion;
    3. the mean absolute difference of ``warped`` and ``generated[t]`` over the pixels where ``F`` is
       trustworthy (:func:`consistent_flow`, with the reverse flow; every pixel when ``occlusion`` is
       False), in [0, 1] units.

    This is the warping error of Lai et al. 2018 ("Learning Blind Video Temporal Consistency"), with the
    flow taken from the ground truth rather than the output, so a generated video that freezes or jitters
    is caught, and with the L1 difference in place of their squared one. It is NaN for a transition where
    no pixel passes the check.

    Settings:
        flow: Optical flow method of ``toolkit.data.flow`` (``"dis"``, default, or ``"farneback"``).
        occlusion: Leave out pixels failing the forward-backward check. Default True.
        alpha: Relative tolerance of the check. Default 0.01 (Ruder et al.).
        beta: Absolute tolerance of the check in pixels^2. Default 0.5 (Ruder et al.).
    """

    name: ClassVar[str] = "warp_error"
    kind: ClassVar[MetricKind] = "sequence"
    higher_is_better: ClassVar[bool | None] = False

    flow: str = "dis"
    occlusion: bool = True
    alpha: float = 0.01
    beta: float = 0.5

    def __post_init__(self) -> None:
        check_choice(self.flow, FLOW_METHODS, "flow method")
        if not (self.alpha >= 0 and self.beta >= 0):
            raise ValueError(f"alpha and beta must be >= 0, got {self.alpha!r} and {self.beta!r}")

    def score(self, inputs: MetricInputs) -> Score:
        generated, target = inputs.generated, inputs.target
        values = np.empty(len(generated) - 1)
        for t in range(1, len(generated)):
            forward = optical_flow(target[t], target[t - 1], method=self.flow)
            warped = warp_image(generated[t - 1], forward)
            error = np.abs(warped.astype(np.int16) - generated[t]).mean(axis=-1) / 255.0  # (H, W)
            if self.occlusion:
                backward = optical_flow(target[t - 1], target[t], method=self.flow)
                valid = consistent_flow(forward, backward, self.alpha, self.beta)
                values[t - 1] = error[valid].mean() if valid.any() else np.nan
            else:
                values[t - 1] = error.mean()
        return Score(float(np.nanmean(values)) if np.isfinite(values).any() else np.nan, values)
