"""Silhouette IoU: does the generated figure cover the pixels the target pose's figure covers?

On the procedural mannequin benchmark the background is known exactly, so the generated figure's
silhouette can be read off each frame and compared with the true figure's. That measures pose following
independently of appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ...data.mannequin import background_image
from .base import Metric, MetricInputs, MetricKind, MetricUnavailable, Score, batches, to_tensor

_BATCH = 64


def _max_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """``size`` x ``size`` maximum of ``(B, 1, H, W)``; beyond the border counts as -inf (ignored)."""
    return F.max_pool2d(x, size, stride=1, padding=size // 2)


def foreground(
    frames: torch.Tensor, background: torch.Tensor, threshold: float = 24.0, opening: int = 1
) -> torch.Tensor:
    """The figure in frames rendered over a known background.

    1. ``d`` = the largest absolute difference from the background over the RGB channels, in grey levels.
    2. A pixel is foreground when ``d > threshold``, except on the outline (a foreground pixel with a
       background pixel among its 8 neighbours), where it must also reach half the largest ``d`` among its
       3 x 3 neighbours. Anti-aliased outline pixels blend figure and background in proportion to their
       coverage, and a neighbour inside the figure shows the full contrast, so this keeps the outline
       pixels more than half covered: the rule the mannequin renderer's exact masks follow.
    3. Optionally, a morphological opening with an ``opening`` x ``opening`` square removes specks.

    Args:
        frames: ``(B, 3, H, W)`` RGB in grey levels (0..255), float.
        background: ``(3, H, W)`` background in grey levels, same dtype and device.
        threshold: Grey levels a pixel must differ by. Default 24.
        opening: Odd side of the opening's square; 1 (default) turns it off.

    Returns:
        ``(B, H, W)`` bool.
    """
    d = (frames - background).abs().amax(dim=1, keepdim=True)  # (B, 1, H, W)
    on = (d > threshold).to(d.dtype)
    outline = -_max_filter(-on, 3) < on  # a neighbour is off
    mask = on.bool() & ~(outline & (d < 0.5 * _max_filter(d, 3)))
    if opening > 1:
        eroded = -_max_filter(-mask.to(d.dtype), opening)
        mask = _max_filter(eroded, opening) > 0.5
    return mask[:, 0]


@dataclass(frozen=True)
class SilhouetteIoU(Metric):
    """Per-frame intersection over union of the generated figure's silhouette (:func:`foreground` against
    the benchmark's known background) and the true figure's; 1 when both are empty.

    Settings:
        reference: What the true figure is. ``"frame"`` (default): the ground-truth frame's silhouette,
            read by the same :func:`foreground` rule, so a method that returns the truth scores exactly 1
            and the reading's own error cancels. ``"mask"``: the benchmark's exact masks; the reading then
            costs a pixel or so along the anti-aliased outline (ground-truth renders score about 0.97 at
            128 x 128 and 0.99 at 256 x 256).
        threshold: Grey levels (max over channels) a pixel must differ from the background by. Default 24.
        opening: Odd side of the cleaning opening's square; 1 (default) turns it off.
    """

    name: ClassVar[str] = "silhouette_iou"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = True
    requires: ClassVar[tuple[str, ...]] = ("background",)

    reference: str = "frame"
    threshold: float = 24.0
    opening: int = 1

    def __post_init__(self) -> None:
        if self.reference not in ("frame", "mask"):
            raise ValueError(f"reference must be 'frame' or 'mask', got {self.reference!r}")
        if not 0 <= self.threshold < 255:
            raise ValueError(f"threshold must be in [0, 255) grey levels, got {self.threshold!r}")
        if isinstance(self.opening, bool) or not isinstance(self.opening, int) or self.opening % 2 == 0:
            raise ValueError(f"opening must be an odd positive integer (1 = off), got {self.opening!r}")

    def score(self, inputs: MetricInputs) -> Score:
        height, width = inputs.generated.shape[1:3]
        backdrop = background_image(inputs.background, width, height)
        back = to_tensor(backdrop[None], inputs.device)[0]
        if self.reference == "mask" and inputs.masks is None:
            raise MetricUnavailable("needs the ground-truth masks (reference='mask')")
        values = np.empty(len(inputs.generated))
        for part in batches(len(values), _BATCH):
            found = self._silhouette(inputs.generated[part], back, inputs.device)
            if self.reference == "mask":
                truth = torch.from_numpy(inputs.masks[part]).to(inputs.device)  # type: ignore[index]
            else:
                truth = self._silhouette(inputs.target[part], back, inputs.device)
            union = (found | truth).sum(dim=(1, 2))
            inter = (found & truth).sum(dim=(1, 2))
            values[part] = torch.where(union > 0, inter / union.clamp(min=1), 1.0).cpu().numpy()
        return Score(float(values.mean()), values)

    def _silhouette(self, frames: np.ndarray, back: torch.Tensor, device: str | torch.device) -> torch.Tensor:
        """``(B, H, W)`` bool :func:`foreground` of ``(B, H, W, 3)`` uint8 frames."""
        return foreground(to_tensor(frames, device), back, self.threshold, self.opening)
