"""The metric protocol: what every metric takes (:class:`MetricInputs`), is (:class:`Metric`) and returns
(:class:`MetricResult`).

Three shapes of metric share it, told apart by ``Metric.kind``:

- ``"frame"``: one value per (generated, target) frame pair; the result's ``per_frame`` is ``(N,)`` and its
  ``value`` their mean (SSIM, PSNR, L1, LPIPS, silhouette IoU, PCKh);
- ``"set"``: one value for the two sets of frames, ``per_frame`` is None (FID, KID);
- ``"sequence"``: one value per transition t-1 -> t, ``per_frame`` is ``(N - 1,)`` and ``value`` their mean
  (flicker, warp error).

A metric is a frozen dataclass whose fields are its settings; ``settings`` records them in every result, since
every published number depends on them. A metric that cannot run (a network's weights were not given, an
optional input such as masks or poses is absent) returns a result with ``available=False`` and a one-line
``reason`` instead of raising, so a harness can loop over any names from the registry.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import torch

from ...errors import ToolkitError
from ...pose.sequence import PoseSequence

MetricKind = Literal["frame", "set", "sequence"]


class MetricInputError(ToolkitError, ValueError):
    """Frames, masks, poses or a background handed to a metric have the wrong shape or type."""


class MetricUnavailable(ToolkitError):
    """Raised by ``Metric.score`` when something it needs turns out to be missing only once it runs (e.g. a
    detector's package); ``Metric.compute`` turns it into an unavailable result with this message as the
    reason, a phrase that follows the metric's name."""


def _check_frames(frames: object, what: str) -> np.ndarray:
    if (
        not isinstance(frames, np.ndarray)
        or frames.dtype != np.uint8
        or frames.ndim != 4
        or frames.shape[-1] != 3
    ):
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise MetricInputError(f"{what} must be a (N, H, W, 3) uint8 RGB array, got {dtype} {shape}")
    if len(frames) == 0:
        raise MetricInputError(f"{what} holds no frames")
    return frames


@dataclass(frozen=True, eq=False)
class MetricInputs:
    """Everything a metric may look at. Only ``generated`` and ``target`` are required; a metric that needs
    an absent optional input reports itself unavailable.

    Args:
        generated: ``(N, H, W, 3)`` uint8 RGB frames the method produced.
        target: ``(N, H, W, 3)`` uint8 RGB ground-truth frames, paired with ``generated`` frame by frame (set
            metrics also accept another count or size).
        masks: Optional ``(N, H, W)`` bool ground-truth foreground masks of ``target``.
        materials: Optional ``(N, H, W)`` uint8 material labels of ``target``
            (``toolkit.data.mannequin.MATERIAL_NAMES``: skin, hair, shirt, ...), which mannequin benchmarks
            know exactly; 0 is background.
        poses: Optional target poses, one per frame, on the frames' canvas.
        background: Optional known background of the benchmark (the mannequin renders'): an ``(H, W, 3)``
            uint8 image, an RGB triple or a name in ``toolkit.data.mannequin.BACKGROUNDS``.
        device: Torch device for the network metrics. Default CPU.
    """

    generated: np.ndarray
    target: np.ndarray
    masks: np.ndarray | None = None
    materials: np.ndarray | None = None
    poses: PoseSequence | None = None
    background: np.ndarray | tuple[int, int, int] | str | None = None
    device: str | torch.device = "cpu"

    def __post_init__(self) -> None:
        _check_frames(self.generated, "generated")
        _check_frames(self.target, "target")
        for name, dtype in (("masks", np.bool_), ("materials", np.uint8)):
            labels = getattr(self, name)
            if labels is not None and (
                not isinstance(labels, np.ndarray)
                or labels.dtype != dtype
                or labels.shape != self.target.shape[:3]
            ):
                raise MetricInputError(
                    f"{name} must be a {self.target.shape[:3]} {np.dtype(dtype).name} array matching target, "
                    f"got {getattr(labels, 'dtype', type(labels).__name__)} {getattr(labels, 'shape', None)}"
                )
        if self.poses is not None:
            if not isinstance(self.poses, PoseSequence):
                raise MetricInputError(f"poses must be a PoseSequence, got {type(self.poses).__name__}")
            n, height, width = self.target.shape[:3]
            if len(self.poses) != n or self.poses.canvas != (width, height):
                raise MetricInputError(
                    f"poses must hold one pose per target frame on its {width}x{height} canvas, got "
                    f"{len(self.poses)} poses on {self.poses.width}x{self.poses.height}; resample or "
                    "fit_to_canvas them first"
                )
        try:
            object.__setattr__(self, "device", torch.device(self.device))
        except (RuntimeError, TypeError):
            raise MetricInputError(
                f"device must be a torch device such as 'cpu' or 'cuda:0', got {self.device!r}"
            ) from None

    @property
    def paired(self) -> bool:
        """Whether ``generated`` and ``target`` have the same shape, as frame and sequence metrics need."""
        return self.generated.shape == self.target.shape


@dataclass(frozen=True)
class MetricResult:
    """What a metric returns.

    Attributes:
        name: The metric's registry name.
        value: The score; NaN when unavailable.
        per_frame: ``(N,)`` per-frame values of a frame metric, ``(N - 1,)`` per-transition values of a
            sequence metric (NaN where a frame could not be scored), None for a set metric.
        settings: Every setting the value depends on.
        higher_is_better: True or False; None when the closer to 0 the better.
        available: False when the metric could not run.
        reason: Why it could not run (one line), else None.
        details: Secondary figures (e.g. KID's standard deviation over subsets, the mask source).
    """

    name: str
    value: float
    per_frame: np.ndarray | None
    settings: dict[str, Any]
    higher_is_better: bool | None
    available: bool = True
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN and infinities become None."""

        def number(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "name": self.name,
            "value": number(self.value),
            "per_frame": None if self.per_frame is None else [number(x) for x in self.per_frame.tolist()],
            "settings": self.settings,
            "higher_is_better": self.higher_is_better,
            "available": self.available,
            "reason": self.reason,
            "details": self.details,
        }


class Score(NamedTuple):
    """What a metric's ``score`` returns: the value, the per-frame (or per-transition) values if any, and
    secondary figures."""

    value: float
    per_frame: np.ndarray | None = None
    details: dict[str, Any] = {}


# Optional inputs a metric can need, and the reason it gives when one is absent.
_MISSING_INPUT = {
    "masks": "needs ground-truth foreground masks (MetricInputs.masks)",
    "materials": "needs the true frames' material labels (MetricInputs.materials) of a mannequin benchmark",
    "poses": "needs the target poses (MetricInputs.poses)",
    "background": "needs the benchmark's known background (MetricInputs.background)",
}


@dataclass(frozen=True)
class Metric(ABC):
    """Base class of every metric. Subclasses are frozen dataclasses whose fields are their settings, and
    set the class attributes below.

    Attributes:
        name: Registry name.
        kind: ``"frame"``, ``"set"`` or ``"sequence"`` (see the module docstring).
        higher_is_better: True, False, or None when the closer to 0 the better.
        requires: Optional inputs it needs: any of ``"masks"``, ``"materials"``, ``"poses"``,
            ``"background"``.
    """

    name: ClassVar[str]
    kind: ClassVar[MetricKind]
    higher_is_better: ClassVar[bool | None]
    requires: ClassVar[tuple[str, ...]] = ()

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def unavailable_reason(self, inputs: MetricInputs) -> str | None:
        """Why the metric cannot score ``inputs`` here, as a phrase that follows its name (a network's weights
        were not given, an optional input it ``requires`` is absent), or None."""
        missing = [_MISSING_INPUT[need] for need in self.requires if getattr(inputs, need) is None]
        return missing[0] if missing else None

    def compute(self, inputs: MetricInputs) -> MetricResult:
        """Score ``inputs``; never raises for a missing network or optional input (see ``available``).

        Raises:
            MetricInputError: for a frame or sequence metric, when ``generated`` and ``target`` differ in
                shape.
        """
        if self.kind != "set" and not inputs.paired:
            raise MetricInputError(
                f"{self.name} compares frames pairwise: generated {inputs.generated.shape} and target "
                f"{inputs.target.shape} must have the same shape"
            )
        reason = self.unavailable_reason(inputs)
        if reason is None and self.kind == "sequence" and len(inputs.target) < 2:
            reason = "needs 2 or more frames"
        if reason is None:
            try:
                return self._result(self.score(inputs))
            except MetricUnavailable as err:
                reason = str(err)
        return self._result(Score(math.nan), available=False, reason=f"{self.name} {reason}")

    @abstractmethod
    def score(self, inputs: MetricInputs) -> Score:
        """Compute the metric on validated inputs that hold everything ``requires`` names."""

    def _result(self, score: Score, available: bool = True, reason: str | None = None) -> MetricResult:
        return MetricResult(
            name=self.name,
            value=float(score.value),
            per_frame=score.per_frame,
            settings=self.settings,
            higher_is_better=self.higher_is_better,
            available=available,
            reason=reason,
            details=dict(score.details),
        )


def batches(count: int, size: int) -> list[slice]:
    """Slices that cover ``range(count)`` in chunks of ``size``."""
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def to_tensor(frames: np.ndarray, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` tensor on ``device`` in ``dtype``, values still 0..255."""
    # A copy only when the array is read-only or strided (torch warns on read-only arrays).
    frames = np.require(frames, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).to(dtype)
