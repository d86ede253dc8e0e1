"""``scripts/gpu_check.py --smoke``: every part of the GPU measurement runs on the CPU at tiny sizes, so
the one command a GPU machine gets cannot rot between the rare sessions that have one."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_smoke_run_measures_every_part_and_writes_its_report(tmp_path, capsys):
    script = _script()
    assert script.main(["--smoke", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(report["parts"]) == ["generation", "dreambooth", "gan", "pose-encoding"]
    for name, part in report["parts"].items():
        assert part["error"] is None, (name, part["error"])
    rows = {row["what"]: row for part in report["parts"].values() for row in part["rows"]}
    timed = [row for row in rows.values() if "error" not in row]
    assert all(row["seconds"] > 0 for row in timed) and len(timed) >= 10
    for method in ("pix2pix-pose2pics", "patn", "posewarp", "two-stage"):
        assert rows[f"{method} inference at 64 px"]["frames_per_second"] > 0
    assert rows["Gaussian heatmaps, 64 frames x 18 joints at 64 px"]["max_abs_difference_to_cpu"] == 0
    assert "| plain per-frame diffusers loop |" in (tmp_path / "gpu_check.md").read_text()


def test_a_failing_part_is_recorded_and_the_others_still_run(monkeypatch):
    script = _script()

    def broken(ctx, rows):
        raise RuntimeError("CUDA error: out of memory\nmore detail")

    monkeypatch.setitem(script.PARTS, "dreambooth", (broken, 5))
    report = script.run(["dreambooth", "pose-encoding"], smoke=True)
    assert report["parts"]["dreambooth"]["error"] == "RuntimeError: CUDA error: out of memory"
    assert report["parts"]["pose-encoding"]["error"] is None and report["parts"]["pose-encoding"]["rows"]
