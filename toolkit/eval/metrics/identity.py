"""Identity metrics: is the generated figure *the subject*, in its colours, rather than just in its pose?

Pixel metrics are dominated by the backdrop and the silhouette, so a figure in the right pose and the wrong
clothes scores well on them. The mannequin benchmarks know what every true pixel is painted with (the
renderer's material labels) and what every subject looks like, so identity can be measured exactly:

- :class:`PartColorError`: the CIEDE2000 difference between the generated and the true colour of each
  material region of the true figure (skin, hair, shirt, trousers, shoes).
- :class:`IdentityAccuracy`: whether the generated figure's colours are nearer to its own subject's than
  to those of each of N other mannequins rendered in the same pose.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from ...checks import check_count, check_number
from ...data.mannequin import MATERIAL, MannequinSpec, background_image, render_mannequin
from .base import Metric, MetricInputs, MetricKind, Score, to_tensor
from .color import ciede2000, srgb_to_lab
from .silhouette import foreground

IDENTITY_REGIONS: tuple[str, ...] = ("skin", "hair", "shirt", "trousers", "shoes")
# The distractors are mannequins that no benchmark, demo or training set of the toolkit uses (those lie in
# 0-999 and, for the mini model, 1000-1999), so no subject is ever its own distractor.
DISTRACTOR_SEED = 5000


def region_cores(materials: np.ndarray, erode: int) -> np.ndarray:
    """Pixels whose whole ``(2 erode + 1)``-square neighbourhood has their own material label.

    Anti-aliased pixels on an outline or on a seam between two materials (a sleeve's end, a waistband) mix
    two colours; they are the ones left out.

    Args:
        materials: ``(H, W)`` uint8 material labels.
        erode: Neighbourhood radius in pixels; 0 keeps every pixel.

    Returns:
        ``(H, W)`` bool.
    """
    if erode == 0:
        return np.ones(materials.shape, bool)
    kernel = np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)
    lowest = cv2.erode(materials, kernel, borderType=cv2.BORDER_REPLICATE)
    highest = cv2.dilate(materials, kernel, borderType=cv2.BORDER_REPLICATE)
    return lowest == highest


@dataclass(frozen=True)
class PartColorError(Metric):
    """CIEDE2000 between the generated and the true colour of each material region of the true figure,
    averaged over the regions a frame shows, then over frames (lower is better; 0 for the truth).

    For each region of ``regions`` in the true frame's material labels:

    1. its core is kept: pixels more than ``erode`` pixels from another material (no anti-aliased outline or
       seam);
    2. the mean sRGB colour of the generated frame over the core is compared with the true frame's over the
       same pixels, in CIELAB by CIEDE2000. Means are taken in sRGB, where a generator's blur acts, so a
       stripe or check pattern drawn as its blurred average costs nothing, while a pattern in the wrong
       colours does;
    3. regions with fewer than ``min_pixels`` core pixels (a shoe seen edge-on) are skipped.

    The regions are the true figure's, so the error also grows with misalignment: a generated figure
    shifted sideways brings backdrop or a neighbouring part into a region (docs/evaluation.md measures how
    much). ``details["regions"]`` holds each region's mean error over the frames that show it.

    Settings:
        regions: Material names scored. Default skin, hair, shirt, trousers, shoes.
        erode: Pixels trimmed from each region's boundary. Default 1.
        min_pixels: Fewest core pixels for a region to be scored in a frame. Default 4.
    """

    name: ClassVar[str] = "part_color_error"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = False
    requires: ClassVar[tuple[str, ...]] = ("materials",)

    regions: tuple[str, ...] = IDENTITY_REGIONS
    erode: int = 1
    min_pixels: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        unknown = [r for r in self.regions if r not in MATERIAL or r == "background"]
        if unknown or not self.regions:
            names = ", ".join(m for m in MATERIAL if m != "background")
            raise ValueError(f"regions must name materials among {names}; got {list(self.regions)}")
        check_count("erode", self.erode, 0)
        check_count("min_pixels", self.min_pixels, 1)

    def score(self, inputs: MetricInputs) -> Score:
        errors = np.full((len(inputs.target), len(self.regions)), np.nan)  # (N, R)
        for t, labels in enumerate(inputs.materials):  # type: ignore[arg-type]
            core = region_cores(labels, self.erode)
            for r, region in enumerate(self.regions):
                pixels = core & (labels == MATERIAL[region])
                if pixels.sum() >= self.min_pixels:
                    made = inputs.generated[t][pixels].mean(axis=0)
                    true = inputs.target[t][pixels].mean(axis=0)
                    errors[t, r] = ciede2000(srgb_to_lab(made), srgb_to_lab(true))
        scored = np.isfinite(errors)
        per_frame = np.array(
            [row[ok].mean() if ok.any() else np.nan for row, ok in zip(errors, scored, strict=True)]
        )
        by_region = {
            region: float(errors[scored[:, r], r].mean()) if scored[:, r].any() else None
            for r, region in enumerate(self.regions)
        }
        value = float(np.nanmean(per_frame)) if np.isfinite(per_frame).any() else math.nan
        return Score(value, per_frame, {"regions": by_region, "frames_scored": int(scored.any(1).sum())})


def _sampled_lab(image: np.ndarray, figure: np.ndarray, samples: int) -> np.ndarray:
    """CIELAB colours ``(n, 3)`` of at most ``samples`` figure pixels, evenly spaced in raster order."""
    colors = image[figure]
    if len(colors) > samples:
        colors = colors[np.linspace(0, len(colors) - 1, samples).round().astype(int)]
    return srgb_to_lab(colors)


def _mean_kernel(a: np.ndarray, b: np.ndarray, bandwidth: float) -> float:
    """Mean Gaussian kernel value over all pairs of rows of ``a`` ``(n, 3)`` and ``b`` ``(m, 3)``."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return float(np.exp(np.maximum(squared, 0.0) / (-2 * bandwidth**2)).mean())


def color_mmd(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Squared maximum mean discrepancy of two colour sets ``(n, 3)`` and ``(m, 3)`` (CIELAB) under a
    Gaussian kernel of ``bandwidth`` Lab units: 0 for equal sets, up to 2 for sets far apart.

    It compares the two colour distributions as wholes: how much of the figure is which colour matters, where
    each pixel is does not.
    """
    return _mean_kernel(x, x, bandwidth) + _mean_kernel(y, y, bandwidth) - 2 * _mean_kernel(x, y, bandwidth)


class _DistractorCache:
    """The distractors' sampled colours per target pose, kept for the last ``size`` poses: every method scored
    on a benchmark in one process meets the same poses, and rendering 30 mannequins costs far more than
    comparing them."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.entries: OrderedDict[str, list[np.ndarray]] = OrderedDict()

    def get(self, key: str, make: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
        if key in self.entries:
            self.entries.move_to_end(key)
        else:
            self.entries[key] = make()
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return self.entries[key]


_DISTRACTORS = _DistractorCache()


@dataclass(frozen=True)
class IdentityAccuracy(Metric):
    """The fraction of frames whose generated figure is nearer, in colour, to its own subject than to every
    one of ``distractors`` other mannequins rendered in the same pose (higher is better; chance is
    ``1 / (distractors + 1)``).

    1. The generated figure is read off the frame against the benchmark's known backdrop (the
       :func:`~toolkit.eval.metrics.silhouette.foreground` rule silhouette IoU uses); the true figure is the
       true frame's material labels, and each distractor is rendered exactly in the frame's target pose.
    2. Each figure becomes the set of its pixels' CIELAB colours (at most ``samples`` pixels, evenly spaced).
    3. Sets are compared by :func:`color_mmd`: a distance between colour distributions, blind to where
       each colour sits, so a figure in the wrong pose but the right clothes still counts as the subject.
    4. A frame counts when the distance to the truth is strictly smaller than to every distractor; a frame
       with no generated figure does not.

    The ground truth scores 1, a frame of the subject in another pose close to 1, and a figure in another
    subject's colours close to chance. ``details`` holds the chance level and the mean rank of the true
    subject among the ``distractors + 1`` candidates (1 is best).

    Settings:
        distractors: Other mannequins per frame, ``MannequinSpec.sample(distractor_seed + k)``. Default 30.
        distractor_seed: Seed of the first distractor. Default 5000 (no toolkit data set uses it).
        bandwidth: Gaussian kernel width in CIELAB units. Default 10.
        samples: Pixels per figure. Default 256.
        threshold: Grey levels a generated pixel must differ from the backdrop by to be figure. Default 24.
    """

    name: ClassVar[str] = "identity_accuracy"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = True
    requires: ClassVar[tuple[str, ...]] = ("materials", "poses", "background")

    distractors: int = 30
    distractor_seed: int = DISTRACTOR_SEED
    bandwidth: float = 10.0
    samples: int = 256
    threshold: float = 24.0

    def __post_init__(self) -> None:
        check_count("distractors", self.distractors, 1)
        check_count("distractor_seed", self.distractor_seed, 0)
        check_count("samples", self.samples, 8)
        check_number("bandwidth", self.bandwidth, lambda v: v > 0, "a number > 0 (CIELAB units)")
        check_number("threshold", self.threshold, lambda v: 0 <= v < 255, "in [0, 255) grey levels")

    def score(self, inputs: MetricInputs) -> Score:
        n, height, width = inputs.target.shape[:3]
        backdrop = background_image(inputs.background, width, height)
        back = to_tensor(backdrop[None], inputs.device)[0]
        found = foreground(to_tensor(inputs.generated, inputs.device), back, self.threshold).cpu().numpy()
        poses = inputs.poses.to_layout("body_18")  # type: ignore[union-attr]
        correct = np.full(n, np.nan)
        ranks = np.full(n, np.nan)
        for t in range(n):
            truth_figure = inputs.materials[t] > 0  # type: ignore[index]
            if not truth_figure.any():
                continue  # the pose is off the canvas: nothing to recognise
            if not found[t].any():
                correct[t], ranks[t] = 0.0, self.distractors + 1
                continue
            made = _sampled_lab(inputs.generated[t], found[t], self.samples)
            depth = None if poses.depth is None else poses.depth[t]
            candidates = [
                _sampled_lab(inputs.target[t], truth_figure, self.samples),
                *self._distractors(poses.keypoints[t], depth, backdrop),
            ]
            distances = np.array([color_mmd(made, colors, self.bandwidth) for colors in candidates])
            correct[t] = float(distances[0] < distances[1:].min())
            ranks[t] = 1 + float((distances[1:] <= distances[0]).sum())
        value = float(np.nanmean(correct)) if np.isfinite(correct).any() else math.nan
        details = {
            "chance": 1 / (self.distractors + 1),
            "mean_rank": float(np.nanmean(ranks)) if np.isfinite(ranks).any() else None,
        }
        return Score(value, correct, details)

    def _distractors(
        self, keypoints: np.ndarray, depth: np.ndarray | None, backdrop: np.ndarray
    ) -> list[np.ndarray]:
        """Sampled CIELAB colours of every distractor drawn in one ``(18, 3)`` pose on ``backdrop``."""
        digest = hashlib.sha1(np.ascontiguousarray(keypoints, np.float32).tobytes())
        digest.update(b"" if depth is None else np.ascontiguousarray(depth, np.float32).tobytes())
        digest.update(np.ascontiguousarray(backdrop).tobytes())
        digest.update(f"{self.distractors},{self.distractor_seed},{self.samples}".encode())
        height, width = backdrop.shape[:2]

        def render() -> list[np.ndarray]:
            colors = []
            for k in range(self.distractors):
                spec = MannequinSpec.sample(self.distractor_seed + k)
                frame = render_mannequin(spec, keypoints, depth, width, height, background=backdrop)
                colors.append(_sampled_lab(frame.image, frame.mask, self.samples))
            return colors

        return _DISTRACTORS.get(digest.hexdigest(), render)


__all__ = ["DISTRACTOR_SEED", "IDENTITY_REGIONS", "IdentityAccuracy", "PartColorError", "color_mmd"]
