"""Pixel metrics: PSNR and L1, per frame, averaged over frames."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...checks import check_choice
from .base import Metric, MetricInputs, MetricKind, Score, batches

# Frames per batch for the float64 differences.
_BATCH = 64

# L1 units -> what a difference of 255 grey levels becomes: 1 in [0, 1] units; 2 in [-1, 1] units (PATN's
# ``l1_score`` compares ``2 * (x / 255 - 0.5)``); 255 in grey levels.
L1_UNITS: dict[str, float] = {"0..1": 1.0, "-1..1": 2.0, "0..255": 255.0}


def _squared_error(generated: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 mean squared difference of ``(N, H, W, 3)`` uint8 frame pairs, in grey levels^2."""
    out = np.empty(len(generated))
    for part in batches(len(generated), _BATCH):
        diff = generated[part].astype(np.float64) - target[part]
        out[part] = np.square(diff).reshape(len(diff), -1).mean(axis=1)
    return out


def _absolute_error(generated: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 mean absolute difference of uint8 frame pairs, in grey levels."""
    out = np.empty(len(generated))
    for part in batches(len(generated), _BATCH):
        diff = np.abs(generated[part].astype(np.int16) - target[part])
        out[part] = diff.reshape(len(diff), -1).mean(axis=1, dtype=np.float64)
    return out


@dataclass(frozen=True)
class PSNR(Metric):
    """Peak signal-to-noise ratio per frame, ``10 log10(255^2 / MSE)`` in dB over all pixels and channels
    (scikit-image's ``peak_signal_noise_ratio(target, generated, data_range=255)``), averaged over frames
    (the mean of per-frame dB, not the dB of the mean MSE).

    Settings:
        data_range: Peak value. Default 255.
        max_db: Cap on each frame's PSNR, which also scores frames identical to their target (infinite
            PSNR). Default 100 dB, a common convention; only near-identical frames reach it (MSE below
            ``255^2 / 10^10``, e.g. one grey level off in one of 150,000 values). None: no cap, and an
            identical frame makes the mean +inf.
    """

    name: ClassVar[str] = "psnr"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = True

    data_range: float = 255.0
    max_db: float | None = 100.0

    def __post_init__(self) -> None:
        if not self.data_range > 0:
            raise ValueError(f"PSNR data_range must be positive, got {self.data_range!r}")

    def score(self, inputs: MetricInputs) -> Score:
        mse = _squared_error(inputs.generated, inputs.target)
        cap = math.inf if self.max_db is None else self.max_db
        with np.errstate(divide="ignore"):
            values = np.minimum(10.0 * np.log10(self.data_range**2 / mse), cap)
        return Score(float(values.mean()), values)


@dataclass(frozen=True)
class L1(Metric):
    """Mean absolute difference per frame over all pixels and channels, averaged over frames.

    Settings:
        units: ``"0..1"`` (default: grey levels / 255), ``"-1..1"`` (twice that: PATN's ``l1_score``, on
            images mapped to [-1, 1]) or ``"0..255"`` (grey levels).
    """

    name: ClassVar[str] = "l1"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = False

    units: str = "0..1"

    def __post_init__(self) -> None:
        check_choice(self.units, L1_UNITS, "L1 units")

    def score(self, inputs: MetricInputs) -> Score:
        values = _absolute_error(inputs.generated, inputs.target) * (L1_UNITS[self.units] / 255.0)
        return Score(float(values.mean()), values)
