from dataclasses import replace

import numpy as np
import pytest

from toolkit.pose import PoseSequence, make_motion
from toolkit.pose.ops import (
    crop_image,
    crop_poses,
    crop_resize_image,
    crop_resize_poses,
    person_box,
    resize_image,
    resize_poses,
)

WIDTH, HEIGHT = 200, 160
DOTS = [(37.3, 50.8), (120.6, 90.2), (60.0, 139.7), (140.25, 20.5)]


def _dots() -> tuple[PoseSequence, np.ndarray]:
    """A pose with four joints, and an image with a small Gaussian dot centred on each."""
    keypoints = np.full((1, 18, 3), np.nan, np.float32)
    keypoints[..., 2] = 0
    keypoints[0, : len(DOTS)] = [(x, y, 1.0) for x, y in DOTS]
    ys, xs = np.mgrid[:HEIGHT, :WIDTH]  # pixel centres
    image = sum(np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.0**2)) for x, y in DOTS)
    return PoseSequence(keypoints, WIDTH, HEIGHT), image.astype(np.float32)


def _centroid(image: np.ndarray, x: float, y: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    near = (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
    weights = image * near
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


@pytest.mark.parametrize(
    ("box", "size"),
    [
        ((-20, 10, 150, 170), None),  # reaches past the left and bottom edges: padded
        ((-20, 10, 150, 170), (85, 80)),  # shrink by 2
        ((10, -6, 170, 154), (240, 225)),  # enlarge by 1.5
        ((0, 0, WIDTH, HEIGHT), (123, 211)),  # stretch unevenly
        ((0, 0, WIDTH, HEIGHT), (50, 40)),  # shrink by 4
    ],
)
def test_a_dot_drawn_at_a_joint_stays_at_the_transformed_joint(box, size):
    poses, image = _dots()
    out_poses = crop_resize_poses(poses, box, size)
    out_image = crop_resize_image(image, box, size)
    assert out_image.shape == (out_poses.height, out_poses.width)
    scale = 1.0 if size is None else size[0] / (box[2] - box[0])
    for x, y in out_poses.keypoints[0, : len(DOTS), :2]:
        found = _centroid(out_image, x, y, radius=8 * scale)
        # Well inside 1 px; a half-pixel slip in the resize convention would show as 0.25 px or more.
        assert np.abs(found - (x, y)).max() < 0.1, (found, (x, y))


def test_crop_pads_with_the_fill_colour():
    image = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    out = crop_image(image, (-5, 150, 30, 170), fill=(10, 20, 30))
    assert out.shape == (20, 35, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:10, 5:], image[150:160, 0:30])
    assert (out[:, :5] == (10, 20, 30)).all() and (out[10:] == (10, 20, 30)).all()
    assert (crop_image(image[..., 0], (WIDTH, 0, WIDTH + 4, 4), fill=7) == 7).all()


def test_resize_and_crop_round_trip():
    poses = make_motion("walk", frames=12, width=256, height=192)
    back = resize_poses(resize_poses(poses, 333, 101), 256, 192)
    np.testing.assert_allclose(back.keypoints, poses.keypoints, atol=1e-3)
    assert back.canvas == (256, 192)
    cropped = crop_poses(poses, (40, -10, 200, 150))
    assert cropped.canvas == (160, 160)
    np.testing.assert_allclose(cropped.keypoints[..., :2] + (40, -10), poses.keypoints[..., :2], atol=1e-4)
    np.testing.assert_array_equal(cropped.depth, poses.depth)

    ramp = np.add.outer(np.arange(48.0), np.arange(64.0)).astype(np.float32)  # (48, 64)
    twice = resize_image(resize_image(ramp, 128, 96, interpolation="linear"), 64, 48, interpolation="area")
    np.testing.assert_allclose(twice[2:-2, 2:-2], ramp[2:-2, 2:-2], atol=1e-3)
    labels = np.repeat(np.arange(4, dtype=np.uint8), 16)[None].repeat(8, 0)  # (8, 64) label stripes
    assert set(np.unique(resize_image(labels, 37, 5, interpolation="nearest"))) <= {0, 1, 2, 3}
    assert resize_image(np.zeros((8, 8, 1), np.uint8), 4, 4).shape == (4, 4, 1)


def test_joints_outside_a_crop_are_kept_or_dropped():
    poses, _ = _dots()
    box = (30, 40, 130, 100)  # holds the first two dots only
    kept = crop_poses(poses, box)
    assert kept.visible[0, : len(DOTS)].all()
    dropped = crop_poses(poses, box, drop_outside=True)
    np.testing.assert_array_equal(dropped.visible[0, : len(DOTS)], [True, True, False, False])
    assert np.isnan(dropped.keypoints[0, 2:4, :2]).all()


def test_person_box_covers_the_joints_with_a_margin():
    poses = make_motion("walk", frames=24, width=256, height=256)
    xy = poses.keypoints[..., :2][poses.visible]
    low, high = xy.min(0), xy.max(0)
    x0, y0, x1, y1 = person_box(poses, margin=0.0)
    assert x0 - 0.5 <= low[0] and high[0] <= x1 - 0.5 and y0 - 0.5 <= low[1] and high[1] <= y1 - 0.5
    assert (x1 - x0, y1 - y0) == pytest.approx(tuple(high - low + 1), abs=1)

    x0, y0, x1, y1 = person_box(poses, margin=0.1)
    pad = 0.1 * (high - low).max()
    assert y1 - y0 == pytest.approx(high[1] - low[1] + 2 * pad + 1, abs=1.5)
    x0, y0, x1, y1 = person_box(poses, square=True)
    assert x1 - x0 == y1 - y0

    shifted = replace(poses, keypoints=poses.keypoints + np.array([-60.0, 40.0, 0.0], np.float32))
    x0, y0, x1, y1 = person_box(shifted, margin=0.2, square=True)
    assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256 and x1 - x0 == y1 - y0
    x0, y0, x1, y1 = person_box(shifted, margin=0.2, square=True, clamp=False)
    assert x0 < 0 and y1 > 256 and x1 - x0 == y1 - y0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p, i: crop_poses(p, (10, 10, 5, 20)), "x1 > x0 and y1 > y0"),
        (lambda p, i: crop_poses(p, (0.5, 0, 10, 10)), "box must be four whole numbers"),
        (lambda p, i: crop_image(i, (0, 0, 10)), "box must be four whole numbers"),
        (lambda p, i: crop_image(np.zeros((4, 4, 3)), (0, 0, 9, 9), fill=(1, 2)), "fill must be one number"),
        (lambda p, i: resize_image(i, 10, 10, interpolation="bogus"), "unknown interpolation 'bogus'"),
        (lambda p, i: resize_image(np.zeros((4, 4), bool), 2, 2), "OpenCV cannot resize a bool image"),
        (lambda p, i: resize_image(np.zeros(5), 2, 2), r"image must be a non-empty \(H, W\)"),
        (lambda p, i: resize_poses(p, 0, 10), "width must be an integer >= 1"),
        (lambda p, i: person_box(p[0:1].flipped(), margin=-1), "margin must be a fraction >= 0"),
    ],
)
def test_bad_input_is_named(call, message):
    poses, image = _dots()
    with pytest.raises(ValueError, match=message):
        call(poses, image)


def test_person_box_needs_a_seen_joint():
    poses, _ = _dots()
    empty = replace(poses, keypoints=np.where(np.zeros((1, 18, 1), bool), poses.keypoints, 0.0))
    with pytest.raises(ValueError, match="no joint is seen"):
        person_box(empty)
