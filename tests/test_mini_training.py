"""The mini model's training scripts, end to end on a tiny config: base model (VAE, then UNet), resume,
ControlNet (OpenPose and upper_body_7 skeletons), data folders and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from toolkit.data.datasets import mannequin_frames
from toolkit.data.mannequin.captions import mannequin_caption
from toolkit.data.media import write_image
from toolkit.data.synth_dataset import SynthConfig, write_synthetic_dataset
from toolkit.diffusion.mini.cli import base_main, controlnet_main
from toolkit.diffusion.mini.data import MiniDataset, control_image, folder_clips
from toolkit.errors import DataError
from toolkit.pose.io import save_poses
from toolkit.train.sampling import RandomBatches

TINY_DATA = ["--subjects", "2", "--motions", "walk", "--frames", "4"]
TINY_LOOP = ["--train-batch-size", "2", "--checkpointing-steps", "1", "--report-to", "csv", "--no-progress"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _base(output: Path, stage: str, steps: int, *extra: str) -> int:
    argv = ["--stage", stage, "--config", "test", "--output", str(output), "--max-train-steps", str(steps)]
    return base_main([*argv, *TINY_DATA, *TINY_LOOP, *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("mini")
    assert _base(output, "vae", 3) == 0
    assert _base(output, "unet", 3) == 0
    return output


def test_base_run_writes_a_loadable_diffusers_folder(run: Path) -> None:
    from diffusers import StableDiffusionPipeline

    model = run / "model"
    assert json.loads((model / "mini_config.json").read_text())["resolution"] == 32
    weights = load_file(str(model / "unet" / "diffusion_pytorch_model.safetensors"))
    assert {tensor.dtype for tensor in weights.values()} == {torch.float16}
    assert (run / "vae" / "config.json").is_file()
    vae_scale = json.loads((run / "vae" / "config.json").read_text())["scaling_factor"]
    assert vae_scale > 0 and vae_scale != 0.18215  # measured on the data, not SD's constant
    rows = (run / "logs" / "unet" / "losses.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["step", "3"]

    pipe = StableDiffusionPipeline.from_pretrained(model, dtype=torch.float32, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a mannequin", num_inference_steps=2, height=32, width=32, output_type="np").images
    assert image.shape == (1, 32, 32, 3) and np.isfinite(image).all()


def test_resume_continues_from_the_checkpoint_with_identical_weights(run: Path, tmp_path: Path) -> None:
    vae = ["--vae", str(run / "vae")]
    assert _base(tmp_path, "unet", 2, *vae) == 0
    assert _base(tmp_path, "unet", 3, *vae, "--resume-from-checkpoint", "latest") == 0
    checkpoints = tmp_path / "checkpoints" / "unet"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-2", "checkpoint-3"]
    for step in (2, 3):
        resumed = load_file(str(checkpoints / f"checkpoint-{step}" / "tensors.safetensors"))
        straight = load_file(str(run / "checkpoints" / "unet" / f"checkpoint-{step}" / "tensors.safetensors"))
        assert resumed.keys() == straight.keys()
        assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    rows = (tmp_path / "logs" / "unet" / "losses.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows] == ["step", "2", "3"]


def test_controlnet_on_the_mini_base_loads_with_load_pipeline(run: Path, tmp_path: Path) -> None:
    from toolkit.diffusion.loading import load_pipeline

    argv = ["--base", str(run / "model"), "--output", str(tmp_path), "--max-train-steps", "3"]
    assert controlnet_main([*argv, "--resolution", "32", *TINY_DATA, *TINY_LOOP]) == 0
    folder = tmp_path / "controlnet"
    assert json.loads((folder / "control.json").read_text()) == {"layout": "body_18"}
    pipe = load_pipeline(str(run / "model"), [str(folder)])
    pose = mannequin_frames(0, frames=1, size=32).poses.keypoints[0]
    skeleton = control_image(pose, "body_18", 32, 32)
    image = pipe(
        "a mannequin",
        image=Image.fromarray(skeleton),
        num_inference_steps=2,
        height=32,
        width=32,
        output_type="np",
    )
    assert image.images.shape == (1, 32, 32, 3)


def _user_clip(folder: Path) -> Path:
    """A folder of images + an upper_body_7 poses.json, as a user's own data would be."""
    frames = mannequin_frames(3, frames=3, size=40)
    for t, image in enumerate(frames.images):
        write_image(folder / "images" / f"{t:03d}.png", image)
    save_poses(folder / "poses.json", frames.poses.to_layout("upper_body_7"))
    return folder


