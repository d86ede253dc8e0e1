"""SSIM (Wang et al. 2004) and mask-SSIM (Ma et al. 2017), vectorised over frames in torch.

The computation is scikit-image's ``structural_similarity(a, b, channel_axis=-1, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=R)``, to 1e-6 or better:

1. per channel, Gaussian-weighted local means, variances and covariance (population, i.e. normalised by the
   window's weight sum of 1) with an 11 x 11 window: sigma 1.5 truncated at 3.5 sigma, radius
   ``int(3.5 * 1.5 + 0.5) = 5``, the weights ``exp(-x^2 / (2 sigma^2))`` normalised to sum 1, separable;
2. ``S = (2 mu_a mu_b + C1)(2 cov + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2))`` with
   ``C1 = (K1 R)^2``, ``C2 = (K2 R)^2``, K1 = 0.01, K2 = 0.03;
3. the mean of S over the pixels at least 5 pixels from the border (scikit-image filters with reflection,
   then crops those 5 pixels; the crop only keeps values the reflection never touched, so a "valid"
   convolution gives them directly), then over the channels.

Everything runs in float64, as scikit-image does for uint8 input. Frames smaller than the 11 x 11 window
are refused, as scikit-image refuses them.

Modes (``SSIM_MODES``) choose the data range R:

- ``"standard"``: R = 255, the range of uint8 frames.
- ``"patn"``: R = max - min of the generated frame (over all its pixels and channels), exactly what
  Pose-Transfer's ``tool/getMetrics_market.py`` and ``getMetrics_fashion.py`` pass to scikit-image's
  ``compare_ssim`` (Zhu et al. 2019). For DeepFashion they first pad both 176 x 256 images with 40 white
  columns left and right (``addBounding``), which ``pad=40`` reproduces; the padding counts towards R and
  the SSIM mean, as in theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ...checks import check_choice
from ...pose.encode import patn_body_mask
from .base import Metric, MetricInputError, MetricInputs, MetricKind, Score, batches, to_tensor

# Pixels per batch: peak memory is about 300 bytes per pixel in float64.
_BATCH_PIXELS = 1 << 20


def _fixed_range(generated: np.ndarray) -> np.ndarray:
    return np.full(len(generated), 255.0)


def _patn_range(generated: np.ndarray) -> np.ndarray:
    flat = generated.reshape(len(generated), -1)
    return (flat.max(axis=1) - flat.min(axis=1)).astype(np.float64)


# Mode -> data range R per frame, from the ``(N, H, W, 3)`` uint8 generated frames.
SSIM_MODES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "standard": _fixed_range,
    "patn": _patn_range,
}


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    """``(2r + 1,)`` float64 weights ``exp(-x^2 / (2 sigma^2))`` for x in -r..r, r = ``int(truncate * sigma +
    0.5)``, normalised to sum 1 (scipy.ndimage's Gaussian kernel)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * x**2 / sigma**2)
    return weights / weights.sum()


def ssim_per_frame(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: torch.Tensor,
    *,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Mean SSIM of each image pair, averaged over channels.

    Args:
        a: ``(B, C, H, W)`` images, float64 for a 1e-6 match with scikit-image.
        b: ``(B, C, H, W)`` images, same dtype and device.
        data_range: ``(B,)`` data range R of each pair.
        sigma: Gaussian window standard deviation in pixels; the window is truncated at 3.5 sigma.
        k1: C1 = (k1 R)^2.
        k2: C2 = (k2 R)^2.

    Returns:
        ``(B,)`` SSIM values.
    """
    window = torch.from_numpy(gaussian_window(sigma)).to(a)
    height, width = a.shape[-2:]
    if height < len(window) or width < len(window):
        raise MetricInputError(
            f"SSIM needs frames of at least {len(window)}x{len(window)} pixels (its Gaussian window), got "
            f"{width}x{height}"
        )
    moments = torch.stack([a, b, a * a, b * b, a * b])  # (5, B, C, H, W)
    # The separable "valid" blur as two banded matrix products: BLAS runs them an order of magnitude faster
    # than a float64 conv2d.
    moments = _blur_matrix(height, window) @ moments @ _blur_matrix(width, window).T  # (5, B, C, H', W')
    mu_a, mu_b, aa, bb, ab = moments.unbind(0)
    var_a, var_b, cov = aa - mu_a * mu_a, bb - mu_b * mu_b, ab - mu_a * mu_b
    c1 = ((k1 * data_range) ** 2).view(-1, 1, 1, 1)
    c2 = ((k2 * data_range) ** 2).view(-1, 1, 1, 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3))


def _blur_matrix(size: int, window: torch.Tensor) -> torch.Tensor:
    """``(size - K + 1, size)`` matrix whose row i holds the K-tap ``window`` at columns i..i + K - 1: a
    "valid" correlation along one axis."""
    rows = size - len(window) + 1
    taps = torch.arange(len(window), device=window.device)
    columns = torch.arange(rows, device=window.device)[:, None] + taps  # (rows, K)
    matrix = torch.zeros(rows, size, dtype=window.dtype, device=window.device)
    return matrix.scatter_(1, columns, window.expand(rows, -1))


@dataclass(frozen=True)
class SSIM(Metric):
    """Structural similarity of each generated frame with its target (see the module docstring).

    Settings:
        mode: ``"standard"`` (data range 255, default) or ``"patn"`` (PATN's generated max - min).
        pad: White columns added left and right of both frames before scoring; 40 reproduces PATN's
            DeepFashion scores. Default 0.
        sigma: Gaussian window sigma in pixels. Default 1.5.
        k1: Default 0.01.
        k2: Default 0.03.
    """

    name: ClassVar[str] = "ssim"
    kind: ClassVar[MetricKind] = "frame"
    higher_is_better: ClassVar[bool | None] = True

    mode: str = "standard"
    pad: int = 0
    sigma: float = 1.5
    k1: float = 0.01
    k2: float = 0.03

    def __post_init__(self) -> None:
        check_choice(self.mode, SSIM_MODES, "SSIM mode")
        if isinstance(self.pad, bool) or not isinstance(self.pad, int) or self.pad < 0:
            raise ValueError(f"pad must be a whole number of pixels >= 0, got {self.pad!r}")
        for name in ("sigma", "k1", "k2"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SSIM {name} must be positive, got {getattr(self, name)!r}")

    def score(self, inputs: MetricInputs) -> Score:
        values = self.frame_scores(inputs.generated, inputs.target, inputs.device)
        return Score(float(values.mean()), values)

    def frame_scores(self, generated: np.ndarray, target: np.ndarray, device: torch.device) -> np.ndarray:
        """``(N,)`` float64 SSIM of ``(N, H, W, 3)`` uint8 frame pairs, after this metric's padding."""
        if self.pad:
            widths = ((0, 0), (0, 0), (self.pad, self.pad), (0, 0))
            generated = np.pad(generated, widths, constant_values=255)
            target = np.pad(target, widths, constant_values=255)
        ranges = SSIM_MODES[self.mode](generated)
        height, width = generated.shape[1:3]
        out = np.empty(len(generated))
        for part in batches(len(generated), max(1, _BATCH_PIXELS // (height * width))):
            a = to_tensor(generated[part], device, torch.float64)
            b = to_tensor(target[part], device, torch.float64)
            r = torch.from_numpy(ranges[part]).to(device)
            out[part] = ssim_per_frame(a, b, r, sigma=self.sigma, k1=self.k1, k2=self.k2).cpu().numpy()
        return out


# Where mask-SSIM's mask comes from ("auto": the ground-truth masks when given, else the target poses), and
# what the metric says when it cannot make one.
MASK_SOURCES: dict[str, str] = {
    "auto": "needs ground-truth masks or target poses",
    "truth": "needs ground-truth foreground masks (MetricInputs.masks)",
    "pose": "needs the target poses (MetricInputs.poses)",
}


@dataclass(frozen=True)
class MaskedSSIM(SSIM):
    """SSIM inside the body: both frames are multiplied by a foreground mask (background set to black), then
    scored with :class:`SSIM` over the whole frame.

    That is the mask-SSIM of PG2 (Ma et al. 2017) and PATN (``create_masked_image`` in Pose-Transfer's
    ``tool/getMetrics_market.py``, which passes the masked generated frame's max - min as the data range:
    ``mode="patn"``). Averaging the SSIM map over the mask would be another metric; this one keeps the
    published rule, in which background pixels near the body still count through the window.

    Settings (besides :class:`SSIM`'s):
        mask: ``"auto"`` (default: the ground-truth masks when given, else the pose mask), ``"truth"`` or
            ``"pose"``. The result's ``details["mask"]`` says which was used.
        pose_mask_radius: Limb half-width of the pose mask in pixels. Default 4, PATN's.
        pose_mask_closing: Closing square of the pose mask in pixels. Default 5, PATN's.

    The pose mask is ``toolkit.pose.encode.patn_body_mask`` of the target poses: PATN's ``produce_ma_mask``
    (the 17 OpenPose limbs plus the outline of head and torso, ``radius`` wide, then a closing).
    """

    name: ClassVar[str] = "masked_ssim"

    mask: str = "auto"
    pose_mask_radius: float = 4.0
    pose_mask_closing: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.mask, MASK_SOURCES, "mask source")

    def unavailable_reason(self, inputs: MetricInputs) -> str | None:
        return MASK_SOURCES[self.mask] if self._source(inputs) is None else None

    def score(self, inputs: MetricInputs) -> Score:
        source = self._source(inputs)
        if source == "truth":
            masks = inputs.masks
        else:
            poses = inputs.poses.to_layout("body_18")  # type: ignore[union-attr]  # source is "pose"
            masks = patn_body_mask(
                poses.keypoints, poses.width, poses.height,
                radius=self.pose_mask_radius, closing=self.pose_mask_closing,
            )  # fmt: skip
        keep = masks[..., None].astype(np.uint8)  # (N, H, W, 1)
        values = self.frame_scores(inputs.generated * keep, inputs.target * keep, inputs.device)
        return Score(float(values.mean()), values, {"mask": source})

    def _source(self, inputs: MetricInputs) -> str | None:
        """``"truth"`` or ``"pose"``: where the mask comes from for these inputs; None if neither is there."""
        has = {"truth": inputs.masks is not None, "pose": inputs.poses is not None}
        order = ("truth", "pose") if self.mask == "auto" else (self.mask,)
        return next((source for source in order if has[source]), None)
