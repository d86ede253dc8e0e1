"""DreamBooth parts: crops and flips with poses, batch plans, proportions, checkpoints, kohya keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.diffusion.controls import control_images
from toolkit.diffusion.dreambooth.config import DreamBoothConfig
from toolkit.diffusion.dreambooth.data import ExampleSet, prepare_example
from toolkit.diffusion.dreambooth.lora import (
    ATTENTION,
    TEXT_TARGETS,
    add_lora,
    kohya_state_dict,
    load_trainable_state,
    trainable_state,
)
from toolkit.diffusion.dreambooth.poses import estimate_proportions
from toolkit.diffusion.dreambooth.prior import missing_class_names
from toolkit.diffusion.tiny import tiny_components
from toolkit.errors import ToolkitError
from toolkit.nn.train_log import CsvLog
from toolkit.pose.motions import make_motion
from toolkit.pose.proportions import BodyProportions
from toolkit.pose.skeleton import BODY_18
from toolkit.train.sampling import BatchPlan


def test_crop_keeps_the_pose_on_the_person():
    pose = make_motion("walk", frames=1, width=96, height=64)
    image = np.zeros((64, 96, 3), np.uint8)
    kx, ky = pose.keypoints[0, BODY_18.index("neck"), :2]
    x, y = round(float(kx)), round(float(ky))
    image[y, x] = 255
    cropped, moved = prepare_example(image, pose, 32)
    assert cropped.shape == (32, 32, 3) and moved.canvas == (32, 32)
    # The 64 px centre square starts at x = 16 and shrinks by 2: the marked pixel lands under the neck.
    nx, ny = moved.keypoints[0, BODY_18.index("neck"), :2]
    assert (nx, ny) == pytest.approx(((kx - 16 + 0.5) / 2 - 0.5, (ky + 0.5) / 2 - 0.5))
    bright = np.argwhere(cropped[..., 0] > 0)
    assert np.abs(bright - [ny, nx]).max() <= 1.0


def test_flip_mirrors_the_image_and_swaps_left_and_right():
    pose = make_motion("wave", frames=1, width=64, height=64)
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    examples = ExampleSet.build([image], [pose], 64)
    pixels, controls, posed = examples.batch(np.array([0, 0]), np.array([False, True]))
    assert torch.equal(pixels[1], pixels[0].flip(-1))
    expected = control_images(pose.flipped())[0]
    assert torch.equal(controls[1], torch.from_numpy(expected).permute(2, 0, 1).float() / 255)
    # Swapping sides changes the colours: the flipped skeleton is not the mirrored picture of the first.
    assert not torch.equal(controls[1], controls[0].flip(-1))
    assert posed.tolist() == [True, True]


def test_examples_without_pose_get_a_black_control_and_are_marked():
    image = np.zeros((40, 40, 3), np.uint8)
    examples = ExampleSet.build(
        [image, image], [None, make_motion("walk", frames=1, width=40, height=40)], 32
    )
    assert examples.posed.tolist() == [False, True]
    assert examples.controls[:, 0].abs().max() == 0 and examples.controls[:, 1].max() > 0


def test_batch_plan_covers_each_epoch_and_splits_processes():
    plan = BatchPlan(length=7, batch_size=2, processes=2, seed=3, random_flip=True)
    assert plan.micro_steps_per_epoch == 2
    epoch = np.concatenate([plan.indices(m, p)[0] for m in range(2) for p in range(2)])
    assert set(epoch.tolist()) == set(range(7))
    assert np.array_equal(plan.indices(5, 1)[0], plan.indices(5, 1)[0])
    other_epoch = np.concatenate([plan.indices(m, p)[0] for m in (2, 3) for p in range(2)])
    assert not np.array_equal(epoch, other_epoch)  # each epoch is shuffled anew
    no_flip = BatchPlan(length=7, batch_size=4, processes=1, seed=3, random_flip=False)
    assert not no_flip.indices(0, 0)[1].any()


def test_proportions_of_a_front_view_standing_figure_are_measured_exactly():
    body = BodyProportions.sample(np.random.default_rng(5))
    pose = make_motion("walk", frames=1, width=256, height=256, proportions=body, yaw=0, amplitude=0)
    found = estimate_proportions([None, pose])
    for name in ("torso", "thigh", "shin", "upper_arm", "forearm", "shoulder_width", "hip_width"):
        # Up to the default share of head, neck and ankle, which the joints cannot see.
        expected = getattr(body, name) * (0.779 / (body.torso + body.thigh + body.shin))
        assert getattr(found, name) == pytest.approx(expected, rel=2e-3), name


def test_no_proportions_without_a_visible_leg():
    pose = make_motion("walk", frames=1, width=64, height=64)
    keypoints = pose.keypoints.copy()
    for joint in ("right_knee", "left_knee"):
        keypoints[0, BODY_18.index(joint)] = (np.nan, np.nan, 0)
    from dataclasses import replace

    assert estimate_proportions([replace(pose, keypoints=keypoints), None]) is None


def test_kohya_keys_and_alpha():
    parts = tiny_components()
    unet, text = parts["unet"], parts["text_encoder"]
    add_lora(unet, ATTENTION, rank=4, alpha=8, dropout=0.0)
    add_lora(text, TEXT_TARGETS, rank=4, alpha=8, dropout=0.0)
    state = kohya_state_dict(unet, text, alpha=8)
    name = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_out_0"
    assert state[f"{name}.lora_down.weight"].shape == (4, 64)
    assert state[f"{name}.lora_up.weight"].shape == (64, 4)
    assert float(state[f"{name}.alpha"]) == 8.0
    assert "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight" in state
    assert all(k.startswith(("lora_unet_", "lora_te_")) for k in state)
    suffixes = {k.split(".", 1)[1] for k in state}
    assert suffixes == {"lora_down.weight", "lora_up.weight", "alpha"}


def test_trainable_state_round_trip_and_mismatch():
    unet = tiny_components()["unet"]
    unet.requires_grad_(False)
    add_lora(unet, ATTENTION, rank=2, alpha=2, dropout=0.0)
    saved = {k: v + 1 for k, v in trainable_state(unet, None).items()}
    load_trainable_state(saved, unet, None)
    assert all(torch.equal(v, saved[k]) for k, v in trainable_state(unet, None).items())
    with pytest.raises(ValueError, match="does not match"):
        load_trainable_state({"unet.other": torch.zeros(1)}, unet, None)


def test_missing_class_names_fill_the_lowest_free_names(tmp_path):
    for name in ("class-00000.png", "mine.jpg"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in missing_class_names(tmp_path, 4)] == ["class-00001.png", "class-00002.png"]
    assert missing_class_names(tmp_path, 2) == []


def test_csv_log_continues_after_a_resume_and_drops_rows_past_the_checkpoint(tmp_path):
    log = CsvLog(tmp_path, start=0)
    for step in (1, 2, 3):
        log.write(step, 0.5 * step, {"loss": 1.0 / step, "lr": 0.1})
    log.close()
    resumed = CsvLog(tmp_path, start=2)  # the checkpoint was at step 2; step 3 is redone
    resumed.write(3, 1.5, {"loss": 0.25, "lr": 0.1})
    resumed.close()
    assert (tmp_path / "losses.csv").read_text().splitlines() == [
        "step,seconds,loss,lr",
        "1,0.500,1,0.1",
        "2,1.000,0.5,0.1",
        "3,1.500,0.25,0.1",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resolution": 60}, "multiple of 8"),
        ({"with_prior_preservation": True}, "--class-dir"),
        ({"lr_scheduler": "cosine_annealing"}, "--lr-scheduler"),
        ({"subject": "../x"}, "invalid subject name"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, options, message):
    with pytest.raises((ValueError, ToolkitError), match=message):
        DreamBoothConfig(**{"subject": "a", "instance_dir": tmp_path, **options})
