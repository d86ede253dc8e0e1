"""Pose encoders: heatmaps against PATN's formula, limb maps and masks, the OpenPose render against
controlnet-aux's draw_bodypose pixel for pixel."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from _controlnet_aux_ref import controlnet_keypoints, load_draw_bodypose, reference_render

from toolkit.errors import PoseFormatError
from toolkit.pose.encode import (
    LIMB_MAP_MODES,
    gaussian_heatmaps,
    limb_maps,
    limb_masks,
    patn_body_mask,
    posewarp_limb_masks,
    render_openpose,
)
from toolkit.pose.skeleton import BODY_18, MPII_14, OPENPOSE_COLORS, convert_keypoints

H, W = 64, 48


def random_poses(rng: np.random.Generator, shape: tuple[int, ...], height: int, width: int) -> np.ndarray:
    """``(*shape, 18, 3)`` float32 poses: a tenth of the joints missing, some off the canvas."""
    poses = np.empty((*shape, 18, 3), dtype=np.float32)
    poses[..., 0] = rng.uniform(-0.1, 1.1, (*shape, 18)) * width
    poses[..., 1] = rng.uniform(-0.1, 1.1, (*shape, 18)) * height
    poses[..., 2] = rng.uniform(0.1, 1.0, (*shape, 18))
    poses[rng.random((*shape, 18)) < 0.1] = (np.nan, np.nan, 0.0)
    return poses


def pose_with(joints: dict[int, tuple[float, float]], num_joints: int = 18) -> np.ndarray:
    """``(J, 3)`` pose with only ``joints`` present."""
    pose = np.full((num_joints, 3), np.nan, dtype=np.float32)
    pose[:, 2] = 0.0
    for j, (x, y) in joints.items():
        pose[j] = (x, y, 1.0)
    return pose


# ---- gaussian heatmaps --------------------------------------------------------------------------------


def patn_heatmaps_loop(pose: np.ndarray, height: int, width: int, sigma: float) -> np.ndarray:
    """``(J, H, W)`` one joint at a time with PATN's formula, in float64."""
    maps = np.zeros((len(pose), height, width), dtype=np.float32)
    yy, xx = np.mgrid[:height, :width]
    for j, (x, y, confidence) in enumerate(pose):
        if confidence > 0:
            maps[j] = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))
    return maps


def test_heatmap_peaks_at_exactly_one_on_an_on_grid_joint() -> None:
    maps = gaussian_heatmaps(pose_with({0: (30, 50), 5: (0, 0)}), W, H)
    assert maps.shape == (18, H, W) and maps.dtype == np.float32
    assert maps[0, 50, 30] == 1.0 and maps[5, 0, 0] == 1.0
    assert np.unravel_index(maps[0].argmax(), (H, W)) == (50, 30)
    assert maps.max() == 1.0 and maps.min() >= 0.0


@pytest.mark.parametrize("sigma", [2.0, 6.0, 7.5])
def test_heatmap_value_at_distance_sigma_is_exp_minus_half(sigma: float) -> None:
    # Joints sigma to the left of, and sigma above, pixel (x, y) = (20, 30).
    maps = gaussian_heatmaps(pose_with({3: (20 - sigma, 30), 4: (20, 30 - sigma)}), W, H, sigma=sigma)
    assert maps[3, 30, 20] == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert maps[4, 30, 20] == pytest.approx(math.exp(-0.5), rel=1e-6)


def test_missing_joint_gives_an_all_zero_channel() -> None:
    pose = pose_with({1: (10, 10), 2: (20, 20)})
    pose[2, 2] = 0.0  # confidence 0 with finite coordinates is missing too
    maps = gaussian_heatmaps(pose, W, H)
    assert maps[1].max() == 1.0
    assert not maps[0].any() and not maps[2].any()
    assert np.isfinite(maps).all()


@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_heatmaps_keep_leading_batch_dimensions(batch: tuple[int, ...]) -> None:
    poses = random_poses(np.random.default_rng(0), batch, H, W)
    maps = gaussian_heatmaps(poses, W, H)
    assert maps.shape == (*batch, 18, H, W)
    for index in np.ndindex(*batch):
        np.testing.assert_array_equal(maps[index], gaussian_heatmaps(poses[index], W, H))


