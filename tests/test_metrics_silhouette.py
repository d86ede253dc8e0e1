"""Silhouette IoU on mannequin renders over their known backgrounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from toolkit.data.mannequin import BackgroundError, MannequinSpec, background_image, render_sequence
from toolkit.eval.metrics import MetricInputs, build_metric
from toolkit.eval.metrics.silhouette import foreground
from toolkit.pose.motions import make_motion


def render(background: str, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    poses = make_motion("dance", frames=6, width=128, height=128)
    moved = dataclasses.replace(poses, keypoints=poses.keypoints + np.float32([shift, 0, 0]))
    frames = list(render_sequence(MannequinSpec.sample(1), moved, background=background))
    return np.stack([f.image for f in frames]), np.stack([f.mask for f in frames])


@pytest.mark.parametrize("background", ["plain", "gradient"])
def test_truth_scores_one_and_a_shifted_figure_less(background: str) -> None:
    images, masks = render(background)
    truth = build_metric("silhouette_iou").compute(MetricInputs(images, images, background=background))
    assert truth.per_frame.shape == (6,) and (truth.per_frame == 1.0).all()
    shifted, _ = render(background, shift=4.0)
    moved = build_metric("silhouette_iou").compute(MetricInputs(shifted, images, background=background))
    assert moved.value < 0.8


@pytest.mark.parametrize("background", ["plain", "gradient"])
def test_against_exact_masks_truth_loses_only_the_outline(background: str) -> None:
    images, masks = render(background)
    metric = build_metric("silhouette_iou", reference="mask")
    truth = metric.compute(MetricInputs(images, images, masks, background=background))
    assert 0.95 < truth.per_frame.min() < 1.0
    shifted, _ = render(background, shift=4.0)
    assert (
        metric.compute(MetricInputs(shifted, images, masks, background=background)).value < truth.value - 0.2
    )


def test_outline_pixels_count_when_more_than_half_covered() -> None:
    back = np.full((12, 12, 3), 200, np.float32)
    image = back.copy()
    image[2:10, 2:6] = 40  # a dark figure, fully covering columns 2..5
    image[2:6, 6] = 0.6 * 40 + 0.4 * 200  # its anti-aliased edge: 60% covered above,
    image[6:10, 6] = 0.4 * 40 + 0.6 * 200  # 40% below
    image[11, 0] = 0  # a one-pixel speck

    def found(opening: int) -> np.ndarray:
        frames = torch.from_numpy(image).permute(2, 0, 1)[None]
        return foreground(frames, torch.from_numpy(back).permute(2, 0, 1), opening=opening)[0].numpy()

    expected = np.zeros((12, 12), bool)
    expected[2:10, 2:6] = expected[2:6, 6] = expected[11, 0] = True
    assert (found(opening=1) == expected).all()
    expected[11, 0] = False
    assert (found(opening=3) == expected).all()


def test_needs_background_and_masks_for_the_mask_reference() -> None:
    images, masks = render("plain")
    assert build_metric("silhouette_iou").compute(MetricInputs(images, images, masks)).reason == (
        "silhouette_iou needs the benchmark's known background (MetricInputs.background)"
    )
    by_mask = build_metric("silhouette_iou", reference="mask")
    assert not by_mask.compute(MetricInputs(images, images, background="plain")).available
    image_background = background_image("floor", 128, 128)
    assert by_mask.compute(MetricInputs(images, images, masks, background=image_background)).value < 0.9
    with pytest.raises(ValueError, match="reference"):
        build_metric("silhouette_iou", reference="pose")
    with pytest.raises(BackgroundError):
        build_metric("silhouette_iou").compute(MetricInputs(images, images, masks, background="space"))
