"""scripts/dreambooth_ablation.py: every rung is a valid diffusion-method setting, and its table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from baselines.diffusion import DiffusionConfig

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "dreambooth_ablation.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("dreambooth_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_every_rung_changes_one_real_setting_of_the_base(script):
    assert set(script.BASE) <= set(DiffusionConfig.__dataclass_fields__)
    for rung, change in script.RUNGS.items():
        config = DiffusionConfig(**{**script.BASE, **change})
        assert len(change) == (0 if rung == "base" else 1)
        assert all(getattr(config, key) != getattr(DiffusionConfig(**script.BASE), key) for key in change)
    assert {"rank-16", "rank-64", "locon", "text-encoder", "prior", "no-pose"} <= set(script.RUNGS)


def _run(folder: Path, identity: float, fit: float, available: bool = True) -> Path:
    metrics = {
        name: {"value": value, "available": available or name != "ssim"}
        for name, value in (("identity_accuracy", identity), ("part_color_error", 12.345),
                            ("silhouette_iou", 0.8123), ("ssim", 0.9))
    }  # fmt: skip
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"metrics": metrics, "cost": {"fit_seconds": fit}}))
    return folder


def test_table_has_a_row_per_rung_with_what_it_changes(script, tmp_path):
    runs = {
        "base": _run(tmp_path / "a", 0.5, 61.4),
        "locon": _run(tmp_path / "b", 0.9, 88.0, available=False),
    }
    lines = script.table("demo-walk", runs)
    assert lines[0] == "### demo-walk" and lines[2].startswith("| rung | changes | identity accuracy")
    assert lines[4] == "| base | defaults | 0.500 | 12.35 | 0.812 | 0.900 | 61 |"
    assert lines[5] == "| locon | `lora_targets = attention+conv` | 0.900 | 12.35 | 0.812 | – | 88 |"


def test_an_unknown_rung_is_a_one_line_error(script, tmp_path, capsys):
    assert script.main(["-o", str(tmp_path), "--only", "base,magic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown rung 'magic'" in err
    assert not (tmp_path / "ablation.md").exists()
