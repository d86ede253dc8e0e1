"""k-NN pose matching: features, the masked distance, search and frame thresholding.

The phase study builds two subjects from procedural walks: a tall adult (the driving poses) and a child of
about four to five (the bank), with a child's build (a larger head, shorter legs and arms) and a different
walking style. One tripod at 1.5 m, 2.5 m away, films both, so it looks down about 13 degrees at the
adult's middle and about 21 degrees at the child's. ``scripts/knn_phase_study.py`` prints the same figures.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.pose import BODY_18, BodyProportions, PoseSequence, make_motion
from toolkit.pose.match import (
    FEATURES,
    PoseFeatures,
    angle_features,
    count_switches,
    masked_sq_distances,
    nearest,
    pose_distances,
    pose_features,
    position_features,
    threshold_matches,
    torso_length,
)

J = BODY_18.index
CANVAS = 512
FRAMES_PER_CYCLE = 24
CHILD = BodyProportions(
    head=0.18, neck=0.045, torso=0.29, thigh=0.21, shin=0.20, ankle_height=0.04,
    upper_arm=0.16, forearm=0.12, shoulder_width=0.23, hip_width=0.15,
).normalized()  # fmt: skip
ADULT_PITCH, CHILD_PITCH = 13.0, 21.0
JITTER_PIXELS = 4.0  # about 1% of the adult's height on the canvas, a detector's typical noise
LAMBDA = 0.003


# ---- the phase study's setup (imported by scripts/knn_phase_study.py) ------------------------------------


def adult_walk(
    frames_per_cycle: int = FRAMES_PER_CYCLE, seed: int = 1, pitch: float = ADULT_PITCH
) -> PoseSequence:
    """Two cycles of the adult's walk filling the canvas."""
    return make_motion(
        "walk", frames=2 * frames_per_cycle, cycles=2, width=CANVAS, height=CANVAS, pitch=pitch, seed=seed
    )


def child_walk(
    frames_per_cycle: int = FRAMES_PER_CYCLE,
    seed: int = 101,
    pitch: float = CHILD_PITCH,
    proportions: BodyProportions = CHILD,
) -> PoseSequence:
    """Two cycles of the child's walk, drawn at 0.6 of the adult's size in the lower right of the canvas."""
    walk = make_motion(
        "walk", frames=2 * frames_per_cycle, cycles=2, width=CANVAS, height=CANVAS, pitch=pitch, seed=seed,
        proportions=proportions,
    )  # fmt: skip
    keypoints = walk.keypoints.copy()
    keypoints[..., :2] = keypoints[..., :2] * 0.6 + np.array([120.0, 180.0], dtype=np.float32)
    return PoseSequence(keypoints, CANVAS, CANVAS, depth=walk.depth)


def jittered(poses: PoseSequence, sigma: float = JITTER_PIXELS, seed: int = 0) -> PoseSequence:
    """``poses`` with seeded Gaussian noise of ``sigma`` pixels on every coordinate."""
    keypoints = poses.keypoints.copy()
    noise = np.random.default_rng(seed).normal(0.0, sigma, keypoints[..., :2].shape)
    keypoints[..., :2] += noise.astype(np.float32)
    return PoseSequence(keypoints, poses.width, poses.height)


def phase_accuracy(picks: np.ndarray, query_frames_per_cycle: int, bank_frames_per_cycle: int) -> float:
    """Fraction of query frames whose picked bank frame is within one bank frame of the query's phase,
    cyclically (for equal frame rates: the same frame of the cycle, +/- 1)."""
    query_phase = np.arange(len(picks)) / query_frames_per_cycle
    bank_phase = np.asarray(picks).reshape(-1) / bank_frames_per_cycle
    error = np.abs((query_phase - bank_phase + 0.5) % 1.0 - 0.5)  # in cycles
    return float(np.mean(error <= 1.0 / bank_frames_per_cycle + 1e-9))


# ---- features ---------------------------------------------------------------------------------------------


def test_registry_and_shapes():
    walk = make_motion("walk", frames=8)
    assert set(FEATURES) == {"position", "angle"}
    position, angle = pose_features(walk, "position"), pose_features(walk, "angle")
    assert position.values.shape == (8, 18, 2) and position.seen.shape == (8, 18)
    assert angle.values.shape == (8, 17, 2) and angle.seen.shape == (8, 17)
    assert position.values.dtype == angle.values.dtype == np.float32
    with pytest.raises(ValueError, match="unknown pose feature 'speed'; choose one of 'position', 'angle'"):
        pose_features(walk, "speed")


