"""Part colour error and identity accuracy on mannequins whose every pixel's material is known."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from toolkit.data.mannequin import MATERIAL, Garment, MannequinSpec, render_sequence
from toolkit.eval.metrics import MetricInputs, build_metric
from toolkit.eval.metrics.color import ciede2000, srgb_to_lab
from toolkit.eval.metrics.identity import DISTRACTOR_SEED, color_mmd, region_cores
from toolkit.pose.motions import make_motion

FRAMES = 4


def clip(spec: MannequinSpec, motion: str = "dance", shift: float = 0.0) -> dict[str, np.ndarray]:
    """``FRAMES`` frames of ``spec``: images, materials and the poses (moved right by ``shift`` pixels)."""
    poses = make_motion(motion, frames=FRAMES, width=128, height=128, proportions=spec.proportions, seed=3)
    moved = dataclasses.replace(poses, keypoints=poses.keypoints + np.float32([shift, 0, 0]))
    frames = list(render_sequence(spec, moved))
    return {
        "images": np.stack([f.image for f in frames]),
        "materials": np.stack([f.materials for f in frames]),
        "poses": moved,
    }


def inputs(generated: np.ndarray, truth: dict[str, np.ndarray], **kwargs: object) -> MetricInputs:
    return MetricInputs(
        generated, truth["images"], materials=truth["materials"], poses=truth["poses"], background="plain",
        **kwargs,
    )  # fmt: skip


SUBJECT = MannequinSpec.sample(3)


# ---- part colour error ----------------------------------------------------------------------------------


def test_part_color_error_is_zero_for_the_truth_and_names_the_wrong_region() -> None:
    truth = clip(SUBJECT)
    metric = build_metric("part_color_error")
    exact = metric.compute(inputs(truth["images"], truth))
    assert exact.value == 0.0 and (exact.per_frame == 0).all()
    assert set(exact.details["regions"]) == {"skin", "hair", "shirt", "trousers", "shoes"}

    recoloured = truth["images"].copy()
    shirt = truth["materials"] == MATERIAL["shirt"]
    recoloured[shirt] = (40, 200, 40)
    result = metric.compute(inputs(recoloured, truth))
    regions = result.details["regions"]
    assert regions["skin"] == regions["trousers"] == 0.0 and regions["shoes"] in (0.0, None)
    assert regions["shirt"] > 20
    # Exactly CIEDE2000 of the mean colours over the shirt's core, averaged with the untouched regions.
    labels, cores = truth["materials"][0], region_cores(truth["materials"][0], 1)
    true_shirt = truth["images"][0][cores & shirt[0]].mean(0)
    expected = ciede2000(srgb_to_lab(np.float64([40, 200, 40])), srgb_to_lab(true_shirt))
    shown = [r for r in result.details["regions"] if (cores & (labels == MATERIAL[r])).sum() >= 4]
    assert result.per_frame[0] == pytest.approx(expected / len(shown))


def test_a_blurred_pattern_costs_little_but_wrong_pattern_colours_cost_much() -> None:
    striped = dataclasses.replace(
        SUBJECT, shirt=Garment(color=(200, 40, 40), pattern="stripes", pattern_color=(240, 240, 90))
    )
    truth = clip(striped)
    blurred = np.stack([cv2.GaussianBlur(image, (0, 0), 1.0) for image in truth["images"]])
    shirt = truth["materials"] == MATERIAL["shirt"]
    pixelwise = ciede2000(srgb_to_lab(blurred[shirt]), srgb_to_lab(truth["images"][shirt])).mean()
    metric = build_metric("part_color_error")
    # The stripes are gone (about 15 per pixel), but the shirt's colour as a whole is kept.
    assert pixelwise > 10 and metric.compute(inputs(blurred, truth)).details["regions"]["shirt"] < 1
    blue = dataclasses.replace(striped, shirt=dataclasses.replace(striped.shirt, pattern_color=(40, 40, 240)))
    assert metric.compute(inputs(clip(blue)["images"], truth)).details["regions"]["shirt"] > 10


def test_erosion_leaves_out_the_anti_aliased_outline_and_seams() -> None:
    labels = np.zeros((12, 12), np.uint8)
    labels[1:8, 1:5] = MATERIAL["shirt"]
    labels[1:8, 5:8] = MATERIAL["skin"]
    core = region_cores(labels, 1)
    assert core[4, 2] and core[4, 3] and not core[4, 4] and not core[4, 5] and core[4, 6]
    assert not core[1, 2] and core[11, 11]  # the outline goes; the backdrop away from it stays
    assert region_cores(labels, 0).all()


def test_misalignment_raises_the_error() -> None:
    truth = clip(SUBJECT)
    metric = build_metric("part_color_error")
    errors = [metric.compute(inputs(clip(SUBJECT, shift=s)["images"], truth)).value for s in (0, 1, 3)]
    assert errors[0] == 0.0 < errors[1] < errors[2]


def test_part_color_error_needs_materials_and_checks_its_settings() -> None:
    truth = clip(SUBJECT)
    result = build_metric("part_color_error").compute(MetricInputs(truth["images"], truth["images"]))
    assert not result.available and "material labels" in result.reason
    with pytest.raises(ValueError, match="regions"):
        build_metric("part_color_error", regions=("cape",))
    with pytest.raises(ValueError, match="erode"):
        build_metric("part_color_error", erode=-1)
    with pytest.raises(ValueError, match="materials"):
        MetricInputs(truth["images"], truth["images"], materials=truth["materials"].astype(np.int32))


# ---- identity accuracy ----------------------------------------------------------------------------------


def test_identity_is_one_for_the_truth_and_for_the_subject_in_another_pose() -> None:
    truth = clip(SUBJECT)
    metric = build_metric("identity_accuracy")
    exact = metric.compute(inputs(truth["images"], truth))
    assert exact.value == 1.0 and exact.details["mean_rank"] == 1.0
    assert exact.details["chance"] == pytest.approx(1 / 31)
    elsewhere = clip(SUBJECT, motion="squat", shift=20)["images"]  # wrong pose, right clothes
    assert metric.compute(inputs(elsewhere, truth)).value == 1.0


def test_identity_is_zero_for_a_distractor_an_empty_frame_and_low_for_another_subject() -> None:
    truth = clip(SUBJECT)
    metric = build_metric("identity_accuracy", distractors=30)
    # A distractor drawn in exactly the target poses is its own nearest candidate.
    distractor = MannequinSpec.sample(DISTRACTOR_SEED + 7)
    as_distractor = np.stack([f.image for f in render_sequence(distractor, truth["poses"])])
    assert metric.compute(inputs(as_distractor, truth)).value == 0.0
    empty = np.broadcast_to(truth["images"][:, :1, :1], truth["images"].shape).copy()
    result = metric.compute(inputs(empty, truth))
    assert result.value == 0.0 and result.details["mean_rank"] == 31
    others = [clip(MannequinSpec.sample(seed))["images"] for seed in (11, 12, 13, 14, 15)]
    assert np.mean([metric.compute(inputs(o, truth)).value for o in others]) <= 0.2


def test_color_mmd_is_zero_for_equal_sets_and_grows_with_the_colour_gap() -> None:
    rng = np.random.default_rng(0)
    x = srgb_to_lab(rng.integers(100, 140, (50, 3)))
    near, far = x + np.float64([0, 3, 0]), x + np.float64([0, 40, 0])
    assert color_mmd(x, x, 10.0) == pytest.approx(0.0, abs=1e-12)
    assert 0 < color_mmd(x, near, 10.0) < color_mmd(x, far, 10.0) <= 2.0


def test_identity_needs_materials_poses_and_background_and_checks_its_settings() -> None:
    truth = clip(SUBJECT)
    bare = MetricInputs(truth["images"], truth["images"], materials=truth["materials"], background="plain")
    assert "target poses" in build_metric("identity_accuracy").compute(bare).reason
    with pytest.raises(ValueError, match="distractors"):
        build_metric("identity_accuracy", distractors=0)
    with pytest.raises(ValueError, match="bandwidth"):
        build_metric("identity_accuracy", bandwidth=0.0)
