"""The diffusion method on the tiny random-weight pipeline (32 px mannequin frames, 3 training steps, 2
denoising steps): fit and transfer, save/load, a command-line subject folder, base + ControlNet alone,
determinism and the one-line errors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from baselines.diffusion import DiffusionConfig, DiffusionTransfer
from toolkit.data.datasets import mannequin_frames
from toolkit.data.media import write_image
from toolkit.data.subject import SubjectFrames
from toolkit.diffusion.dreambooth.cli import main as dreambooth_main
from toolkit.diffusion.subjects import LORA_FILE, SUBJECT_FILE
from toolkit.errors import ToolkitError
from toolkit.methods import Baseline, get_method
from toolkit.nn.io import CheckpointError, config_from_dict
from toolkit.pose.io import save_poses
from toolkit.pose.motions import make_motion

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A large learning rate so that three steps move the LoRA visibly past 8-bit rounding of the frames.
TINY = {
    "base": "tiny",
    "controlnet": "tiny",
    "train_steps": 3,
    "train_batch_size": 2,
    "learning_rate": 1e-2,
    "inference_steps": 2,
}
BASE_ONLY = {**TINY, "lora": False}


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(2, motions=("walk",), frames=4, size=32)


@pytest.fixture(scope="module")
def targets():
    """Three wave poses on a 40 x 32 canvas (wider than the training frames)."""
    return make_motion("wave", frames=3, width=40, height=32)


@pytest.fixture(scope="module")
def fitted(subject: SubjectFrames) -> DiffusionTransfer:
    method = DiffusionTransfer(TINY)
    method.fit(subject)
    return method


@pytest.fixture(scope="module")
def rendered(fitted: DiffusionTransfer, subject: SubjectFrames, targets) -> np.ndarray:
    return fitted.transfer(subject.images, subject.poses, targets)


def test_registered_with_defaults_for_the_mini_model() -> None:
    assert get_method("diffusion") is DiffusionTransfer
    assert isinstance(DiffusionTransfer(), Baseline)
    config = DiffusionConfig()
    assert (config.base, config.controlnet, config.template, config.class_noun) == (
        "mini",
        "mini",
        "mannequin",
        "mannequin",
    )
    assert (config.lora, config.train_steps, config.guidance, config.resolution) == (True, 400, 5.0, None)
    assert config_from_dict(DiffusionConfig, json.loads(json.dumps(asdict(config)))) == config


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"steps": 3}, "no setting 'steps'"),
        ({"train_steps": 0}, "train_steps must be an integer >= 1"),
        ({"inference_steps": 2.5}, "inference_steps must be an integer"),
        ({"resolution": 36}, "multiple of 8"),
        ({"lora": "yes"}, "lora must be true or false"),
        ({"learning_rate": 0}, "learning_rate must be a finite number > 0"),
        ({"guidance": float("nan")}, "guidance must be a finite number"),
        ({"consistency": "sticky"}, "sticky"),
        ({"base": ""}, "base must be a non-empty string"),
        ({"describe": True}, "describe=true renders the base model.*set lora=false"),
        ({"reference_fidelity": 1.5}, "reference_fidelity must be in"),
        ({"references": 0}, "references must be an integer >= 1"),
    ],
)
def test_bad_settings_are_one_line_errors(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        DiffusionTransfer(values)
    assert "\n" not in str(err.value)


def test_transfer_before_fit_is_a_one_line_error(subject: SubjectFrames, targets) -> None:
    with pytest.raises(ToolkitError, match=r"call fit\(\).*or load\(\)") as err:
        DiffusionTransfer(TINY).transfer(subject.images, subject.poses, targets)
    assert "\n" not in str(err.value)
    with pytest.raises(ToolkitError, match="no trained subject"):
        DiffusionTransfer(TINY).save(Path("unused"))


def test_frames_that_cannot_train_at_their_own_size_are_refused() -> None:
    poses = make_motion("walk", frames=2, width=40, height=32)
    frames = SubjectFrames(np.zeros((2, 32, 40, 3), np.uint8), poses)
    with pytest.raises(ValueError, match="40x32.*set resolution") as err:
        DiffusionTransfer(TINY).fit(frames)
    assert "\n" not in str(err.value)


def test_fit_then_transfer_renders_the_target_canvas(
    fitted: DiffusionTransfer, rendered: np.ndarray, subject: SubjectFrames, targets
) -> None:
    assert rendered.shape == (3, 32, 40, 3) and rendered.dtype == np.uint8
    assert rendered.std() > 5  # a picture, not a blank canvas
    assert not np.array_equal(rendered[0], rendered[2])  # each frame follows its own pose
    assert fitted.registry is not None and (fitted.registry / fitted.subject / LORA_FILE).is_file()
    # Same seed, same frames.
    assert np.array_equal(fitted.transfer(subject.images, subject.poses, targets), rendered)


def test_save_and_load_render_the_same_frames(
    fitted: DiffusionTransfer, rendered: np.ndarray, subject: SubjectFrames, targets, tmp_path: Path
) -> None:
    fitted.save(tmp_path)
    folder = tmp_path / "subjects" / fitted.subject
    assert (folder / LORA_FILE).is_file() and (folder / SUBJECT_FILE).is_file()
    assert json.loads((tmp_path / "config.json").read_text())["method"] == "diffusion"

    loaded = DiffusionTransfer.load(tmp_path)
    assert loaded.config == fitted.config and loaded.subject == fitted.subject
    assert np.array_equal(loaded.transfer(subject.images, subject.poses, targets), rendered)


def test_base_and_controlnet_alone_render_without_fitting(
    rendered: np.ndarray, subject: SubjectFrames, targets, tmp_path: Path
) -> None:
    method = DiffusionTransfer(BASE_ONLY)
    frames = method.transfer(subject.images, subject.poses, targets)
    assert frames.shape == rendered.shape and frames.dtype == np.uint8
    assert not np.array_equal(frames, rendered)  # the LoRA changed the pictures
    assert np.array_equal(method.transfer(subject.images, subject.poses, targets), frames)

    reseeded = DiffusionTransfer({**BASE_ONLY, "seed": 1}).transfer(subject.images, subject.poses, targets)
    assert not np.array_equal(reseeded, frames)

    # A canvas whose sides are not multiples of 8 is rendered larger and cut back.
    odd = make_motion("wave", frames=2, width=30, height=26)
    assert method.transfer(subject.images, subject.poses, odd).shape == (2, 26, 30, 3)

    method.fit(subject)
    method.save(tmp_path)
    assert not (tmp_path / "subjects").exists()
    assert np.array_equal(
        DiffusionTransfer.load(tmp_path).transfer(subject.images, subject.poses, targets), frames
    )


def test_describe_prompts_the_base_with_the_subjects_description(
    subject: SubjectFrames, targets, tmp_path: Path
) -> None:
    described = SubjectFrames(subject.images, subject.poses, name="s", description="a mannequin in red")
    method = DiffusionTransfer({**BASE_ONLY, "describe": True})
    method.fit(described)
    frames = method.transfer(subject.images, subject.poses, targets)
    by_class = DiffusionTransfer(BASE_ONLY).transfer(subject.images, subject.poses, targets)
    assert not np.array_equal(frames, by_class)  # another prompt, another picture
    method.save(tmp_path)
    loaded = DiffusionTransfer.load(tmp_path)
    assert loaded.description == "a mannequin in red"
    assert np.array_equal(loaded.transfer(subject.images, subject.poses, targets), frames)
    with pytest.raises(ValueError, match="describe=true needs a description of subject") as err:
        DiffusionTransfer({**BASE_ONLY, "describe": True}).fit(subject)
    assert "\n" not in str(err.value)


def test_loads_a_subject_folder_trained_on_the_command_line(
    subject: SubjectFrames, targets, tmp_path: Path
) -> None:
    for i, image in enumerate(subject.images):
        write_image(tmp_path / "photos" / f"{i}.png", image)
    save_poses(tmp_path / "poses.json", subject.poses)
    argv = [
        "--subject",
        "alice",
        "--instance-dir",
        str(tmp_path / "photos"),
        "--poses",
        str(tmp_path / "poses.json"),
    ]
    argv += ["--base", "tiny", "--controlnet", "tiny", "--subjects-dir", str(tmp_path / "subjects")]
    argv += ["--resolution", "32", "--max-train-steps", "2", "--rank", "2", "--validation-steps", "0"]
    argv += [
        "--validation-motions",
        "walk",
        "--validation-inference-steps",
        "1",
        "--seed",
        "0",
        "--no-progress",
    ]
    assert dreambooth_main(argv) == 0

    method = DiffusionTransfer.load(tmp_path / "subjects" / "alice")
    c = method.config
    assert (c.base, c.token, c.class_noun, c.template) == ("tiny", "sks", "person", "default")
    assert (c.rank, c.train_steps, c.resolution) == (2, 2, 32)
    frames = method.transfer(subject.images, subject.poses, targets)
    assert frames.shape == (3, 32, 40, 3) and frames.dtype == np.uint8


def test_load_of_a_folder_that_is_neither_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="neither a saved diffusion method") as err:
        DiffusionTransfer.load(tmp_path)
    assert "\n" not in str(err.value)


def test_subject_dir_renders_a_trained_subject_without_training_again(
    fitted: DiffusionTransfer, subject: SubjectFrames, targets, rendered: np.ndarray
) -> None:
    folder = fitted.registry / fitted.subject
    method = DiffusionTransfer({**TINY, "train_steps": 10_000, "subject_dir": str(folder)})
    method.fit(subject)  # 10,000 steps would take minutes: it must not train
    assert np.array_equal(method.transfer(subject.images, subject.poses, targets), rendered)
    empty = DiffusionTransfer({**TINY, "subject_dir": str(folder.parent / "nobody")})
    with pytest.raises(ToolkitError, match="nobody"):
        empty.fit(subject)


def test_reference_renders_the_source_person_with_or_without_a_lora(
    fitted: DiffusionTransfer, rendered: np.ndarray, subject: SubjectFrames, targets
) -> None:
    base = DiffusionTransfer(BASE_ONLY).transfer(subject.images, subject.poses, targets)
    alone = DiffusionTransfer({**BASE_ONLY, "reference": True})
    referenced = alone.transfer(subject.images, subject.poses, targets)
    assert referenced.shape == base.shape and not np.array_equal(referenced, base)
    other = alone.transfer(subject.images[::-1].copy(), subject.poses, targets)  # another first photo
    assert not np.array_equal(other, referenced)
    with pytest.raises(ToolkitError, match="reference=true renders the person of a source image"):
        alone.transfer(subject.images[:0], subject.poses[:0], targets)

    stacked = DiffusionTransfer({**TINY, "reference": True})
    stacked.subject, stacked.registry = fitted.subject, fitted.registry  # the LoRA fitted above
    both = stacked.transfer(subject.images, subject.poses, targets)
    assert not np.array_equal(both, rendered) and not np.array_equal(both, referenced)


def test_training_options_reach_dreambooth(subject: SubjectFrames, tmp_path: Path) -> None:
    options = {
        **TINY,
        "train_steps": 2,
        "lora_targets": "attention+conv",
        "train_text_encoder": True,
        "pose_conditioning": False,
        "prior_preservation": True,
        "num_class_images": 2,
        "class_dir": str(tmp_path / "class"),
    }
    method = DiffusionTransfer(options)
    method.fit(subject)
    assert len(list((tmp_path / "class").glob("*.png"))) == 2  # drawn by the base, kept for later fits
    method.save(tmp_path / "saved")
    loaded = DiffusionTransfer.load(tmp_path / "saved" / "subjects" / method.subject)  # its subject.toml
    for name in ("lora_targets", "train_text_encoder", "pose_conditioning", "prior_preservation"):
        assert getattr(loaded.config, name) == options[name]
