"""PSNR against scikit-image, L1 in its three units, and the input checks every metric shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from toolkit.eval.metrics import MetricInputError, MetricInputs, build_metric


def frames(seed: int, shape: tuple[int, ...] = (4, 13, 9, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_psnr_equals_scikit_image() -> None:
    generated, target = frames(0), frames(1)
    target[0] = generated[0] // 2 + 64
    result = build_metric("psnr").compute(MetricInputs(generated, target))
    expected = [peak_signal_noise_ratio(t, g, data_range=255) for g, t in zip(generated, target, strict=True)]
    np.testing.assert_allclose(result.per_frame, expected, rtol=0, atol=1e-6)
    assert result.value == pytest.approx(np.mean(expected))


def test_psnr_caps_identical_frames() -> None:
    generated = frames(2)
    target = generated.copy()
    target[1, 0, 0, 0] ^= 1
    one_level_off = 10 * math.log10(255**2 * generated[1].size)  # MSE = 1 / size
    capped = build_metric("psnr").compute(MetricInputs(generated, target))
    assert capped.per_frame.tolist() == pytest.approx([100.0, one_level_off, 100.0, 100.0])
    uncapped = build_metric("psnr", max_db=None).compute(MetricInputs(generated, target))
    assert uncapped.per_frame[0] == math.inf and uncapped.value == math.inf
    assert uncapped.per_frame[1] == pytest.approx(one_level_off)
    assert uncapped.to_dict()["value"] is None


@pytest.mark.parametrize(("units", "scale"), [("0..1", 1 / 255), ("-1..1", 2 / 255), ("0..255", 1.0)])
def test_l1_units(units: str, scale: float) -> None:
    generated, target = frames(3), frames(4)
    result = build_metric("l1", units=units).compute(MetricInputs(generated, target))
    diff = np.abs(generated.astype(float) - target).reshape(4, -1).mean(axis=1)
    np.testing.assert_allclose(result.per_frame, diff * scale, rtol=1e-12)
    if units == "-1..1":  # Pose-Transfer's l1_score
        pairs = zip(generated, target, strict=True)
        patn = [np.abs(2 * (t / 255.0 - 0.5) - 2 * (g / 255.0 - 0.5)).mean() for g, t in pairs]
        assert result.value == pytest.approx(np.mean(patn), rel=1e-12)
    with pytest.raises(ValueError, match="unknown L1 units"):
        build_metric("l1", units="percent")


def test_bad_inputs_get_one_line_errors() -> None:
    good = frames(5)
    with pytest.raises(MetricInputError, match=r"generated must be a \(N, H, W, 3\) uint8"):
        MetricInputs(good.astype(np.float32), good)
    with pytest.raises(MetricInputError, match="target holds no frames"):
        MetricInputs(good, good[:0])
    with pytest.raises(MetricInputError, match="masks must be a"):
        MetricInputs(good, good, masks=np.ones((4, 13, 9), np.uint8))
    with pytest.raises(MetricInputError, match="compares frames pairwise"):
        build_metric("psnr").compute(MetricInputs(good, good[:3]))