def test_position_features_are_neck_centred_in_torso_lengths():
    walk = make_motion("walk", frames=8)
    keypoints = walk.keypoints
    mid_hip = keypoints[:, [J("right_hip"), J("left_hip")], :2].mean(1)
    torso = np.median(np.linalg.norm(keypoints[:, J("neck"), :2] - mid_hip, axis=-1))
    assert torso_length(walk) == pytest.approx(torso, rel=1e-6)

    features = position_features(walk)
    np.testing.assert_allclose(features.values[:, J("neck")], 0.0)
    expected = (keypoints[:, :, :2] - keypoints[:, J("neck"), None, :2]) / torso
    np.testing.assert_allclose(features.values[features.seen], expected[features.seen], atol=1e-6)
    np.testing.assert_array_equal(features.seen, walk.visible)
    assert np.isnan(features.values[~features.seen]).all()


def test_features_ignore_where_and_how_big_the_figure_is():
    walk = make_motion("walk", frames=8)
    moved = walk.keypoints.copy()
    moved[..., :2] = moved[..., :2] * 0.4 + np.array([300.0, 20.0], dtype=np.float32)
    small = PoseSequence(moved, 512, 512)
    for name, compute in FEATURES.items():
        a, b = compute(walk), compute(small)
        np.testing.assert_array_equal(a.seen, b.seen)
        np.testing.assert_allclose(a.values[a.seen], b.values[b.seen], atol=1e-5, err_msg=name)


def test_angle_features_are_limb_directions_that_ignore_limb_length():
    keypoints = np.full((1, 18, 3), np.nan, dtype=np.float32)
    keypoints[..., 2] = 0.0
    keypoints[0, J("right_shoulder")] = (100, 100, 1)
    keypoints[0, J("right_elbow")] = (100, 150, 1)  # straight down (image y grows downwards)
    keypoints[0, J("right_wrist")] = (130, 190, 1)  # down and to the right, a 3-4-5 triangle
    features = angle_features(PoseSequence(keypoints, 256, 256))
    limbs = list(BODY_18.limbs)
    upper, fore = limbs.index((2, 3)), limbs.index((3, 4))
    np.testing.assert_array_equal(np.flatnonzero(features.seen[0]), sorted([upper, fore]))
    np.testing.assert_allclose(features.values[0, upper], [0.0, 1.0])
    np.testing.assert_allclose(features.values[0, fore], [0.6, 0.8], atol=1e-6)

    longer = keypoints.copy()
    longer[0, J("right_wrist"), :2] = (160, 230)  # twice the forearm, same direction
    np.testing.assert_allclose(angle_features(PoseSequence(longer, 256, 256)).values[0, fore], [0.6, 0.8])


def _hide(poses: PoseSequence, joints: list[str], frames: slice = slice(None)) -> PoseSequence:
    keypoints = poses.keypoints.copy()
    keypoints[frames, [J(name) for name in joints]] = (np.nan, np.nan, 0.0)
    return PoseSequence(keypoints, poses.width, poses.height)


def test_torso_length_fallbacks():
    walk = make_motion("walk", frames=8, seed=3)
    keypoints = walk.keypoints
    neck = keypoints[:, J("neck"), :2]

    one_hip = _hide(walk, ["left_hip"])
    right = np.linalg.norm(neck - keypoints[:, J("right_hip"), :2], axis=-1)
    assert torso_length(one_hip) == pytest.approx(np.median(right), rel=1e-6)

    # Hips missing in some frames: the others still give the torso.
    assert torso_length(_hide(walk, ["right_hip", "left_hip"], slice(0, 5))) == pytest.approx(
        torso_length(walk[5:]), rel=1e-6
    )

    upper_body = _hide(walk, ["right_hip", "left_hip"])
    shoulders = np.linalg.norm(
        keypoints[:, J("right_shoulder"), :2] - keypoints[:, J("left_shoulder"), :2], axis=-1
    )
    ratio = BodyProportions().torso / BodyProportions().shoulder_width
    assert torso_length(upper_body) == pytest.approx(np.median(shoulders) * ratio, rel=1e-6)

    nothing = _hide(walk, ["right_hip", "left_hip", "right_shoulder"])
    assert torso_length(nothing) == pytest.approx(512 * BodyProportions().torso)


