"""Procedural mannequins: specs, rendering, ground truth, backgrounds and errors."""

from __future__ import annotations

import itertools
import json

import cv2
import numpy as np
import pytest

from toolkit.data.synthetic import (
    BACKGROUNDS,
    DEFAULT_BACKGROUND,
    HAIR_STYLES,
    MATERIAL,
    MATERIAL_NAMES,
    PART,
    PART_NAMES,
    BackgroundError,
    Garment,
    MannequinFrame,
    MannequinSpec,
    MannequinSpecError,
    background_image,
    render_mannequin,
    render_sequence,
)
from toolkit.errors import PoseFormatError
from toolkit.pose import BODY_18, BodyProportions, PoseSequence

J = BODY_18.index


def standing_pose(proportions: BodyProportions, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A front-facing standing pose, arms slightly spread: ``(18, 3)`` keypoints in pixels filling 80% of
    the canvas height and ``(18,)`` depth in body heights (face joints nearer the camera, as on a head)."""
    p = proportions
    ankle = p.ankle_height
    knee = ankle + p.shin
    hip = knee + p.thigh
    neck = hip + p.torso
    eyes = neck + p.neck + 0.5 * p.head
    spread = np.radians(12.0)
    points: dict[str, tuple[float, float, float]] = {"neck": (0.0, neck, 0.0)}  # x right, y up, depth
    for side, sign in (("right", -1.0), ("left", 1.0)):
        shoulder_x = sign * p.shoulder_width / 2
        elbow = (shoulder_x + sign * p.upper_arm * np.sin(spread), neck - p.upper_arm * np.cos(spread))
        wrist = (elbow[0] + sign * p.forearm * np.sin(spread), elbow[1] - p.forearm * np.cos(spread))
        points[f"{side}_shoulder"] = (shoulder_x, neck, 0.0)
        points[f"{side}_elbow"] = (*elbow, 0.0)
        points[f"{side}_wrist"] = (*wrist, 0.0)
        points[f"{side}_hip"] = (sign * p.hip_width / 2, hip, 0.0)
        points[f"{side}_knee"] = (sign * p.hip_width / 2, knee, 0.0)
        points[f"{side}_ankle"] = (sign * p.hip_width / 2, ankle, 0.0)
        points[f"{side}_eye"] = (sign * 0.02, eyes, -0.055)
        points[f"{side}_ear"] = (sign * 0.047, eyes - 0.01, 0.0)
    points["nose"] = (0.0, eyes - 0.02, -0.07)
    xyz = np.array([points[name] for name in BODY_18.joints])
    scale = 0.8 * height
    keypoints = np.ones((18, 3), np.float32)
    keypoints[:, 0] = (width - 1) / 2 + xyz[:, 0] * scale
    keypoints[:, 1] = 0.9 * height - xyz[:, 1] * scale
    return keypoints, (4.0 + xyz[:, 2]).astype(np.float32)


def without(keypoints: np.ndarray, *joints: str) -> np.ndarray:
    out = keypoints.copy()
    out[[J(name) for name in joints]] = (np.nan, np.nan, 0.0)
    return out


def render(spec: MannequinSpec, size: tuple[int, int] = (128, 128), **kwargs: object) -> MannequinFrame:
    keypoints, depth = standing_pose(spec.proportions, *size)
    return render_mannequin(spec, keypoints, depth, *size, **kwargs)


# ---- specs -------------------------------------------------------------------------------------------------


def test_sample_is_deterministic_and_seeds_give_different_specs():
    assert MannequinSpec.sample(3) == MannequinSpec.sample(3)
    specs = [MannequinSpec.sample(seed) for seed in range(20)]
    assert len({json.dumps(spec.to_dict(), sort_keys=True) for spec in specs}) == 20
    assert {spec.hair_style for spec in specs} == set(HAIR_STYLES)
    assert len({spec.shirt.pattern for spec in specs}) == 4


def test_sampled_clothes_keep_away_from_skin_and_background():
    for seed in range(50):
        spec = MannequinSpec.sample(seed)
        for color in (spec.shirt.color, spec.trousers.color):
            assert np.linalg.norm(np.subtract(color, DEFAULT_BACKGROUND)) >= 90
            assert np.linalg.norm(np.subtract(color, spec.skin)) >= 90
        assert np.linalg.norm(np.subtract(spec.shirt.color, spec.trousers.color)) >= 90


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_spec_round_trips_through_json(seed):
    spec = MannequinSpec.sample(seed)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["version"] == MannequinSpec.VERSION
    assert MannequinSpec.from_dict(data) == spec


def test_default_spec_round_trips():
    assert MannequinSpec.from_dict(MannequinSpec().to_dict()) == MannequinSpec()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=99), "version"),
        (lambda d: d.pop("skin"), "missing key(s) skin"),
        (lambda d: d.update(wings=True), "unknown key(s) wings"),
        (lambda d: d.update(skin=[300, 0, 0]), "skin must be three ints"),
        (lambda d: d.update(hair_style="mohawk"), "hair_style must be one of"),
        (lambda d: d["shirt"].update(pattern="paisley"), "shirt.pattern must be one of"),
        (lambda d: d["trousers"].pop("length"), "trousers is missing key(s) length"),
        (lambda d: d["proportions"].update(tail=0.1), "proportions: unknown body proportion"),
        (lambda d: d.update(limb_thickness=5.0), "limb_thickness"),
        (lambda d: d.update(shirt="red"), "shirt must be a dict"),
    ],
)
def test_from_dict_names_the_bad_field(change, message):
    data = MannequinSpec.sample(0).to_dict()
    change(data)
    with pytest.raises(MannequinSpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MannequinSpec.from_dict(data)


def test_from_dict_rejects_a_non_dict_and_sample_a_bad_seed():
    with pytest.raises(MannequinSpecError, match="must be a dict"):
        MannequinSpec.from_dict([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(MannequinSpecError, match="non-negative int"):
        MannequinSpec.sample(-1)
    with pytest.raises(MannequinSpecError, match="pattern_scale"):
        Garment(pattern_scale=0.0)


# ---- rendering ---------------------------------------------------------------------------------------------


def test_same_spec_and_pose_render_bit_identically():
    spec = MannequinSpec.sample(5)
    first, second = render(spec), render(MannequinSpec.sample(5))
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.parts, second.parts)


def test_different_seeds_look_clearly_different():
    shirts = []
    for seed in range(10):
        frame = render(MannequinSpec.sample(seed))
        shirts.append(frame.image[frame.parts == PART["torso"]].mean(axis=0))
    distances = np.array([np.linalg.norm(a - b) for a, b in itertools.combinations(shirts, 2)])
    assert np.median(distances) > 60
    assert distances.min() > 30


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (256, 256), (512, 512), (96, 160), (200, 120)])
def test_output_shapes_and_types(size):
    width, height = size
    frame = render(MannequinSpec.sample(2), size)
    assert frame.image.shape == (height, width, 3) and frame.image.dtype == np.uint8
    assert frame.mask.shape == (height, width) and frame.mask.dtype == bool
    assert frame.parts.shape == (height, width) and frame.parts.dtype == np.uint8
    np.testing.assert_array_equal(frame.mask, frame.parts > 0)
    assert frame.parts.max() < len(PART_NAMES)


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (512, 512), (200, 120)])
@pytest.mark.parametrize("seed", [0, 4, 9])
def test_mask_covers_the_figure_and_nothing_else(size, seed):
    spec = MannequinSpec.sample(seed)
    keypoints, depth = standing_pose(spec.proportions, *size)
    frame = render_mannequin(spec, keypoints, depth, *size)
    x, y = np.rint(keypoints[:, 0]).astype(int), np.rint(keypoints[:, 1]).astype(int)
    assert frame.mask[y, x].all(), [BODY_18.joints[j] for j in np.flatnonzero(~frame.mask[y, x])]

    figure_height = 0.8 * size[1]
    pad = 0.2 * figure_height
    rows, cols = np.nonzero(frame.mask)
    assert rows.min() >= keypoints[:, 1].min() - pad and rows.max() <= keypoints[:, 1].max() + pad
    assert cols.min() >= keypoints[:, 0].min() - pad and cols.max() <= keypoints[:, 0].max() + pad
    # A standing figure covers about a fifth of the square of its height.
    assert 0.12 < frame.mask.sum() / figure_height**2 < 0.3


def test_figure_scales_with_the_canvas():
    spec = MannequinSpec.sample(1)
    fractions = [render(spec, (s, s)).mask.mean() for s in (64, 128, 256, 512)]
    assert max(fractions) / min(fractions) < 1.15


def test_every_part_label_appears_in_a_front_view():
    frame = render(MannequinSpec(hair_style="short"), (256, 256))
    assert set(np.unique(frame.parts)) == set(range(len(PART_NAMES)))
    bald = render(MannequinSpec(hair_style="bald"), (256, 256))
    assert PART["hair"] not in bald.parts and PART["head"] in bald.parts


def test_parts_are_coloured_as_the_spec_says():
    spec = MannequinSpec(
        skin=(200, 150, 120),
        shirt=Garment(color=(20, 60, 200)),
        trousers=Garment(color=(200, 30, 30)),
        shoes=(10, 10, 10),
    )
    frame = render(spec, (256, 256))
    expected = {
        "torso": spec.shirt.color,
        "right_thigh": spec.trousers.color,
        "left_hand": spec.skin,
        "right_shoe": spec.shoes,
    }
    for part, color in expected.items():
        # Away from outlines, where edge pixels blend with what lies behind, shading only darkens (towards
        # the outline), so the brightest pixel is the base colour.
        core = cv2.erode((frame.parts == PART[part]).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        pixels = frame.image[core].astype(float)
        brightest = pixels[pixels.sum(axis=1).argmax()]
        assert np.abs(brightest - color).max() <= 2, part
        assert (pixels <= np.array(color) + 1).all(), part


def test_material_labels_tell_cloth_from_skin_within_a_part():
    spec = MannequinSpec(
        shirt=Garment(color=(20, 60, 200), length="short"),
        trousers=Garment(color=(200, 30, 30), length="short"),
    )
    frame = render(spec, (256, 256))
    assert (frame.mask == (frame.materials > 0)).all()
    assert set(np.unique(frame.materials)) == set(range(len(MATERIAL_NAMES)))
    # A short sleeve covers the top of the upper arm; the bare arm below it is skin, the same part.
    arm = frame.parts == PART["right_upper_arm"]
    assert {MATERIAL["shirt"], MATERIAL["skin"]} == set(np.unique(frame.materials[arm]))
    thigh = frame.parts == PART["left_thigh"]
    assert {MATERIAL["trousers"], MATERIAL["skin"]} == set(np.unique(frame.materials[thigh]))
    assert (frame.materials[frame.parts == PART["torso"]] == MATERIAL["shirt"]).all()
    # Each material's core pixels are painted in its colour (shading only darkens).
    for material, color in (
        ("shirt", spec.shirt.color),
        ("trousers", spec.trousers.color),
        ("skin", spec.skin),
    ):
        core = (
            cv2.erode((frame.materials == MATERIAL[material]).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        )
        assert (frame.image[core] <= np.array(color) + 1).all(), material
        brightest = frame.image[core][frame.image[core].astype(int).sum(1).argmax()]
        assert np.abs(brightest.astype(int) - color).max() <= 2, material


def test_outlines_are_anti_aliased():
    frame = render(MannequinSpec.sample(0), (256, 256))
    outside = frame.image[~frame.mask].astype(int)
    partly_covered = np.any(outside != DEFAULT_BACKGROUND, axis=1)
    assert 0 < partly_covered.sum() < 0.05 * len(outside)
    far = frame.image[:10]  # the top rows are far above the head
    assert (far == DEFAULT_BACKGROUND).all()


@pytest.mark.parametrize(
    ("removed", "gone", "kept"),
    [
        (("left_wrist",), ["left_forearm", "left_hand"], ["left_upper_arm", "right_hand", "torso"]),
        (("right_knee",), ["right_thigh", "right_shin"], ["right_shoe", "left_shin", "hips"]),
        (
            ("right_ankle", "left_ankle"),
            ["right_shin", "left_shin", "right_shoe", "left_shoe"],
            ["left_thigh"],
        ),
        (("nose", "right_eye", "left_eye", "right_ear", "left_ear"), ["head", "hair", "neck"], ["torso"]),
        (("neck",), ["torso", "hips", "head", "hair", "neck"], ["right_upper_arm", "left_thigh"]),
        (("right_hip", "left_hip"), ["torso", "hips", "right_thigh", "left_thigh"], ["head", "right_shin"]),
        (("nose", "right_eye", "left_eye"), [], ["head", "hair", "neck"]),
    ],
)
def test_missing_joints_drop_exactly_the_parts_that_need_them(removed, gone, kept):
    spec = MannequinSpec(hair_style="short")
    keypoints, depth = standing_pose(spec.proportions, 192, 192)
    frame = render_mannequin(spec, without(keypoints, *removed), depth, 192, 192)
    present = {PART_NAMES[i] for i in np.unique(frame.parts)}
    assert not present & set(gone)
    assert set(kept) <= present


def test_no_joints_gives_the_bare_background():
    keypoints = np.zeros((18, 3), np.float32)
    frame = render_mannequin(MannequinSpec(), keypoints, None, 64, 48)
    assert not frame.mask.any()
    assert (frame.image == DEFAULT_BACKGROUND).all()


def test_figure_off_the_canvas_is_clipped():
    spec = MannequinSpec()
    keypoints, depth = standing_pose(spec.proportions, 128, 128)
    whole = render_mannequin(spec, keypoints, depth, 128, 128)
    keypoints[:, 0] += 55  # the figure's left arm hangs off the right edge
    clipped = render_mannequin(spec, keypoints, depth, 128, 128)
    assert clipped.mask[:, -1].any() and clipped.mask.sum() < whole.mask.sum()
    np.testing.assert_array_equal(clipped.parts[:, 55:], whole.parts[:, :-55])


def test_depth_decides_what_is_in_front():
    spec = MannequinSpec()
    keypoints, depth = standing_pose(spec.proportions, 256, 256)
    # Swing the left forearm across the chest.
    keypoints[J("left_wrist"), :2] = keypoints[J("right_shoulder"), :2] + (10, 40)
    crossing = keypoints[J("left_wrist"), :2] * 0.4 + keypoints[J("left_elbow"), :2] * 0.6
    x, y = np.rint(crossing).astype(int)
    in_front, behind = depth.copy(), depth.copy()
    in_front[[J("left_elbow"), J("left_wrist")]] -= 0.2
    behind[[J("left_elbow"), J("left_wrist")]] += 0.2
    assert render_mannequin(spec, keypoints, in_front, 256, 256).parts[y, x] == PART["left_forearm"]
    assert render_mannequin(spec, keypoints, behind, 256, 256).parts[y, x] == PART["torso"]
    # Without depth the figure is seen from the front, arms over the body.
    assert render_mannequin(spec, keypoints, None, 256, 256).parts[y, x] == PART["left_forearm"]


def test_patterns_move_with_the_body():
    spec = MannequinSpec(
        shirt=Garment(pattern="checks", pattern_scale=0.06), trousers=Garment(pattern="dots")
    )
    keypoints, depth = standing_pose(spec.proportions, 160, 160)
    frame = render_mannequin(spec, keypoints, depth, 160, 160)
    shifted = keypoints.copy()
    shifted[:, :2] += (7, 5)
    moved = render_mannequin(spec, shifted, depth, 160, 160)
    np.testing.assert_array_equal(moved.parts[5:, 7:], frame.parts[:-5, :-7])
    difference = np.abs(moved.image[5:, 7:].astype(int) - frame.image[:-5, :-7])
    assert difference.max() <= 1  # the same texture, moved with the figure, up to float rounding

    # Turning the whole figure turns its checks with it: each pixel of the turned torso has the colour of
    # the pixel it came from, which a pattern fixed to the screen would not.
    center = keypoints[J("neck"), :2]
    angle = np.radians(25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned_keypoints = keypoints.copy()
    turned_keypoints[:, :2] = (keypoints[:, :2] - center) @ rotation.T + center
    turned = render_mannequin(spec, turned_keypoints, depth, 160, 160)
    core = cv2.erode((turned.parts == PART["torso"]).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ys, xs = np.nonzero(core)
    source = np.rint((np.stack([xs, ys], axis=-1) - center) @ rotation + center).astype(int)  # (N, 2)
    matches = (
        np.abs(turned.image[ys, xs].astype(int) - frame.image[source[:, 1], source[:, 0]]).max(axis=-1) < 40
    )
    assert matches.mean() > 0.75  # a pattern fixed to the screen matches about half


def test_render_sequence_matches_single_frames_and_uses_depth():
    spec = MannequinSpec.sample(8)
    keypoints, depth = standing_pose(spec.proportions, 96, 96)
    rng = np.random.default_rng(0)
    frames = np.repeat(keypoints[None], 4, axis=0)
    frames[:, :, :2] += rng.normal(0, 1.5, size=(4, 18, 2))
    poses = PoseSequence(frames, 96, 96, depth=np.repeat(depth[None], 4, axis=0))
    rendered = list(render_sequence(spec, poses, background="gradient"))
    assert len(rendered) == 4
    for t, frame in enumerate(rendered):
        single = render_mannequin(spec, frames[t], depth, 96, 96, background="gradient")
        np.testing.assert_array_equal(frame.image, single.image)
        np.testing.assert_array_equal(frame.parts, single.parts)


def test_render_sequence_accepts_other_layouts():
    spec = MannequinSpec()
    keypoints, _ = standing_pose(spec.proportions, 64, 64)
    coco = PoseSequence(keypoints[None], 64, 64).to_layout("coco_17")
    frame = next(render_sequence(spec, coco))
    assert frame.parts[frame.parts > 0].size > 0


# ---- backgrounds -------------------------------------------------------------------------------------------


def test_default_background_is_the_documented_plain_colour():
    frame = render(MannequinSpec(), (64, 64))
    assert (frame.image[~frame.mask][:50] == DEFAULT_BACKGROUND).all()
    assert (frame.image[0, 0] == DEFAULT_BACKGROUND).all()


def test_solid_image_and_procedural_backgrounds():
    spec = MannequinSpec()
    red = render(spec, (64, 64), background=(200, 0, 0))
    assert (red.image[0, 0] == (200, 0, 0)).all()

    backdrop = np.random.default_rng(0).integers(0, 256, size=(64, 80, 3), dtype=np.uint8)
    pictured = render(spec, (80, 64), background=backdrop)
    far = cv2.dilate(pictured.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0  # off the outline
    np.testing.assert_array_equal(pictured.image[far], backdrop[far])

    for name in BACKGROUNDS:
        frame = render(spec, (64, 64), background=name)
        np.testing.assert_array_equal(frame.image[:3], background_image(name, 64, 64)[:3])
        np.testing.assert_array_equal(frame.parts, red.parts)  # the backdrop never changes the labels
    assert not np.array_equal(background_image("floor", 64, 64), background_image("gradient", 64, 64))


@pytest.mark.parametrize(
    ("background", "message"),
    [
        ("jungle", "unknown background 'jungle'"),
        (np.zeros((10, 10, 3), np.uint8), r"must be \(64, 64, 3\) uint8"),
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        ((300, 0, 0), "three ints in 0..255"),
        ((1.5, 0, 0), "three ints in 0..255"),
        ([1, [2]], "three ints in 0..255"),
    ],
)
def test_bad_backgrounds_are_clear_errors(background, message):
    with pytest.raises(BackgroundError, match=message):
        render(MannequinSpec(), (64, 64), background=background)


# ---- argument errors ---------------------------------------------------------------------------------------


def test_bad_render_arguments_are_clear_errors():
    spec = MannequinSpec()
    keypoints, depth = standing_pose(spec.proportions, 64, 64)
    with pytest.raises(PoseFormatError, match=r"shape \(18, 3\)"):
        render_mannequin(spec, keypoints[:17], None, 64, 64)
    with pytest.raises(PoseFormatError, match=r"depth of shape \(18,\)"):
        render_mannequin(spec, keypoints, depth[:5], 64, 64)
    with pytest.raises(PoseFormatError, match="canvas.width"):
        render_mannequin(spec, keypoints, depth, 0, 64)
    bad = keypoints.copy()
    bad[3, 0] = np.inf
    with pytest.raises(PoseFormatError, match="right_elbow"):
        render_mannequin(spec, bad, depth, 64, 64)
    with pytest.raises(MannequinSpecError, match="MannequinSpec"):
        render_mannequin("subject", keypoints, depth, 64, 64)  # type: ignore[arg-type]
    with pytest.raises(BackgroundError):
        render_sequence(spec, PoseSequence(keypoints[None], 64, 64), background="nope")