def test_heatmaps_equal_patn_per_joint_loop() -> None:
    poses = random_poses(np.random.default_rng(1), (6,), H, W)
    maps = gaussian_heatmaps(poses, W, H, sigma=6.0)
    reference = np.stack([patn_heatmaps_loop(pose, H, W, 6.0) for pose in poses])
    np.testing.assert_allclose(maps, reference, rtol=1e-5, atol=1e-7)


def test_heatmaps_numpy_and_torch_agree_and_keep_device_and_dtype() -> None:
    poses = random_poses(np.random.default_rng(2), (3,), H, W)
    for dtype, tolerance in ((torch.float32, 1e-6), (torch.float64, 1e-6), (torch.bfloat16, 4e-3)):
        points = torch.tensor(poses, dtype=dtype)
        maps = gaussian_heatmaps(points, W, H)
        assert isinstance(maps, torch.Tensor) and maps.dtype == dtype and maps.device.type == "cpu"
        # Compare with the same (possibly rounded) coordinates encoded from NumPy.
        expected = gaussian_heatmaps(points.float().numpy(), W, H)
        np.testing.assert_allclose(maps.float().numpy(), expected, atol=tolerance)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_heatmaps_encode_on_the_gpu() -> None:
    poses = random_poses(np.random.default_rng(3), (2,), H, W)
    maps = gaussian_heatmaps(torch.tensor(poses, device="cuda"), W, H)
    assert maps.device.type == "cuda"
    np.testing.assert_allclose(maps.cpu().numpy(), gaussian_heatmaps(poses, W, H), atol=1e-6)


