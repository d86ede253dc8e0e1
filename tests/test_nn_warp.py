"""Per-limb similarity warps: exact fits for bones, least squares for the torso, inverses, and warped
layers that land on the target limb."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from toolkit.nn.warp import (
    apply_transform,
    fit_similarity,
    invert_similarity,
    limb_points,
    limb_transforms,
    warp_layers,
)
from toolkit.pose.skeleton import MPII_14

# posewarp's full-body limbs: the nine MPII bones, then the torso quad.
MPII_LIMBS = (*(((a,), (b,)) for a, b in MPII_14.limbs), ((2,), (5,), (8,), (11,)))


def similarity(scale: float, angle: float, tx: float, ty: float) -> torch.Tensor:
    a, b = scale * math.cos(angle), scale * math.sin(angle)
    return torch.tensor([[a, -b, tx], [b, a, ty]], dtype=torch.float64)


def keypoints(points: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.concatenate([points, np.ones((len(points), 1))], 1))


def test_two_point_limbs_are_matched_exactly() -> None:
    rng = np.random.default_rng(0)
    source = keypoints(rng.uniform(10, 50, (14, 2)))
    target = keypoints(rng.uniform(10, 50, (14, 2)))
    transforms = limb_transforms(source, target, MPII_LIMBS)  # (10, 2, 3)
    assert transforms.shape == (10, 2, 3)
    for i, (a, b) in enumerate(MPII_14.limbs):
        moved = apply_transform(transforms[i], source[[a, b], :2])
        torch.testing.assert_close(moved, target[[a, b], :2], atol=1e-9, rtol=0)
    # The matrices are similarities: [[a, -b], [b, a]].
    torch.testing.assert_close(transforms[:, 0, 0], transforms[:, 1, 1])
    torch.testing.assert_close(transforms[:, 0, 1], -transforms[:, 1, 0])


def test_torso_quad_is_a_least_squares_fit() -> None:
    rng = np.random.default_rng(1)
    quad = torch.from_numpy(rng.uniform(10, 50, (4, 2)))
    truth = similarity(1.3, 0.4, 5.0, -3.0)
    # An exact similarity is recovered exactly.
    torch.testing.assert_close(fit_similarity(quad, apply_transform(truth, quad)), truth)
    # With noise, the fit is the least-squares optimum: no nearby similarity does better.
    noisy = apply_transform(truth, quad) + torch.from_numpy(rng.normal(0, 1.0, (4, 2)))
    fitted = fit_similarity(quad, noisy)

    def cost(t: torch.Tensor) -> float:
        return float(((apply_transform(t, quad) - noisy) ** 2).sum())

    best = cost(fitted)
    for k in range(4):
        a, b, tx, ty = (fitted[0, 0].item(), fitted[1, 0].item(), fitted[0, 2].item(), fitted[1, 2].item())
        for step in (1e-3, -1e-3):
            values = [a, b, tx, ty]
            values[k] += step
            moved = torch.tensor([[values[0], -values[1], values[2]], [values[1], values[0], values[3]]])
            assert cost(moved.double()) > best


def test_weights_drop_missing_points_and_degenerate_sets_fall_back() -> None:
    source = torch.tensor([[0.0, 0.0], [10.0, 0.0], [99.0, 99.0]])
    target = torch.tensor([[5.0, 5.0], [5.0, 15.0], [-50.0, 7.0]])
    fitted = fit_similarity(source, target, torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(apply_transform(fitted, source[:2]), target[:2], atol=1e-5, rtol=0)
    # One point: a translation; none: the identity.
    one = fit_similarity(source, target, torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(one, torch.tensor([[1.0, 0.0, -149.0], [0.0, 1.0, -92.0]]))
    none = fit_similarity(source, target, torch.zeros(3))
    torch.testing.assert_close(none, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def test_limb_points_average_joints_and_flag_missing_ones() -> None:
    kp = torch.tensor([[0.0, 0.0, 1.0], [4.0, 2.0, 1.0], [8.0, 6.0, 1.0], [math.nan, math.nan, 0.0]])
    points, weights = limb_points(kp, [((0,), (1, 2)), ((2,), (3,), (0,))])
    assert points.shape == (2, 3, 2) and weights.shape == (2, 3)
    torch.testing.assert_close(points[0, 1], torch.tensor([6.0, 4.0]))
    torch.testing.assert_close(weights, torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    assert torch.isfinite(points).all()
    with pytest.raises(ValueError, match="refer to joints"):
        limb_points(kp, [((0,), (7,))])


def test_inverse_undoes_the_transform() -> None:
    transforms = torch.stack([similarity(0.7, -1.1, 3.0, 9.0), similarity(2.0, 2.5, -4.0, 1.0)])
    points = torch.rand(2, 5, 2, dtype=torch.float64) * 30
    back = apply_transform(invert_similarity(transforms), apply_transform(transforms, points))
    torch.testing.assert_close(back, points)
    with pytest.raises(ValueError, match="zero scale"):
        invert_similarity(torch.zeros(2, 3))


def test_identity_warp_keeps_the_layers() -> None:
    layers = torch.rand(2, 3, 4, 16, 24)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 3, 2, 3)
    torch.testing.assert_close(warp_layers(layers, identity), layers, atol=1e-5, rtol=0)


def test_integer_shift_moves_pixels_exactly() -> None:
    layers = torch.rand(1, 1, 2, 12, 12)
    shift = torch.tensor([[[[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]]]])
    warped = warp_layers(layers, shift)
    # Output (y, x) takes input (y + 2, x - 3); what comes from outside is 0.
    torch.testing.assert_close(warped[..., :10, 3:], layers[..., 2:, :9], atol=1e-5, rtol=0)
    assert (warped[..., :3] == 0).all() and (warped[..., 10:, :] == 0).all()


def centroid(image: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(image.shape[0]), torch.arange(image.shape[1]), indexing="ij")
    total = image.sum()
    return torch.stack([(xs * image).sum() / total, (ys * image).sum() / total])


def test_a_blob_on_a_source_limb_lands_on_the_target_limb() -> None:
    size = 48
    source = torch.tensor([[10.0, 12.0, 1.0], [22.0, 12.0, 1.0]])  # a horizontal forearm
    target = torch.tensor([[30.0, 20.0, 1.0], [30.0, 40.0, 1.0]])  # rotated, longer, elsewhere
    transforms = limb_transforms(source, target, [((0,), (1,))])  # (1, 2, 3)
    # A blob a quarter of the way along the source bone should end a quarter along the target bone.
    where = 0.75 * source[0, :2] + 0.25 * source[1, :2]
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    blob = torch.exp(-((xs - where[0]) ** 2 + (ys - where[1]) ** 2) / (2 * 2.0**2))
    warped = warp_layers(blob[None, None, None], transforms[None])[0, 0, 0]
    expected = 0.75 * target[0, :2] + 0.25 * target[1, :2]
    assert torch.linalg.norm(centroid(warped) - expected) < 0.25
    # The rest of the layer stays empty: nothing near the source position survives.
    assert warped[int(where[1]), int(where[0])] < 1e-3


def test_a_limb_collapsed_to_a_point_gives_an_empty_layer() -> None:
    source = torch.tensor([[[10.0, 10.0, 1.0], [20.0, 10.0, 1.0]]]).expand(2, 2, 3)
    target = torch.tensor([[[15.0, 15.0, 1.0], [15.0, 15.0, 1.0]], [[15.0, 15.0, 1.0], [25.0, 15.0, 1.0]]])
    transforms = limb_transforms(source, target, [((0,), (1,))])  # (2, 1, 2, 3)
    warped = warp_layers(torch.ones(2, 1, 1, 32, 32), transforms)
    assert (warped[0] == 0).all() and warped[1].sum() > 0


def test_warp_is_differentiable_and_checks_shapes() -> None:
    layers = torch.rand(1, 2, 3, 8, 8, requires_grad=True)
    transforms = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]).expand(1, 2, 2, 3).clone()
    transforms.requires_grad_(True)
    warp_layers(layers, transforms).sum().backward()
    assert layers.grad is not None and transforms.grad is not None and transforms.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="expected layers"):
        warp_layers(layers[0], transforms)
