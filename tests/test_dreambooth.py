"""DreamBooth/LoRA training end to end on the tiny random-weight pipeline (64 px mannequin photos)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from toolkit.cli import main as toolkit_main
from toolkit.data.media import list_images, read_image, write_image
from toolkit.diffusion.dreambooth.config import DreamBoothConfig
from toolkit.diffusion.dreambooth.loop import train
from toolkit.diffusion.loading import file_sha256
from toolkit.diffusion.subjects import LORA_FILE, SubjectRegistry
from toolkit.errors import ToolkitError
from toolkit.pose.io import save_poses
from toolkit.pose.sequence import PoseSequence

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def config(photos, subjects: Path, **options) -> DreamBoothConfig:
    values = dict(
        subject="mannequin",
        instance_dir=photos[0],
        poses=photos[1],
        base="tiny",
        controlnet="tiny",
        subjects_dir=subjects,
        resolution=64,
        max_train_steps=10,
        checkpointing_steps=5,
        validation_steps=0,
        validation_inference_steps=2,
        validation_motions=("walk", "wave"),
        seed=0,
        progress=False,
    )
    return DreamBoothConfig(**{**values, **options})


def test_train_writes_a_subject_that_generate_uses(photos, tmp_path):
    subjects = tmp_path / "subjects"
    # A large learning rate so that ten steps move the LoRA visibly past 8-bit rounding of the frames.
    result = train(config(photos, subjects, learning_rate=1e-2, checkpoints_total_limit=1, export_kohya=True))

    assert result.steps == 10 and len(result.losses) == 10
    assert all(np.isfinite(result.losses))
    assert result.posed == 4
    folder = subjects / "mannequin"
    assert result.lora == folder / LORA_FILE and result.lora.is_file()
    assert (folder / "pytorch_lora_weights_kohya.safetensors").is_file()
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["checkpoint-10"]
    grid = read_image(folder / "samples" / "validation.png")
    assert grid.shape[0] > 2 * 64 and grid.shape[1] > 2 * 64  # skeleton row over image row, two poses
    rows = (folder / "logs" / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,seconds,loss,lr" and len(rows) == 11

    subject = SubjectRegistry(subjects).get("mannequin")
    assert (subject.token, subject.class_noun, subject.base, subject.controlnets) == (
        "sks",
        "person",
        "tiny",
        ("tiny",),
    )
    assert subject.proportions is not None and subject.proportions.total_height == pytest.approx(
        1.0, abs=1e-5
    )
    assert subject.training["steps"] == 10 and subject.training["rank"] == 4
    assert subject.samples == ("samples/validation.png",)
    assert subject.photos == tuple(f"photos/{i}.png" for i in range(4))  # kept for --reference subject
    for kept in subject.photo_paths(folder):
        assert kept.read_bytes() == (photos[0] / kept.name).read_bytes()

    poses = tmp_path / "two.json"
    assert toolkit_main(["poses", "make", "wave", "--frames", "2", "--size", "64", "-o", str(poses)]) == 0
    outputs = {}
    for scale in ("1", "0"):
        out = tmp_path / f"scale{scale}"
        argv = ["generate", "--subject", "mannequin", "--subjects-dir", str(subjects), "--poses", str(poses)]
        argv += ["--size", "64", "--steps", "2", "--no-progress", "--lora-scale", scale, "-o", str(out)]
        assert toolkit_main(argv) == 0
        loras = json.loads((out / "manifest.json").read_text())["models"]["loras"]
        assert loras[0]["sha256"] == file_sha256(result.lora)
        outputs[scale] = np.stack([read_image(p) for p in list_images(out / "frames")])
    assert outputs["1"].shape == (2, 64, 64, 3)
    assert np.abs(outputs["1"].astype(int) - outputs["0"].astype(int)).max() > 0

    out = tmp_path / "reference"  # the LoRA and the subject's own photos together
    argv = ["generate", "--subject", "mannequin", "--subjects-dir", str(subjects), "--poses", str(poses)]
    assert (
        toolkit_main(
            [*argv, "--size", "64", "--steps", "2", "--no-progress", "--reference", "subject", "-o", str(out)]
        )
        == 0
    )
    record = json.loads((out / "manifest.json").read_text())
    assert record["options"]["references"] == [str(p) for p in subject.photo_paths(folder)]
    assert len(record["options"]["fingerprint"]["references"]["sha256"]) == 4
    referenced = np.stack([read_image(p) for p in list_images(out / "frames")])
    assert np.abs(referenced.astype(int) - outputs["1"].astype(int)).max() > 0


def test_resume_from_step_5_matches_an_uninterrupted_run(photos, tmp_path):
    # Dropout, flips, a warm-up schedule and accumulation: every piece of state a resume must restore.
    options = dict(
        lora_dropout=0.1,
        random_flip=True,
        lr_scheduler="linear",
        lr_warmup_steps=3,
        gradient_accumulation_steps=2,
        train_batch_size=2,
        learning_rate=1e-3,
    )
    first = train(config(photos, tmp_path, **options))
    folder = tmp_path / "mannequin"
    expected = load_file(folder / LORA_FILE)
    shutil.rmtree(folder / "checkpoints" / "checkpoint-10")  # as if the run had been killed after step 5
    resumed = train(config(photos, tmp_path, resume_from_checkpoint="latest", **options))

    assert resumed.steps == 10 and len(resumed.losses) == 5
    assert resumed.losses == first.losses[5:]  # exact on the CPU
    got = load_file(folder / LORA_FILE)
    assert got.keys() == expected.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


def test_prior_preservation_generates_only_missing_class_images(photos, tmp_path):
    classes = tmp_path / "class"
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(classes / name, rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    options = dict(
        with_prior_preservation=True,
        class_dir=classes,
        num_class_images=4,
        class_inference_steps=2,
        max_train_steps=2,
    )
    first = train(config(photos, tmp_path / "s", **options))
    assert first.class_images_generated == 2
    assert sorted(p.name for p in classes.iterdir()) == [
        "a.png",
        "b.png",
        "class-00000.png",
        "class-00001.png",
    ]
    assert np.isfinite(first.losses).all()
    again = train(config(photos, tmp_path / "s", **options))
    assert again.class_images_generated == 0
    assert len(list(classes.iterdir())) == 4


def test_photos_without_a_person_train_without_pose_and_warn(photos, tmp_path, caplog):
    poses = PoseSequence(_poses_with_gap(photos[1]), 64, 64)
    path = tmp_path / "gap.json"
    save_poses(path, poses)
    with caplog.at_level(logging.WARNING):
        result = train(config(photos, tmp_path, poses=path, max_train_steps=1))
    assert result.posed == 3
    assert "no person found in 1.png" in caplog.text


def _poses_with_gap(path: Path) -> np.ndarray:
    from toolkit.pose.io import load_poses

    keypoints = load_poses(path).keypoints.copy()
    keypoints[1] = (np.nan, np.nan, 0.0)
    return keypoints


def test_no_person_in_any_photo_is_a_one_line_error(photos, tmp_path):
    empty = PoseSequence(np.full((4, 18, 3), (np.nan, np.nan, 0.0), np.float32), 64, 64)
    path = tmp_path / "empty.json"
    save_poses(path, empty)
    with pytest.raises(ToolkitError, match="no person was found in any photo"):
        train(config(photos, tmp_path, poses=path))


def test_script_help_lists_the_flags():
    run = subprocess.run(
        [sys.executable, str(ROOT / "training" / "dreambooth.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    for flag in ("--instance-dir", "--pose-conditioning", "--with-prior-preservation", "--export-kohya"):
        assert flag in run.stdout


def test_init_lora_trains_the_subject_on_the_concept_and_generate_stacks_both(photos, tmp_path):
    from toolkit.diffusion.tiny import save_random_lora, tiny_unet

    concept = save_random_lora(tiny_unet(), tmp_path / "concept", std=0.3)
    short = dict(max_train_steps=3, validation_steps=0, learning_rate=1e-2)
    train(config(photos, tmp_path / "plain", **short))
    train(config(photos, tmp_path / "stacked", init_lora=concept.parent, init_lora_scale=0.8, **short))
    plain = load_file(tmp_path / "plain" / "mannequin" / LORA_FILE)
    stacked = load_file(tmp_path / "stacked" / "mannequin" / LORA_FILE)
    assert any(not torch.equal(plain[key], stacked[key]) for key in plain)  # it learnt on another base

    folder = tmp_path / "stacked" / "mannequin"
    subject = SubjectRegistry(tmp_path / "stacked").get("mannequin")
    assert (subject.concept_lora, subject.concept_scale) == ("concept_lora.safetensors", 0.8)
    assert (folder / "concept_lora.safetensors").read_bytes() == concept.read_bytes()

    poses = tmp_path / "two.json"
    assert toolkit_main(["poses", "make", "walk", "--frames", "2", "--size", "64", "-o", str(poses)]) == 0
    argv = ["generate", "--subject", "mannequin", "--poses", str(poses), "--size", "64", "--steps", "2"]
    assert (
        toolkit_main(
            [*argv, "--subjects-dir", str(tmp_path / "stacked"), "--no-progress", "-o", str(tmp_path / "out")]
        )
        == 0
    )
    loras = json.loads((tmp_path / "out" / "manifest.json").read_text())["models"]["loras"]
    assert [(lora["name"], lora["scale"]) for lora in loras] == [("concept", 0.8), ("subject", 1.0)]
    assert loras[0]["sha256"] == file_sha256(concept)


def test_init_lora_must_be_a_local_lora(photos, tmp_path):
    with pytest.raises(ValueError, match="--init-lora .* not a .safetensors file"):
        config(photos, tmp_path, init_lora=tmp_path / "missing")


def test_locon_targets_adapt_the_resnet_convolutions_and_generate_loads_them(photos, tmp_path):
    train(config(photos, tmp_path, max_train_steps=2, lora_targets="attention+conv", learning_rate=1e-2))
    keys = list(load_file(tmp_path / "mannequin" / LORA_FILE))
    assert any(".conv1.lora_A" in k for k in keys) and any(".conv2.lora_B" in k for k in keys)
    assert any(".to_q.lora" in k for k in keys)
    poses = tmp_path / "one.json"
    assert toolkit_main(["poses", "make", "walk", "--frames", "1", "--size", "64", "-o", str(poses)]) == 0
    argv = ["generate", "--subject", "mannequin", "--subjects-dir", str(tmp_path), "--poses", str(poses)]
    assert (
        toolkit_main([*argv, "--size", "64", "--steps", "2", "--no-progress", "-o", str(tmp_path / "out")])
        == 0
    )
    with pytest.raises(ValueError, match="unknown --lora-targets"):
        config(photos, tmp_path, lora_targets="everything")


def test_diffusers_spellings_train_a_subject_folder_with_its_model_card(photos, tmp_path):
    out = tmp_path / "subjects" / "prathik"
    argv = [
        "--pretrained_model_name_or_path", "tiny", "--controlnet", "tiny",
        "--instance_data_dir", str(photos[0]), "--poses", str(photos[1]), "--max_train_steps", "3",
        "--output_dir", str(out), "--resolution=64",
        "--instance_prompt", "a photo of {token} {class} walking", "--validation_prompt", "{token} {class}",
        "--validation_inference_steps", "2", "--validation_motions", "walk", "--seed", "0", "--no-progress",
    ]  # fmt: skip
    run = subprocess.run(
        [sys.executable, str(ROOT / "training" / "dreambooth.py"), *argv],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    subject = SubjectRegistry(out.parent).get("prathik")
    assert subject.prompt == "a photo of {token} {class} walking" and subject.training["steps"] == 3
    card = (out / "README.md").read_text()
    assert (
        card.startswith("---\nbase_model: tiny\n")
        and 'instance_prompt: "a photo of sks person walking"' in card
    )
    assert "![validation grid" in card and (out / "samples" / "validation.png").is_file()
    assert "pipe.load_lora_weights" in card and "| steps | 3 of batch 4" in card


def test_output_dir_and_subject_must_agree(capsys):
    from toolkit.diffusion.dreambooth.cli import main

    assert main(["--instance-dir", "x", "--output_dir", "subjects/a", "--subject", "b"]) == 2
    assert "--output-dir names the subject folder" in capsys.readouterr().err
    assert main(["--instance-dir", "x"]) == 2
    assert "--subject NAME, or --output-dir" in capsys.readouterr().err


def test_photos_given_in_memory_train_the_lora_the_files_do(photos, tmp_path):
    from toolkit.data.subject import SubjectFrames
    from toolkit.pose.io import load_poses

    images = np.stack([read_image(p) for p in list_images(photos[0])])
    frames = SubjectFrames(images, load_poses(photos[1]).to_layout("body_18"))
    short = dict(max_train_steps=3, validation_steps=0, learning_rate=1e-2)
    train(config(photos, tmp_path / "files", **short))
    train(config(photos, tmp_path / "memory", instance_dir=None, poses=None, **short), photos=frames)
    on_disk = load_file(tmp_path / "files" / "mannequin" / LORA_FILE)
    in_memory = load_file(tmp_path / "memory" / "mannequin" / LORA_FILE)
    assert all(torch.equal(on_disk[key], in_memory[key]) for key in on_disk)
    kept = sorted(p.name for p in (tmp_path / "memory" / "mannequin" / "photos").iterdir())
    assert kept == [f"{i:05d}.png" for i in range(len(images))]
    with pytest.raises(ToolkitError, match="no instance photos"):
        train(config(photos, tmp_path / "none", instance_dir=None, poses=None, **short))