def test_encoders_reject_bad_input_with_one_line_errors() -> None:
    with pytest.raises(PoseFormatError, match=r"\(\.\.\., J, 3\)"):
        gaussian_heatmaps(np.zeros((18, 2)), W, H)
    with pytest.raises(PoseFormatError, match="numeric"):
        gaussian_heatmaps([[1, 2, 3], [4, 5]], W, H)
    with pytest.raises(ValueError, match="height"):
        gaussian_heatmaps(np.zeros((18, 3)), W, 0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_heatmaps(np.zeros((18, 3)), W, H, sigma=-1.0)


# ---- limb maps ----------------------------------------------------------------------------------------


def test_limb_maps_shapes_for_default_and_custom_limbs() -> None:
    poses = random_poses(np.random.default_rng(4), (2, 3), H, W)
    for mode in LIMB_MAP_MODES:
        maps = limb_maps(poses, W, H, mode=mode)
        assert maps.shape == (2, 3, len(BODY_18.limbs), H, W) and maps.dtype == np.float32
        assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert limb_maps(poses[0, 0], W, H, limbs=[(0, 1), (2, 3)]).shape == (2, H, W)


def test_line_limb_is_on_along_the_bone_and_off_far_away() -> None:
    pose = pose_with({2: (10, 20), 3: (30, 40)})  # right upper arm: limb 2
    maps = limb_maps(pose, W, H, mode="line", thickness=3.0)
    arm = maps[BODY_18.limbs.index((2, 3))]
    assert set(np.unique(arm)) == {0.0, 1.0}
    assert arm[20, 10] == arm[30, 20] == arm[40, 30] == 1.0
    assert arm[22, 10] == 1.0  # sqrt(2) px from the bone
    assert arm[23, 10] == 0.0  # 2.1 px from the bone
    assert arm[5, 40] == 0.0 and arm[50, 30] == 0.0
    assert not np.delete(maps, BODY_18.limbs.index((2, 3)), axis=0).any()


def test_line_covers_pixel_centres_within_half_the_thickness_inclusive() -> None:
    pose = pose_with({8: (10, 30), 9: (40, 30)})  # horizontal right thigh
    for thickness, rows in ((1.0, [30]), (2.0, [29, 30, 31]), (5.0, [28, 29, 30, 31, 32])):
        thigh = limb_maps(pose, W, H, limbs=[(8, 9)], thickness=thickness)[0]
        np.testing.assert_array_equal(np.flatnonzero(thigh[:, 25]), rows)


def test_one_pixel_line_is_connected() -> None:
    pose = pose_with({2: (3, 5), 3: (44, 17)})
    arm = limb_maps(pose, W, H, limbs=[(2, 3)], thickness=1.0)[0]
    columns = np.flatnonzero(arm.any(axis=0))
    np.testing.assert_array_equal(columns, np.arange(3, 45))


def test_gaussian_limb_is_one_on_the_bone_and_exp_minus_half_at_sigma() -> None:
    pose = pose_with({8: (10, 30), 9: (40, 30)})  # horizontal right thigh
    thigh = limb_maps(pose, W, H, limbs=[(8, 9)], mode="gaussian", sigma=4.0)[0]
    assert thigh[30, 10] == thigh[30, 25] == thigh[30, 40] == 1.0
    assert thigh[34, 25] == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert thigh[30, 44] == pytest.approx(math.exp(-0.5), rel=1e-6)  # beyond the end: distance to it
    assert thigh[5, 25] < 1e-8


def test_limb_with_a_missing_end_is_all_zero() -> None:
    rng = np.random.default_rng(5)
    pose = np.concatenate([rng.uniform(0, 1, (18, 2)) * (W, H), np.ones((18, 1))], -1).astype(np.float32)
    pose[3] = (20.0, 20.0, 0.0)  # right elbow missing: limbs (2, 3) and (3, 4)
    for mode in LIMB_MAP_MODES:
        maps = limb_maps(pose, W, H, mode=mode)
        for index, limb in enumerate(BODY_18.limbs):
            assert maps[index].any() != (3 in limb), (mode, limb)


def test_limb_maps_reject_unknown_modes_and_limbs() -> None:
    with pytest.raises(ValueError, match="'line', 'gaussian'"):
        limb_maps(np.zeros((18, 3)), W, H, mode="spline")
    with pytest.raises(PoseFormatError, match="18 joints"):
        limb_maps(np.zeros((18, 3)), W, H, limbs=[(0, 18)])


def test_limb_maps_torch_matches_numpy() -> None:
    poses = random_poses(np.random.default_rng(6), (2,), H, W)
    maps = limb_maps(torch.tensor(poses, dtype=torch.float64), W, H, mode="gaussian")
    assert maps.dtype == torch.float64
    np.testing.assert_allclose(maps.numpy(), limb_maps(poses, W, H, mode="gaussian"), atol=1e-5)


# ---- posewarp limb masks ------------------------------------------------------------------------------


def posewarp_formula_masks(joints: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(10, H, W)`` from the rotated-Gaussian formula of posewarp's make_gaussian_map, one limb at a
    time, in float64, for mpii_14 joints that are all present."""
    limbs = [*(([a], [b]) for a, b in MPII_14.limbs), ([2, 5], [8, 11])]
    sigma_across = [11.0] * 9 + [13.0]
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    masks = []
    for (start, end), sigma in zip(limbs, sigma_across, strict=True):
        p0, p1 = joints[start, :2].mean(0), joints[end, :2].mean(0)
        cx, cy = (p0 + p1) / 2
        var_x, var_y = max(5.0, ((p1 - p0) ** 2).sum() / 1.5), sigma**2
        theta = np.arctan2(p1[1] - p0[1], p0[0] - p1[0])
        a = np.cos(theta) ** 2 / (2 * var_x) + np.sin(theta) ** 2 / (2 * var_y)
        b = -np.sin(2 * theta) / (4 * var_x) + np.sin(2 * theta) / (4 * var_y)
        c = np.sin(theta) ** 2 / (2 * var_x) + np.cos(theta) ** 2 / (2 * var_y)
        mask = np.exp(-(a * (xx - cx) ** 2 + 2 * b * (xx - cx) * (yy - cy) + c * (yy - cy) ** 2))
        masks.append(mask / (mask.max() + 1e-6))
    return np.stack(masks)


def test_posewarp_masks_match_posewarps_rotated_gaussians() -> None:
    rng = np.random.default_rng(7)
    joints = np.concatenate([rng.uniform(0, 1, (3, 14, 2)) * (W, H), np.ones((3, 14, 1))], -1)
    joints[0, 4, :2] = joints[0, 3, :2]  # a zero-length forearm
    masks = posewarp_limb_masks(joints.astype(np.float32), W, H)
    assert masks.shape == (3, 10, H, W) and masks.dtype == np.float32
    assert masks.min() >= 0.0 and masks.max() < 1.0
    for pose, got in zip(joints, masks, strict=True):
        np.testing.assert_allclose(got, posewarp_formula_masks(pose, H, W), atol=2e-6)


def test_posewarp_mask_is_on_at_the_bone_and_off_far_away_and_zero_when_missing() -> None:
    pose = pose_with({0: (20, 5), 1: (20, 15), 2: (10, 16), 5: (30, 16), 8: (12, 40), 11: (28, 40)}, 14)
    masks = posewarp_limb_masks(pose, 200, 200)
    head, torso = masks[0], masks[9]
    assert head[10, 20] > 0.99 and torso[28, 20] > 0.99
    assert head[150, 150] < 1e-6 and torso[190, 190] < 1e-6
    assert not masks[1:9].any()  # arms and legs have missing joints
    pose[11, 2] = 0.0
    assert not posewarp_limb_masks(pose, 200, 200)[9].any()  # torso needs both hips


def test_posewarp_masks_from_upper_body_and_body_18_conversions() -> None:
    body = random_poses(np.random.default_rng(8), (4,), H, W)
    upper = posewarp_limb_masks(convert_keypoints(body, "body_18", "upper_body_7"), W, H)
    assert upper.shape == (4, 5, H, W)
    via_limb_masks = limb_masks(torch.tensor(convert_keypoints(body, "body_18", "mpii_14")), W, H)
    assert isinstance(via_limb_masks, torch.Tensor) and via_limb_masks.shape == (4, 10, H, W)
    with pytest.raises(PoseFormatError, match="convert_keypoints"):
        posewarp_limb_masks(body, W, H)


# ---- PATN body mask -----------------------------------------------------------------------------------


def test_patn_mask_covers_limbs_and_joints_and_nothing_far() -> None:
    pose = pose_with({2: (10, 20), 3: (10, 50), 16: (40, 10)})
    mask = patn_body_mask(pose, W, H)
    assert mask.shape == (H, W) and mask.dtype == bool
    # 3 px from the bone is on; 4 px is not closer than the radius, and the closing does not grow a limb.
    assert mask[35, 10] and mask[35, 13] and not mask[35, 14]
    assert mask[10, 43] and not mask[10, 47] and not mask[60, 40]  # the lone ear's disc
    assert not patn_body_mask(pose_with({}), W, H).any()


def test_patn_mask_closing_fills_narrow_gaps() -> None:
    pose = pose_with({2: (10, 10), 3: (10, 50), 5: (20, 10), 6: (20, 50)})  # arms 10 px apart
    gap = (30, 15)  # 5 px from both, outside both radius-4 limbs
    assert patn_body_mask(pose, W, H)[gap]
    assert not patn_body_mask(pose, W, H, closing=1)[gap]
    with pytest.raises(ValueError, match="odd"):
        patn_body_mask(pose, W, H, closing=4)


def test_patn_mask_batches_and_matches_between_numpy_and_torch() -> None:
    poses = random_poses(np.random.default_rng(9), (2, 3), H, W)
    masks = limb_masks(poses, W, H, style="patn", radius=5.0)
    assert masks.shape == (2, 3, H, W)
    np.testing.assert_array_equal(masks[1, 2], patn_body_mask(poses[1, 2], W, H, radius=5.0))
    from_torch = patn_body_mask(torch.tensor(poses), W, H, radius=5.0)
    assert from_torch.dtype == torch.bool
    np.testing.assert_array_equal(from_torch.numpy(), masks)
    with pytest.raises(PoseFormatError, match="body_18"):
        patn_body_mask(np.zeros((14, 3)), W, H)
    with pytest.raises(ValueError, match="'posewarp', 'patn'"):
        limb_masks(poses, W, H, style="pg2")


# ---- OpenPose render ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def draw_bodypose():
    draw = load_draw_bodypose()
    if draw is None:
        pytest.skip("controlnet-aux is not installed: no draw_bodypose to compare with")
    return draw


def render_cases(count: int) -> list[tuple[np.ndarray, int, int]]:
    """Random poses on square and non-square canvases: some joints missing, some off the canvas, a third
    on integer pixels and a third on half pixels, where truncation is most fragile."""
    rng = np.random.default_rng(10)
    canvases = [(512, 512), (176, 256), (768, 512), (100, 37), (640, 360)]
    cases = []
    for index in range(count):
        width, height = canvases[index % len(canvases)]
        pose = random_poses(rng, (), height, width)
        grid = (1.0, 0.5, None)[index % 3]
        if grid is not None:
            pose[:, :2] = np.round(pose[:, :2] / grid) * grid
        cases.append((pose, width, height))
    return cases


def test_render_openpose_equals_draw_bodypose_pixel_for_pixel(draw_bodypose) -> None:
    cases = render_cases(150)
    assert sum(np.isnan(pose[:, 0]).any() for pose, _, _ in cases) > 50
    assert sum(((pose[:, 0] < 0) | (pose[:, 0] >= w)).any() for pose, w, _ in cases) > 50
    for pose, width, height in cases:
        expected = reference_render(draw_bodypose, pose, width, height)
        got = render_openpose(pose, width, height)
        assert got.shape == (height, width, 3) and got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected, err_msg=f"{width}x{height} pose {pose.tolist()}")


def test_render_openpose_matches_draw_bodypose_on_float64_and_torch_input(draw_bodypose) -> None:
    for pose, width, height in render_cases(10):
        pose64 = pose.astype(np.float64)
        expected = reference_render(draw_bodypose, pose64, width, height)
        np.testing.assert_array_equal(render_openpose(pose64, width, height), expected)
        expected = reference_render(draw_bodypose, pose, width, height)
        np.testing.assert_array_equal(render_openpose(torch.tensor(pose), width, height), expected)


def test_reference_loader_leaves_sys_modules_as_it_found_them(draw_bodypose) -> None:
    before = set(sys.modules)
    assert load_draw_bodypose() is not None
    assert set(sys.modules) == before
    assert not any(name.startswith("controlnet_aux") for name in sys.modules)
    assert controlnet_keypoints(pose_with({}), 10, 10) == [None] * 18


def test_render_openpose_batches_frames() -> None:
    poses = random_poses(np.random.default_rng(11), (4,), 96, 80)
    frames = render_openpose(poses, 80, 96)
    assert frames.shape == (4, 96, 80, 3) and frames.dtype == np.uint8
    for frame, pose in zip(frames, poses, strict=True):
        np.testing.assert_array_equal(frame, render_openpose(pose, 80, 96))


def test_render_openpose_colours_joints_and_draws_on_a_background_copy() -> None:
    pose = pose_with({4: (20, 30)})
    background = np.full((64, 48, 3), 7, dtype=np.uint8)
    image = render_openpose(pose, 48, 64, background=background)
    assert tuple(image[30, 20]) == OPENPOSE_COLORS[4]
    assert tuple(image[30, 25]) == (7, 7, 7) and tuple(image[0, 0]) == (7, 7, 7)
    assert (background == 7).all()
    assert not render_openpose(pose_with({}), 48, 64).any()
    with pytest.raises(ValueError, match="background"):
        render_openpose(pose, 48, 64, background=np.zeros((64, 48), np.uint8))


def test_scale_to_canvas_grows_sticks_and_joints_on_large_canvases_only() -> None:
    pose = pose_with({4: (500, 500)})
    large = render_openpose(pose, 1024, 1024, scale_to_canvas=True)  # radius 4 * 1024 / 512 = 8
    assert large[500, 507].any() and not large[500, 509].any()
    assert not render_openpose(pose, 1024, 1024)[500, 507].any()
    small = pose_with({4: (100, 100)})
    np.testing.assert_array_equal(
        render_openpose(small, 256, 256, scale_to_canvas=True), render_openpose(small, 256, 256)
    )


def test_render_openpose_accepts_only_body_18() -> None:
    with pytest.raises(ValueError, match="BODY_18"):
        render_openpose(np.zeros((25, 3)), 64, 64)
    with pytest.raises(ValueError, match="BODY_18"):
        render_openpose(np.zeros((2, 3, 18, 3)), 64, 64)
