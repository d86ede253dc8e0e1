"""Optical flow, warping and frame interpolation on textured test scenes with known motion."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from toolkit.data.flow import FLOW_METHODS, interpolate_frames, optical_flow, warp_image

SIZE, SQUARE = 192, 64
CORNER = SIZE // 3  # the square's top-left corner in frame a
MOTION = (12, 6)  # the square's motion from frame a to frame b, (x, y) pixels


def _texture(rng: np.random.Generator, height: int, width: int, low: float, high: float) -> np.ndarray:
    """Smooth random RGB texture, float32 in [low, high]."""
    noise = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 3.0)
    return low + (noise - noise.min()) / (noise.max() - noise.min()) * (high - low)


class Scene:
    """A textured square over a still, differently textured background."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.background = _texture(rng, SIZE, SIZE, 40, 160)
        self.square = _texture(rng, SQUARE, SQUARE, 0, 255)

    def frame(self, x: int, y: int) -> np.ndarray:
        """``(SIZE, SIZE, 3)`` uint8 with the square's top-left corner at (x, y)."""
        image = self.background.copy()
        image[y : y + SQUARE, x : x + SQUARE] = self.square
        return np.rint(image).astype(np.uint8)

    def locate(self, image: np.ndarray) -> np.ndarray:
        """(x, y) of the best match of the square's texture in ``image``."""
        cost = cv2.matchTemplate(image.astype(np.float32), self.square, cv2.TM_SQDIFF)
        y, x = np.unravel_index(cost.argmin(), cost.shape)
        return np.array([x, y])


def _mean_error(a: np.ndarray, b: np.ndarray, border: int = 0) -> float:
    inner = (slice(border, a.shape[0] - border), slice(border, a.shape[1] - border))
    return float(np.abs(a[inner].astype(np.float32) - b[inner]).mean())


def test_registry():
    assert set(FLOW_METHODS) == {"dis", "farneback"}


@pytest.mark.parametrize("method", list(FLOW_METHODS))
def test_flow_of_a_shifted_image_warps_it_back(method):
    big = np.rint(_texture(np.random.default_rng(1), SIZE + 20, SIZE + 20, 0, 255)).astype(np.uint8)
    a = big[10 : 10 + SIZE, 10 : 10 + SIZE]
    b = big[7 : 7 + SIZE, 5 : 5 + SIZE]  # the content moved by (+5, +3): a(p) = b(p + (5, 3))
    flow = optical_flow(a, b, method=method)
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(np.median(flow[16:-16, 16:-16].reshape(-1, 2), axis=0), [5, 3], atol=0.25)
    warped = warp_image(b, flow)
    assert warped.shape == a.shape and warped.dtype == np.uint8
    assert _mean_error(warped, a, border=16) < 0.5 < 0.02 * _mean_error(b, a, border=16)


@pytest.mark.parametrize("method", list(FLOW_METHODS))
def test_flow_follows_a_moving_square(method):
    scene = Scene()
    a, b = scene.frame(CORNER, CORNER), scene.frame(CORNER + MOTION[0], CORNER + MOTION[1])
    inside = optical_flow(a, b, method=method)[
        CORNER + 8 : CORNER + SQUARE - 8, CORNER + 8 : CORNER + SQUARE - 8
    ]
    np.testing.assert_allclose(np.median(inside.reshape(-1, 2), axis=0), MOTION, atol=0.25)


def test_warp_image_is_a_bilinear_backward_warp_with_replicated_borders():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    flow = np.zeros((20, 30, 2), np.float32)
    np.testing.assert_array_equal(warp_image(image, flow), image)

    flow[..., 0], flow[..., 1] = 2, -1  # out(y, x) = image(y - 1, x + 2)
    np.testing.assert_array_equal(warp_image(image, flow)[1:, :-2], image[:-1, 2:])
    np.testing.assert_array_equal(warp_image(image, flow)[0, :-2], image[0, 2:])  # row -1 -> row 0
    np.testing.assert_array_equal(warp_image(image, flow)[1:, -1], image[:-1, -1])  # x + 2 -> last column

    mask = rng.random((20, 30)).astype(np.float32)
    half = np.zeros((20, 30, 2), np.float32)
    half[..., 0] = 0.5
    np.testing.assert_allclose(warp_image(mask, half)[:, :-1], (mask[:, :-1] + mask[:, 1:]) / 2, atol=1e-3)


@pytest.mark.parametrize("method", list(FLOW_METHODS))
def test_midpoint_shows_the_square_half_way_where_a_cross_fade_does_not(method):
    scene = Scene()
    start = np.array([CORNER, CORNER])
    a, b = scene.frame(*start), scene.frame(*(start + MOTION))
    halfway = start + np.array(MOTION) // 2
    truth = scene.frame(*halfway)

    (middle,) = interpolate_frames(a, b, 1, method=method)
    assert middle.shape == a.shape and middle.dtype == np.uint8
    assert np.abs(scene.locate(middle) - halfway).max() <= 1

    cross_fade = np.rint((a.astype(np.float32) + b) / 2).astype(np.uint8)
    assert np.abs(scene.locate(cross_fade) - halfway).max() >= 5
    assert _mean_error(middle, truth) < 0.5 * _mean_error(cross_fade, truth)


def test_in_between_frames_move_evenly():
    scene = Scene(seed=3)
    start = np.array([CORNER, CORNER])
    a, b = scene.frame(*start), scene.frame(*(start + MOTION))
    frames = interpolate_frames(a, b, 3)
    assert len(frames) == 3
    for i, frame in enumerate(frames, start=1):
        expected = start + np.array(MOTION) * i / 4
        assert np.abs(scene.locate(frame) - expected).max() <= 1
    assert interpolate_frames(a, b, 0) == []


_IMAGE = np.zeros((32, 32, 3), np.uint8)
_BAD_CALLS = {
    "different sizes": (
        lambda: optical_flow(_IMAGE, np.zeros((32, 40, 3), np.uint8)),
        "images differ in size: (32, 32) vs (32, 40); resize one to the other",
    ),
    "float image": (
        lambda: optical_flow(_IMAGE, _IMAGE.astype(np.float32)),
        "image b must be uint8, got float32",
    ),
    "grey image": (
        lambda: optical_flow(_IMAGE[..., 0], _IMAGE),
        "image a must be an (H, W, 3) RGB array, got (32, 32)",
    ),
    "unknown method": (
        lambda: optical_flow(_IMAGE, _IMAGE, method="raft"),
        "unknown flow method 'raft'; choose one of 'dis', 'farneback'",
    ),
    "flow size": (
        lambda: warp_image(_IMAGE, np.zeros((32, 31, 2), np.float32)),
        "flow must be a float (H, W, 2) array matching the image's (32, 32), got float32 (32, 31, 2)",
    ),
    "image dtype": (
        lambda: warp_image(_IMAGE.astype(np.int64), np.zeros((32, 32, 2))),
        "image must be uint8 or float32, got int64",
    ),
    "channels": (
        lambda: warp_image(np.zeros((4, 4, 5), np.uint8), np.zeros((4, 4, 2))),
        "image must be (H, W) or (H, W, C) with C <= 4, got shape (4, 4, 5)",
    ),
    "count": (lambda: interpolate_frames(_IMAGE, _IMAGE, -1), "count must be an integer >= 0, got -1"),
}


@pytest.mark.parametrize("case", list(_BAD_CALLS))
def test_bad_inputs_raise_one_line_errors(case):
    call, message = _BAD_CALLS[case]
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)
