"""A trained subject's LoRA loads in plain diffusers (a script that never imports the toolkit), in both the
diffusers format and the kohya export, and both give the same model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.data.media import write_image
from toolkit.diffusion.dreambooth.config import DreamBoothConfig
from toolkit.diffusion.dreambooth.loop import train
from toolkit.diffusion.tiny import save_tiny_pipeline
from toolkit.pose.io import save_poses
from toolkit.pose.motions import make_motion

PLAIN_DIFFUSERS = r"""
import json, sys
import torch
from diffusers import StableDiffusionControlNetPipeline

base, subject = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
latents, ids = torch.randn(1, 4, 8, 8), torch.tensor([[49406, 320, 1125, 539, 49407]])

def outputs(pipe):
    with torch.no_grad():
        text = pipe.text_encoder(ids)[0]
        return text, pipe.unet(latents, 500, text).sample

def load(**lora):
    pipe = StableDiffusionControlNetPipeline.from_pretrained(base, safety_checker=None)
    if lora:
        pipe.load_lora_weights(subject, adapter_name="subject", **lora)
    return pipe

plain = outputs(load())
pipe = load(weight_name="pytorch_lora_weights.safetensors")
adapters = pipe.get_list_adapters()
lora = outputs(pipe)
kohya = outputs(load(weight_name="pytorch_lora_weights_kohya.safetensors"))
print(json.dumps({
    "adapters": {k: list(v) for k, v in adapters.items()},
    "text_change": (lora[0] - plain[0]).abs().max().item(),
    "unet_change": (lora[1] - plain[1]).abs().max().item(),
    "kohya_text_diff": (kohya[0] - lora[0]).abs().max().item(),
    "kohya_unet_diff": (kohya[1] - lora[1]).abs().max().item(),
}))
"""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_plain_diffusers_loads_the_lora_and_the_kohya_export(tmp_path):
    poses = make_motion("walk", frames=2, width=64, height=64)
    for i, frame in enumerate(render_sequence(MannequinSpec.sample(1), poses)):
        write_image(tmp_path / "photos" / f"{i}.png", frame.image)
    save_poses(tmp_path / "poses.json", poses)
    config = DreamBoothConfig(
        subject="plain",
        instance_dir=tmp_path / "photos",
        poses=tmp_path / "poses.json",
        base="tiny",
        controlnet="tiny",
        subjects_dir=tmp_path / "subjects",
        resolution=64,
        max_train_steps=3,
        learning_rate=1e-2,
        lora_alpha=8,  # not the rank: both formats must carry it
        train_text_encoder=True,
        export_kohya=True,
        validation_steps=0,
        validation_inference_steps=1,
        validation_motions=("walk",),
        seed=0,
        progress=False,
    )
    train(config)
    base = save_tiny_pipeline(tmp_path / "base")
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_DIFFUSERS)
    run = subprocess.run(
        [sys.executable, str(script), str(base), str(tmp_path / "subjects" / "plain")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "toolkit" not in script.read_text()
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["adapters"] == {"text_encoder": ["subject"], "unet": ["subject"]}
    assert found["unet_change"] > 1e-3 and found["text_change"] > 1e-3
    assert found["kohya_unet_diff"] < 1e-5 and found["kohya_text_diff"] < 1e-5
