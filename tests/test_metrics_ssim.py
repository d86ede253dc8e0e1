"""SSIM and mask-SSIM against scikit-image, in the standard and PATN modes."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from toolkit.eval.metrics import MaskedSSIM, MetricInputError, MetricInputs, build_metric
from toolkit.pose.encode import patn_body_mask
from toolkit.pose.sequence import PoseSequence


def skimage_ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    return structural_similarity(
        a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range,
    )  # fmt: skip


def patn_ssim(reference: np.ndarray, generated: np.ndarray) -> float:
    """The call Pose-Transfer's getMetrics scripts make (``compare_ssim`` is scikit-image's old name)."""
    return structural_similarity(
        reference, generated, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        channel_axis=-1, data_range=generated.max() - generated.min(),
    )  # fmt: skip


def add_white_columns(image: np.ndarray, bound: int = 40) -> np.ndarray:
    """Pose-Transfer's ``addBounding`` for DeepFashion."""
    height, width, channels = image.shape
    out = np.full((height, width + 2 * bound, channels), 255, np.uint8)
    out[:, bound : bound + width] = image
    return out


def pair(rng: np.random.Generator, n: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A target and a noisy, dimmer copy of it, so that SSIM lands well inside (0, 1)."""
    target = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    noisy = target * 0.7 + rng.normal(20, 25, target.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8), target


@pytest.mark.parametrize("size", [(11, 11), (12, 17), (37, 101), (64, 48)])
def test_ssim_equals_scikit_image(size: tuple[int, int]) -> None:
    generated, target = pair(np.random.default_rng(size[0]), 3, *size)
    result = build_metric("ssim").compute(MetricInputs(generated, target))
    expected = [skimage_ssim(g, t, 255) for g, t in zip(generated, target, strict=True)]
    np.testing.assert_allclose(result.per_frame, expected, rtol=0, atol=1e-6)
    assert result.value == pytest.approx(np.mean(expected), abs=1e-6)
    assert 0.1 < result.value < 0.9
    assert result.settings == {"mode": "standard", "pad": 0, "sigma": 1.5, "k1": 0.01, "k2": 0.03}


@pytest.mark.parametrize(("size", "pad"), [((40, 30), 0), ((48, 24), 40)])
def test_patn_mode_reproduces_pose_transfer_scoring(size: tuple[int, int], pad: int) -> None:
    generated, target = pair(np.random.default_rng(1), 3, *size)
    generated = generated // 2 + 60  # a narrow range, where PATN's data range differs from 255
    result = build_metric("ssim", mode="patn", pad=pad).compute(MetricInputs(generated, target))
    pairs = zip(generated, target, strict=True)
    if pad:
        expected = [patn_ssim(add_white_columns(t), add_white_columns(g)) for g, t in pairs]
    else:
        expected = [patn_ssim(t, g) for g, t in pairs]
    np.testing.assert_allclose(result.per_frame, expected, rtol=0, atol=1e-6)
    if not pad:  # (white padding widens the generated frame's range to nearly 255)
        standard = build_metric("ssim").compute(MetricInputs(generated, target))
        assert abs(standard.value - result.value) > 1e-3


def test_ssim_of_identical_frames_is_one_and_small_frames_are_refused() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    assert build_metric("ssim").compute(MetricInputs(frames, frames.copy())).value == pytest.approx(1.0)
    tiny = frames[:, :10, :12]
    with pytest.raises(MetricInputError, match="at least 11x11"):
        build_metric("ssim").compute(MetricInputs(tiny, tiny))
    with pytest.raises(ValueError, match="unknown SSIM mode"):
        build_metric("ssim", mode="fast")


def test_masked_ssim_multiplies_both_frames_by_the_truth_mask() -> None:
    generated, target = pair(np.random.default_rng(2), 2, 32, 24)
    masks = np.zeros((2, 32, 24), bool)
    masks[:, 6:26, 5:19] = True
    result = build_metric("masked_ssim").compute(MetricInputs(generated, target, masks=masks))
    keep = masks[..., None].astype(np.uint8)
    expected = [skimage_ssim(g, t, 255) for g, t in zip(generated * keep, target * keep, strict=True)]
    np.testing.assert_allclose(result.per_frame, expected, atol=1e-6)
    assert result.details == {"mask": "truth"}


def test_masked_ssim_falls_back_to_patn_pose_mask() -> None:
    generated, target = pair(np.random.default_rng(3), 1, 64, 48)
    keypoints = np.full((1, 18, 3), np.nan, np.float32)
    keypoints[0, :, 2] = 0
    keypoints[0, [0, 1, 8, 9, 10]] = [[24, 8, 1], [24, 18, 1], [20, 36, 1], [20, 46, 1], [20, 58, 1]]
    poses = PoseSequence(keypoints, 48, 64)
    metric = MaskedSSIM(mode="patn")
    result = metric.compute(MetricInputs(generated, target, poses=poses))
    keep = patn_body_mask(keypoints, 48, 64)[..., None].astype(np.uint8)
    assert keep.sum() > 0
    assert result.details == {"mask": "pose"}
    assert result.value == pytest.approx(patn_ssim(target[0] * keep[0], generated[0] * keep[0]), abs=1e-6)


def test_masked_ssim_without_mask_or_pose_is_unavailable() -> None:
    frames = np.zeros((1, 16, 16, 3), np.uint8)
    result = build_metric("masked_ssim").compute(MetricInputs(frames, frames))
    assert not result.available and np.isnan(result.value)
    assert result.reason == "masked_ssim needs ground-truth masks or target poses"
    truth_only = build_metric("masked_ssim", mask="truth").compute(MetricInputs(frames, frames))
    assert "MetricInputs.masks" in truth_only.reason