def test_missing_neck_falls_back_to_the_shoulders_midpoint():
    walk = make_motion("walk", frames=4)
    hidden = _hide(walk, ["neck"], slice(0, 2))
    no_neck = position_features(hidden)
    shoulders = walk.keypoints[:2, [J("right_shoulder"), J("left_shoulder")], :2].mean(1)
    expected = (walk.keypoints[:2, J("nose"), :2] - shoulders) / torso_length(hidden)
    np.testing.assert_allclose(no_neck.values[:2, J("nose")], expected, atol=1e-5)
    assert not no_neck.seen[:2, J("neck")].any() and no_neck.seen[2:, J("neck")].all()

    headless = position_features(_hide(walk, ["neck", "right_shoulder"], slice(0, 1)))
    assert not headless.seen[0].any() and headless.seen[1].any()


def test_other_layouts_are_converted():
    walk = make_motion("walk", frames=4)
    coco = PoseSequence(walk.to_layout("coco_17").keypoints, 512, 512, layout="coco_17")
    features = angle_features(coco)
    assert features.values.shape == (4, 17, 2)
    # COCO has no neck: it comes back as the shoulders' midpoint, so only the neck's limbs change.
    reference = angle_features(walk)
    limbs_without_neck = [i for i, (a, b) in enumerate(BODY_18.limbs) if J("neck") not in (a, b)]
    both = features.seen & reference.seen
    keep = both[:, limbs_without_neck]
    np.testing.assert_allclose(
        features.values[:, limbs_without_neck][keep], reference.values[:, limbs_without_neck][keep], atol=1e-6
    )


# ---- masked distance ---------------------------------------------------------------------------------------


def _random_features(rng: np.random.Generator, count: int, parts: int = 7, dim: int = 2) -> PoseFeatures:
    values = rng.normal(size=(count, parts, dim)).astype(np.float32)
    seen = rng.random((count, parts)) < 0.7
    values[~seen] = np.nan
    return PoseFeatures(values, seen)


def _brute_force(query: PoseFeatures, bank: PoseFeatures) -> np.ndarray:
    out = np.empty((len(query), len(bank)))
    for q in range(len(query)):
        for b in range(len(bank)):
            both = query.seen[q] & bank.seen[b]
            diff = query.values[q, both].astype(np.float64) - bank.values[b, both]
            out[q, b] = (diff**2).sum() / both.sum() if both.any() else np.inf
    return out


def test_masked_distance_equals_a_brute_force_loop():
    rng = np.random.default_rng(0)
    query, bank = _random_features(rng, 13), _random_features(rng, 29)
    query.seen[3] = False  # a pose with nothing seen matches nothing
    query.values[3] = np.nan
    reference = _brute_force(query, bank)
    assert np.isinf(reference[3]).all()
    for chunk_size in (1, 4, 1024):
        got = masked_sq_distances(query, bank, chunk_size=chunk_size)
        assert got.shape == (13, 29) and got.dtype == torch.float32
        np.testing.assert_array_equal(np.isinf(got.numpy()), np.isinf(reference))
        finite = np.isfinite(reference)
        np.testing.assert_allclose(got.numpy()[finite], reference[finite], rtol=1e-5, atol=1e-5)


def test_missing_parts_are_ignored_and_disjoint_poses_are_infinitely_far():
    rng = np.random.default_rng(1)
    seen = np.array(
        [
            [True, True, False, False],  # the query
            [True, True, False, True],
            [False, False, True, True],  # nothing in common with the query
            [True, True, True, False],
        ]
    )
    values = np.where(seen[..., None], rng.normal(size=(4, 4, 2)), np.nan).astype(np.float32)
    query, bank = PoseFeatures(values[:1], seen[:1]), PoseFeatures(values[1:].copy(), seen[1:])
    before = masked_sq_distances(query, bank)[0]
    bank.values[0, 3] = 1e6  # parts the query does not see
    bank.values[2, 2] = -1e6
    after = masked_sq_distances(query, bank)[0]
    assert torch.isinf(after[1]) and torch.isfinite(after[[0, 2]]).all()
    torch.testing.assert_close(before, after)
    expected = ((values[0, :2] - values[1, :2]) ** 2).sum() / 2
    assert after[0].item() == pytest.approx(expected, rel=1e-5)


def test_distance_of_a_pose_to_itself_is_zero_and_shapes_must_agree():
    walk = make_motion("walk", frames=6)
    for name in FEATURES:
        distances = pose_distances(walk, walk, feature=name)
        np.testing.assert_allclose(torch.diagonal(distances).numpy(), 0.0, atol=1e-5)
        assert (distances >= 0).all()
    with pytest.raises(ValueError, match="compute both with the same feature"):
        masked_sq_distances(position_features(walk), angle_features(walk))


