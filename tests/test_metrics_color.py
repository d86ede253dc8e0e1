"""sRGB to CIELAB and CIEDE2000 against the standard's published pairs and scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from toolkit.eval.metrics.color import ciede2000, srgb_to_lab

# Test pairs of Sharma, Wu and Dalal (2005), Table 1: Lab 1, Lab 2, CIEDE2000. They cover the blue
# rotation term, achromatic colours, hues either side of the 0/360 seam and near-black colours.
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_ciede2000_matches_the_published_pairs_both_ways(lab1, lab2, expected) -> None:
    assert ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=5e-5)
    assert ciede2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=5e-5)


def test_ciede2000_matches_scikit_image_on_random_colours_and_is_zero_on_equal_ones() -> None:
    rng = np.random.default_rng(0)
    a, b = srgb_to_lab(rng.integers(0, 256, (500, 3))), srgb_to_lab(rng.integers(0, 256, (500, 3)))
    np.testing.assert_allclose(ciede2000(a, b), deltaE_ciede2000(a, b), atol=1e-9)
    assert (ciede2000(a, a) == 0).all()
    assert ciede2000(a[:, None], b[None, :5]).shape == (500, 5)  # broadcasts


def test_srgb_to_lab_matches_scikit_image_and_the_white_point() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (1000, 3)).astype(np.uint8)
    # scikit-image rounds the D65 white point differently in the fourth decimal.
    np.testing.assert_allclose(srgb_to_lab(rgb), rgb2lab(rgb[None])[0], atol=0.01)
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 255, 255])), [100.0, 0.0, 0.0], atol=1e-3)
    np.testing.assert_allclose(srgb_to_lab(np.array([0, 0, 0])), [0.0, 0.0, 0.0], atol=1e-9)
