"""``PoseTransferPipeline``: the in-memory object behind ``toolkit generate``, on the tiny pipeline. Its
frames are the command's, pixel for pixel, for the same subject, poses and settings."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.data.media import read_image
from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.diffusion.subjects import Subject, SubjectRegistry
from toolkit.diffusion.tiny import save_random_lora, tiny_unet
from toolkit.pose.io import load_poses
from toolkit.pose.proportions import BodyProportions

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SETTINGS = ["--size", "64", "--steps", "2", "--batch", "3", "--seed", "3", "--no-progress"]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    path = tmp_path_factory.mktemp("poses") / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "5", "--size", "96", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def subjects(tmp_path_factory):
    root = tmp_path_factory.mktemp("subjects")
    subject = Subject("bo", base="tiny", controlnets=("tiny",), proportions=BodyProportions(head=0.16))
    folder = SubjectRegistry(root).save(subject)
    save_random_lora(tiny_unet(), folder, std=0.3)
    return root


def cli_frames(out, count):
    return np.stack([read_image(out / "frames" / f"{i:04d}.png") for i in range(count)])


def test_a_base_model_renders_the_frames_generate_writes(walk, tmp_path):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "generate",
                "--base",
                "tiny",
                "--poses",
                str(walk),
                "--prompt",
                "a dancer",
                *SETTINGS,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    frames = pipe(
        load_poses(walk),
        prompt="a dancer",
        size=(64, 64),
        num_inference_steps=2,
        batch=3,
        seed=3,
        progress=False,
    )
    assert frames.shape == (5, 64, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames, cli_frames(out, 5))
    again = pipe(
        load_poses(walk),
        prompt="a dancer",
        size=(64, 64),
        num_inference_steps=2,
        batch=3,
        seed=4,
        progress=False,
    )
    assert not np.array_equal(again, frames)  # the seed is honoured


def test_a_subject_renders_with_its_lora_and_proportions_as_generate_does(walk, subjects, tmp_path):
    out = tmp_path / "cli"
    argv = ["generate", "--subject", "bo", "--subjects-dir", str(subjects), "--poses", str(walk), *SETTINGS]
    assert main([*argv, "-o", str(out)]) == 0
    pipe = PoseTransferPipeline.from_subject("bo", subjects_dir=subjects)
    assert [lora["name"] for lora in pipe.loras] == ["subject"] and pipe.size == (512, 512)  # SD 1.5's
    settings = dict(size=(64, 64), num_inference_steps=2, batch=3, seed=3, progress=False)
    frames = pipe(load_poses(walk), **settings)
    np.testing.assert_array_equal(frames, cli_frames(out, 5))
    unretargeted = pipe(load_poses(walk), retarget=False, **settings)
    assert not np.array_equal(unretargeted, frames)
    with pytest.raises(ValueError, match="unknown scheduler"):
        PoseTransferPipeline.from_subject("bo", subjects_dir=subjects, scheduler="nope")


def test_guidance_stop_runs_the_last_steps_as_one_conditional_pass(walk):
    pipe = PoseTransferPipeline.from_pretrained("tiny")
    batches = []
    hook = pipe.pipe.unet.register_forward_pre_hook(lambda module, args: batches.append(args[0].shape[0]))
    settings = dict(size=(64, 64), num_inference_steps=4, guidance_scale=5.0, batch=3, progress=False)
    try:
        full = pipe(load_poses(walk), **settings)
        assert batches == [8] * 4 * 2  # two calls of 4 slots (anchor + 3), guidance doubles each
        batches.clear()
        half = pipe(load_poses(walk), guidance_stop=0.5, **settings)
    finally:
        hook.remove()
    assert batches == [8, 8, 4, 4] * 2  # guided for 2 of 4 steps, then the conditional pass alone
    assert half.shape == full.shape and not np.array_equal(half, full)
    with pytest.raises(ValueError, match="does not combine with references"):
        pipe(load_poses(walk), guidance_stop=0.5, references=[np.zeros((64, 64, 3), np.uint8)], **settings)
    with pytest.raises(ValueError, match="guidance_stop in \\(0, 1\\]"):
        pipe(load_poses(walk), guidance_stop=0.0, **settings)
