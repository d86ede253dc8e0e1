"""The metric registry and protocol: every metric runs from its name, records its settings, and says why
when it cannot run; plus the cost meter."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from toolkit.eval.cost import measure, peak_memory
from toolkit.eval.metrics import METRICS, MetricInputs, MetricResult, build_metric, list_metrics

EXPECTED = {
    "ssim": "frame", "masked_ssim": "frame", "psnr": "frame", "l1": "frame", "lpips": "frame",
    "silhouette_iou": "frame", "pckh": "frame", "part_color_error": "frame", "identity_accuracy": "frame",
    "fid": "set", "kid": "set", "flicker": "sequence", "warp_error": "sequence",
}  # fmt: skip


def test_registry_names_and_kinds() -> None:
    assert {name: metric.kind for name, metric in METRICS.items()} == EXPECTED
    assert list_metrics() == list(METRICS)
    assert all(metric.higher_is_better in (True, False, None) for metric in METRICS.values())


def test_every_metric_runs_by_name_and_reports_availability() -> None:
    rng = np.random.default_rng(0)
    generated = rng.integers(0, 256, (3, 24, 20, 3), dtype=np.uint8)
    inputs = MetricInputs(generated, generated.copy())
    results = {name: build_metric(name).compute(inputs) for name in METRICS}
    unavailable = {name for name, result in results.items() if not result.available}
    assert unavailable == {
        "masked_ssim", "lpips", "silhouette_iou", "pckh", "part_color_error", "identity_accuracy",
    }  # fmt: skip
    for name, result in results.items():
        assert isinstance(result, MetricResult) and result.name == name
        assert result.settings == build_metric(name).settings
        assert (result.reason is None) == result.available
        if result.available:
            assert math.isfinite(result.value)
            length = {"frame": (3,), "sequence": (2,), "set": None}[EXPECTED[name]]
            assert (result.per_frame is None) if length is None else (result.per_frame.shape == length)
        json.dumps(result.to_dict())
    assert results["ssim"].value == pytest.approx(1.0) and results["flicker"].value == 0.0
    assert results["fid"].value < 1e-6


def test_build_metric_rejects_unknown_names_and_settings() -> None:
    assert build_metric("kid", subsets=3).settings["subsets"] == 3
    with pytest.raises(ValueError, match="unknown metric 'is'"):
        build_metric("is")
    with pytest.raises(ValueError, match="ssim has no setting 'window'; its settings are mode, pad"):
        build_metric("ssim", window=7)


def test_measure_times_a_block_and_reads_peak_memory() -> None:
    with measure(frames=4) as cost:
        block = np.ones((256, 1024, 1024), np.uint8)  # 256 MiB, touched
        assert block.sum() > 0
    assert cost.seconds > 0 and cost.seconds_per_frame == pytest.approx(cost.seconds / 4)
    assert cost.peak_rss_mib >= 256 and cost.peak_cuda_mib is None
    assert peak_memory("cpu") == {
        "rss_mib": pytest.approx(peak_memory()["rss_mib"], abs=64),
        "cuda_mib": None,
    }
    assert set(cost.to_dict()) == {"seconds", "frames", "seconds_per_frame", "peak_rss_mib", "peak_cuda_mib"}
