"""Scoring rendered clips with the metrics registry, clip by clip or pooled as each kind of metric needs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pose.sequence import PoseSequence
from ..progress import progress_bar
from .benchmarks import EvalClip
from .metrics import Metric, MetricInputs, MetricResult


@dataclass(frozen=True, eq=False)
class ClipOutput:
    """One rendered clip: the benchmark's clip, what the method made, and what making it cost.

    Attributes:
        id: ``SUBJECT/CLIP``, unique in the run.
        folder: Where its frames are saved, relative to the run folder.
        clip: The benchmark's clip (truth, masks, poses, backdrop).
        generated: ``(T, H, W, 3)`` uint8 frames the method made.
        seconds: Wall time of the ``transfer`` call that made them.
        reused: True when the frames were read back from an earlier run instead of rendered now.
    """

    id: str
    folder: str
    clip: EvalClip
    generated: np.ndarray
    seconds: float
    reused: bool


@dataclass(frozen=True, eq=False)
class MetricSummary:
    """One metric over the whole benchmark.

    ``value`` is the metric's own figure over all frames (see :func:`score`). ``per_frame`` maps a clip id
    to ``(T,)`` values aligned with its frames: a sequence metric's transition t-1 -> t sits at frame t, and
    frame 0 is NaN; empty for set metrics and unavailable ones.
    """

    name: str
    kind: str
    value: float
    higher_is_better: bool | None
    available: bool
    reason: str | None
    settings: dict[str, Any]
    details: dict[str, Any]
    per_frame: dict[str, np.ndarray]

    def per_clip(self) -> dict[str, float]:
        """Mean value per clip id (frame and sequence metrics only)."""
        return {clip: _nanmean(values) for clip, values in self.per_frame.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": finite_or_none(self.value),
            "kind": self.kind,
            "higher_is_better": self.higher_is_better,
            "available": self.available,
            "reason": self.reason,
            "settings": self.settings,
            "details": self.details,
        }


def score(
    outputs: Sequence[ClipOutput],
    metrics: Sequence[Metric],
    *,
    temporal: bool = True,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, MetricSummary]:
    """Score rendered clips with each metric.

    - Frame metrics run once on all clips that share a canvas, frame rate and backdrop (for the built-in
      benchmarks, all clips at once), with their masks and target poses, so the value is the metric's own
      pooled figure (PCKh pools joints, the others average frames).
    - Sequence metrics run clip by clip, so no transition spans two clips; the value is the mean over all
      transitions.
    - Set metrics (FID, KID) run once on all frames.

    A metric that cannot run is reported unavailable with its reason.

    Args:
        outputs: Rendered clips.
        metrics: Metric instances.
        temporal: False when clips are unordered stills: sequence metrics are then unavailable.
        device: Torch device for the network metrics.
        progress: Show a progress bar over the metrics.
    """
    scores = {}
    for metric in progress_bar(metrics, desc="scoring", unit="metric", disable=not progress):
        if metric.kind == "sequence" and not temporal:
            reason = f"{metric.name} needs video clips; this benchmark's clips are unordered stills"
            scores[metric.name] = _unavailable(metric, reason)
            continue
        batches = {"set": [list(outputs)], "sequence": [[o] for o in outputs]}.get(metric.kind) or _groups(
            outputs
        )
        results = [metric.compute(_inputs(batch, device, metric.kind != "set")) for batch in batches]
        scores[metric.name] = _summarise(metric, batches, results)
    return scores


def _groups(outputs: Sequence[ClipOutput]) -> list[list[ClipOutput]]:
    """Clips that can be scored together: same canvas, frame rate, backdrop, and availability of masks and
    material labels."""
    groups: dict[tuple[Any, ...], list[ClipOutput]] = {}
    for o in outputs:
        clip = o.clip
        backdrop = None if clip.background is None else hashlib.sha1(clip.background.tobytes()).hexdigest()
        labels = (clip.masks is None, clip.materials is None)
        key = (clip.truth.shape[1:], clip.target_poses.fps, labels, backdrop)
        groups.setdefault(key, []).append(o)
    return list(groups.values())


def _inputs(batch: Sequence[ClipOutput], device: str, extras: bool) -> MetricInputs:
    """The clips of ``batch`` joined into one :class:`MetricInputs`; with ``extras``, their masks, target
    poses and (shared) backdrop too."""
    generated = np.concatenate([o.generated for o in batch])
    truth = np.concatenate([o.clip.truth for o in batch])
    if not extras:
        return MetricInputs(generated, truth, device=device)
    clips = [o.clip for o in batch]
    return MetricInputs(
        generated,
        truth,
        masks=_joined([c.masks for c in clips]),
        materials=_joined([c.materials for c in clips]),
        poses=PoseSequence.concatenate([c.target_poses for c in clips]),
        background=clips[0].background,
        device=device,
    )


def _joined(labels: list[np.ndarray | None]) -> np.ndarray | None:
    """The clips' per-frame label arrays end to end, or None unless every clip has them."""
    return None if any(x is None for x in labels) else np.concatenate(labels)  # type: ignore[arg-type]


def _summarise(metric: Metric, batches: list[list[ClipOutput]], results: list[MetricResult]) -> MetricSummary:
    missing = next((r for r in results if not r.available), None)
    if missing is not None:
        return _unavailable(metric, missing.reason or "unavailable")
    per_frame: dict[str, np.ndarray] = {}
    if metric.kind != "set":
        for batch, result in zip(batches, results, strict=True):
            lengths = [len(o.clip) for o in batch]
            values = _aligned(result, sum(lengths))
            for o, part in zip(batch, np.split(values, np.cumsum(lengths)[:-1]), strict=True):
                per_frame[o.id] = part
    # One run gives the metric's own figure; several are pooled over frames (or transitions).
    value = results[0].value if len(results) == 1 else _nanmean(np.concatenate(list(per_frame.values())))
    details = results[0].details if len(results) == 1 else {}
    return MetricSummary(
        metric.name,
        metric.kind,
        value,
        metric.higher_is_better,
        True,
        None,
        metric.settings,
        details,
        per_frame,
    )


def _aligned(result: MetricResult, frames: int) -> np.ndarray:
    """``(frames,)`` per-frame values; a sequence metric's transition t-1 -> t is put at frame t."""
    values = np.full(frames, np.nan)
    if result.per_frame is not None:
        values[frames - len(result.per_frame) :] = result.per_frame
    return values


def _unavailable(metric: Metric, reason: str) -> MetricSummary:
    return MetricSummary(
        metric.name, metric.kind, math.nan, metric.higher_is_better, False, reason, metric.settings, {}, {}
    )


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


__all__ = ["ClipOutput", "MetricSummary", "finite_or_none", "score"]