def test_upper_body_7_controlnet_on_user_data(run: Path, tmp_path: Path) -> None:
    data = _user_clip(tmp_path / "clip")
    argv = ["--base", str(run / "model"), "--output", str(tmp_path / "out"), "--max-train-steps", "2"]
    argv += ["--layout", "upper_body_7", "--data", str(data), "--resolution", "32", *TINY_LOOP]
    assert controlnet_main(argv) == 0
    assert (
        json.loads((tmp_path / "out" / "controlnet" / "control.json").read_text())["layout"] == "upper_body_7"
    )

    clips = folder_clips(data, 32, layout="upper_body_7", caption="a photo of alice")
    assert len(clips) == 1 and clips[0].caption == "a photo of alice"
    assert clips[0].poses.layout == "upper_body_7" and clips[0].poses.canvas == (32, 32)
    sample = MiniDataset(clips, control=True, layout="upper_body_7")[1]
    assert sample["pixel_values"].shape == (3, 32, 32) and sample["conditioning"].shape == (3, 32, 32)
    assert sample["conditioning"].max() > 0  # the skeleton was drawn


def test_synth_folder_gives_captions_from_subject_specs(tmp_path: Path) -> None:
    config = SynthConfig(subjects=2, motions=("walk",), width=32, height=32, frames=2, seed=5)
    write_synthetic_dataset(tmp_path, config, progress=False)
    clips = folder_clips(tmp_path, 32)
    from toolkit.data.mannequin import MannequinSpec

    assert [clip.caption for clip in clips] == [mannequin_caption(MannequinSpec.sample(s)) for s in (5, 6)]
    assert MiniDataset(clips)[3]["pixel_values"].shape == (3, 32, 32)


def test_step_batches_are_the_same_after_a_resume() -> None:
    whole = list(RandomBatches(50, 4, seed=3, start=0, steps=6))
    assert list(RandomBatches(50, 4, seed=3, start=4, steps=6)) == whole[4:]
    assert list(RandomBatches(50, 4, seed=3, start=0, steps=6, rank=1)) != whole