def test_nearest_is_exact_and_sorted():
    query = make_motion("walk", frames=10, seed=5)
    bank = make_motion("dance", frames=7)
    bank = PoseSequence(np.concatenate([bank.keypoints, make_motion("walk", frames=9).keypoints]), 512, 512)
    for name in FEATURES:
        reference = _brute_force(pose_features(query, name), pose_features(bank, name))
        indices, distances = nearest(query, bank, feature=name, k=3, chunk_size=4)
        assert indices.shape == distances.shape == (10, 3) and indices.dtype == torch.int64
        np.testing.assert_allclose(distances.numpy(), np.sort(reference, axis=1)[:, :3], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            np.take_along_axis(reference, indices.numpy(), 1), distances.numpy(), atol=1e-6
        )
    with pytest.raises(ValueError, match="k must be an integer from 1 to the bank size 16, got 17"):
        nearest(query, bank, k=17)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        nearest(query, bank, chunk_size=0)


# ---- frame thresholding ------------------------------------------------------------------------------------


def test_threshold_switches_only_for_a_clear_gain():
    distances = np.array(
        [
            [0.0, 0.5, 0.9],
            [0.2, 0.1, 0.9],  # frame 1 is better by 0.1: not enough for lam = 0.15
            [0.4, 0.1, 0.9],  # better by 0.3: switch
            [0.3, 0.35, 0.9],  # 0 is now nearest, but only by 0.05: keep 1
            [np.inf, np.inf, np.inf],  # nothing to compare: keep 1
            [np.inf, 0.6, 0.2],  # the pick cannot be compared any more: take the nearest
        ]
    )
    np.testing.assert_array_equal(threshold_matches(distances, 0.15), [0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(threshold_matches(torch.as_tensor(distances), 0.0), [0, 1, 1, 0, 0, 2])
    assert count_switches(threshold_matches(distances, 0.15)) == 2
    assert count_switches(torch.tensor([4, 4, 1, 4])) == 2 and count_switches(np.array([7])) == 0


def test_threshold_zero_is_plain_nearest_neighbour():
    query, bank = jittered(adult_walk()), child_walk()
    distances = pose_distances(query, bank)
    indices, _ = nearest(query, bank)
    np.testing.assert_array_equal(threshold_matches(distances, 0.0), indices[:, 0].numpy())


@pytest.mark.parametrize("lam", [-0.1, float("nan"), "0.1"])
def test_threshold_rejects_a_bad_lambda(lam):
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        threshold_matches(np.zeros((2, 2)), lam)


def test_threshold_rejects_a_bad_matrix():
    with pytest.raises(ValueError, match=r"non-empty \(Q, B\) matrix, got shape \(3,\)"):
        threshold_matches(np.zeros(3), 0.1)


# ---- the phase study ---------------------------------------------------------------------------------------


def test_angle_space_matches_the_phase_across_subjects_where_position_space_slips():
    accuracy = {name: [] for name in FEATURES}
    for seed in range(1, 5):
        query, bank = adult_walk(seed=seed), child_walk(seed=100 + seed)
        for name in FEATURES:
            indices, _ = nearest(query, bank, feature=name)
            accuracy[name].append(phase_accuracy(indices[:, 0].numpy(), FRAMES_PER_CYCLE, FRAMES_PER_CYCLE))
    assert min(accuracy["angle"]) >= 0.95
    assert np.mean(accuracy["angle"]) >= np.mean(accuracy["position"]) + 0.05


def test_thresholding_cuts_switches_on_noisy_poses():
    # The driving walk is four times slower than the bank's, so the right bank frame changes every fourth
    # query frame and noise, not motion, causes most switches of plain nearest-neighbour retrieval.
    query, bank = jittered(adult_walk(4 * FRAMES_PER_CYCLE)), child_walk()
    distances = pose_distances(query, bank)
    plain, held = threshold_matches(distances, 0.0), threshold_matches(distances, LAMBDA)
    assert count_switches(held) <= 0.7 * count_switches(plain)
    assert phase_accuracy(plain, 4 * FRAMES_PER_CYCLE, FRAMES_PER_CYCLE) >= 0.9
    assert phase_accuracy(held, 4 * FRAMES_PER_CYCLE, FRAMES_PER_CYCLE) >= 0.85
