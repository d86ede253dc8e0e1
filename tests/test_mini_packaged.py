"""The mini model that ships in the package: present, within its size budget, of the documented
architecture, and loadable as ``--base mini --controlnet mini`` with no network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from toolkit.diffusion import loading
from toolkit.diffusion.mini.config import MiniConfig, get_config, model_sizes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUDGET_BYTES = 40 * 1024 * 1024


def test_the_weights_ship_within_40_mb() -> None:
    files = [path for path in loading.MINI_WEIGHTS.rglob("*") if path.is_file()]
    assert (loading.MINI_WEIGHTS / "model" / "model_index.json").is_file()
    assert (loading.MINI_WEIGHTS / "controlnet" / "config.json").is_file()
    assert 0 < sum(path.stat().st_size for path in files) <= BUDGET_BYTES


def test_the_weights_are_the_documented_architecture() -> None:
    model = loading.MINI_WEIGHTS / "model"
    config = get_config("mini")
    stored = json.loads((model / "mini_config.json").read_text())
    assert MiniConfig.from_dict(stored) == config  # fields added since take their defaults
    assert loading.native_size("mini") == (config.resolution, config.resolution)
    pipe = loading.load_pipeline("mini", ["mini"])
    sizes = model_sizes(config)
    for name in ("vae", "unet", "text_encoder", "controlnet"):
        assert sum(p.numel() for p in getattr(pipe, name).parameters()) == sizes[name], name
    assert json.loads((loading.MINI_WEIGHTS / "controlnet" / "control.json").read_text()) == {
        "layout": "body_18"
    }


def test_mini_renders_a_posed_frame_on_the_cpu() -> None:
    from toolkit.diffusion.controls import control_images, prepare_poses
    from toolkit.pose.motions import make_motion

    pipe = loading.load_pipeline("mini", ["mini"])
    poses = prepare_poses(make_motion("walk", frames=1, width=128, height=128), 128, 128, None)
    control = control_images(poses)[0]
    image = pipe(
        "a mannequin",
        image=torch.from_numpy(control).permute(2, 0, 1)[None].float() / 255,
        num_inference_steps=2,
        height=128,
        width=128,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images[0]
    assert image.shape == (128, 128, 3) and np.isfinite(image).all() and image.std() > 0.01


def test_a_missing_part_is_a_one_line_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(loading, "MINI_WEIGHTS", tmp_path)
    with pytest.raises(loading.ModelLoadError, match="docs/mini-model.md") as caught:
        loading.resolve_source("mini", "ControlNet", "--controlnet", part="controlnet")
    assert "\n" not in str(caught.value)