def test_bad_input_gives_one_line_errors(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--output", str(tmp_path / "out"), "--max-train-steps", "1", *TINY_LOOP]
    cases = [
        (
            controlnet_main,
            ["--base", str(run / "model"), "--data", str(tmp_path / "nope"), *common],
            "no such data",
        ),
        (
            controlnet_main,
            ["--base", str(run / "model"), "--layout", "body_99", *TINY_DATA, *common],
            "body_99",
        ),
        (controlnet_main, ["--base", str(tmp_path / "missing"), *TINY_DATA, *common], "no such file"),
        (base_main, ["--stage", "unet", "--config", "test", *TINY_DATA, *common], "run --stage vae first"),
        (base_main, ["--stage", "vae", "--config", "huge", *TINY_DATA, *common], "unknown mini config"),
    ]
    for main, argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
    with pytest.raises(DataError, match="no clip folders"):
        folder_clips(tmp_path, 32)


def test_frames_are_encoded_once_and_read_back_from_the_cache(run: Path, tmp_path: Path) -> None:
    from diffusers import AutoencoderKL

    from toolkit.diffusion.mini.data import mannequin_clips
    from toolkit.diffusion.mini.latents import encode_frames

    vae = AutoencoderKL.from_pretrained(run / "vae")
    frames = MiniDataset(mannequin_clips(1, 32, motions=("walk",), frames=3), control=True)
    encoded = encode_frames(frames, vae, tmp_path, batch_size=2, progress=False)
    item = encoded[2]
    assert item["latent_mean"].shape == item["latent_std"].shape == (8, 8, 8)  # 8 channels, 32 px / 4
    assert (item["latent_std"] > 0).all() and item["caption"] == frames[2]["caption"]
    assert torch.equal(item["conditioning"], frames[2]["conditioning"])
    direct = vae.encode(frames[2]["pixel_values"][None]).latent_dist.mean[0]
    assert torch.allclose(item["latent_mean"], direct, atol=1e-5)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    assert torch.equal(encode_frames(frames, vae, tmp_path, progress=False).mean, encoded.mean)
    with torch.no_grad():
        vae.encoder.conv_out.bias.add_(1.0)  # another VAE: the frames are encoded again
    cached = encode_frames(frames, vae, tmp_path, batch_size=2, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 2 and not torch.equal(cached.mean, encoded.mean)


def test_vae_loss_counts_the_figure_figure_weight_times() -> None:
    from toolkit.diffusion.mini.config import build_vae, get_config
    from toolkit.diffusion.mini.train_base import VAELoss

    torch.manual_seed(0)
    vae = build_vae(get_config("test"))
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    figure = torch.zeros(2, 1, 32, 32)
    figure[:, :, 10:20, 12:16] = 1  # the subject; grown by a pixel for the weights
    batch = {"pixel_values": pixels, "figure": figure}

    def losses(weight: float) -> dict[str, torch.Tensor]:
        return VAELoss(weight)(vae, batch, torch.Generator().manual_seed(1))

    with torch.no_grad():
        plain, weighted = losses(1.0), losses(10.0)
        latents = vae.encode(pixels).latent_dist
        noise = torch.randn(latents.mean.shape, generator=torch.Generator().manual_seed(1))
        error = (vae.decode(latents.mean + latents.std * noise).sample - pixels).abs()
    grown = torch.zeros_like(figure)
    grown[:, :, 9:21, 11:17] = 1
    weights = 1 + 9 * grown
    expected = (error * weights).mean() / weights.mean()
    assert torch.allclose(plain["l1"], error.mean(), atol=1e-6)
    assert torch.allclose(weighted["loss"] - weighted["kl"] * 1e-6 / pixels[0].numel(), expected, atol=1e-6)
    assert torch.allclose(weighted["figure_l1"], error[grown.expand_as(error) > 0].mean(), atol=1e-6)
    # No known foreground: the weights are uniform, plain L1.
    batch["figure"] = torch.zeros_like(figure)
    assert torch.allclose(losses(10.0)["loss"], plain["loss"], atol=1e-6)


def test_the_unet_stage_trains_the_text_encoder_unless_frozen(run: Path, tmp_path: Path) -> None:
    from transformers import CLIPTextModel

    from toolkit.diffusion.mini.config import build_text_encoder, build_tokenizer, get_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)  # the stage seeds its text encoder with seed + 1
        initial = build_text_encoder(get_config("test"), build_tokenizer()).state_dict()
    trained = CLIPTextModel.from_pretrained(run / "model" / "text_encoder").state_dict()
    assert _base(tmp_path, "unet", 2, "--vae", str(run / "vae"), "--freeze-text-encoder") == 0
    frozen = CLIPTextModel.from_pretrained(tmp_path / "model" / "text_encoder").state_dict()
    moved = [k for k in initial if not torch.equal(initial[k].half(), trained[k])]
    assert "encoder.layers.0.self_attn.q_proj.weight" in moved
    assert "embeddings.token_embedding.weight" not in moved  # the token table stays random
    assert all(torch.equal(initial[k].half(), frozen[k]) for k in initial)


def test_learning_rate_warms_up_holds_and_decays_linearly() -> None:
    from toolkit.diffusion.mini.loop import LoopOptions, learning_rate_factor

    constant = LoopOptions(Path("run"), steps=100, warmup_steps=10)
    decayed = LoopOptions(Path("run"), steps=100, warmup_steps=10, decay_steps=40)
    assert [learning_rate_factor(s, constant) for s in (0, 4, 9, 50, 99)] == [0.1, 0.5, 1.0, 1.0, 1.0]
    assert [learning_rate_factor(s, decayed) for s in (60, 80, 99)] == [1.0, 0.5, 1 / 40]
    # Until the decay starts the runs are the same, so a constant run resumes into a decayed one.
    assert all(learning_rate_factor(s, constant) == learning_rate_factor(s, decayed) for s in range(61))
    with pytest.raises(ValueError, match="decay_steps must be between 0 and the 100 steps"):
        LoopOptions(Path("run"), steps=100, decay_steps=101)


def test_the_decoder_stage_sharpens_the_decoder_and_keeps_the_latent_space(run: Path, tmp_path: Path) -> None:
    import shutil

    from diffusers import AutoencoderKL

    shutil.copytree(run / "model", tmp_path / "model")  # an exported pipeline, whose VAE is updated too
    assert _base(tmp_path, "decoder", 2, "--vae", str(run / "vae")) == 0
    before = AutoencoderKL.from_pretrained(run / "vae").state_dict()
    after = AutoencoderKL.from_pretrained(tmp_path / "vae").state_dict()
    exported = AutoencoderKL.from_pretrained(tmp_path / "model" / "vae").state_dict()
    frozen = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert all(torch.equal(after[k].half(), exported[k]) for k in after)
    assert (tmp_path / "checkpoints" / "decoder" / "checkpoint-2").is_dir()


def test_v_prediction_trains_on_the_velocity_and_the_config_checks_the_type() -> None:
    from types import SimpleNamespace

    from toolkit.diffusion.mini.config import MiniConfig, MiniConfigError, build_tokenizer, get_config
    from toolkit.diffusion.mini.train_base import UNetLoss

    vae = SimpleNamespace(config=SimpleNamespace(scaling_factor=0.5))
    batch = {
        "latent_mean": torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0)),
        "latent_std": torch.zeros(3, 4, 8, 8),  # the latents are the means exactly
        "caption": ["a", "b", "c"],
    }
    targets = {}
    for kind in ("epsilon", "v_prediction"):
        loss = UNetLoss(vae, build_tokenizer(), 0.0, prediction_type=kind)
        noisy, timesteps, _, targets[kind] = loss.inputs(batch, torch.Generator().manual_seed(1))
    a = loss.noise_scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    latents = batch["latent_mean"] * 0.5
    torch.testing.assert_close(noisy, a.sqrt() * latents + (1 - a).sqrt() * targets["epsilon"])
    torch.testing.assert_close(
        targets["v_prediction"], a.sqrt() * targets["epsilon"] - (1 - a).sqrt() * latents
    )
    assert (
        get_config("mini-v2").prediction_type == "v_prediction"
        and get_config("mini").prediction_type == "epsilon"
    )
    with pytest.raises(MiniConfigError, match="prediction_type"):
        MiniConfig(prediction_type="x0")
