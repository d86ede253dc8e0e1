"""Benchmarks: the mannequin benchmarks (built once, cached, deterministic) and the real-data adapters on
tiny fabricated folders in PATN's and the video-folder layouts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.mannequin import DEFAULT_BACKGROUND, MannequinSpec, mannequin_caption, render_sequence
from toolkit.data.media import write_image, write_video
from toolkit.eval.benchmarks import (
    BENCHMARKS,
    CACHE_ENV,
    BenchmarkError,
    EvalClip,
    cache_root,
    get_benchmark,
    load_benchmark,
)
from toolkit.eval.benchmarks.patn_pairs import PatnPairs
from toolkit.eval.benchmarks.synthetic import (
    DEMO_SUBJECT,
    SYNTHETIC_CROWD,
    SYNTHETIC_FEWSHOT,
    SYNTHETIC_SMALL,
    SyntheticBenchmark,
)
from toolkit.eval.benchmarks.video_folder import VideoFolder
from toolkit.pose.io import save_poses, write_patn_csv
from toolkit.pose.motions import make_motion

TINY = SyntheticBenchmark(
    name="tiny",
    description="test",
    subjects=2,
    size=40,
    train_motions=("walk", "squat"),
    test_motions=("run",),
    train_frames=4,
    train_fps=4.0,
    test_frames=3,
    test_fps=3.0,
    sources=(("squat", 0),),
)


def test_registry_lists_the_builtin_benchmarks_and_adapters():
    assert {"synthetic-small", "synthetic-fewshot", "synthetic-crowd", "patn-market", "video-folder"} <= set(
        BENCHMARKS
    )
    with pytest.raises(BenchmarkError, match="unknown benchmark 'nope'; choose one of 'synthetic-small'"):
        get_benchmark("nope")
    with pytest.raises(BenchmarkError, match="--data-root"):
        load_benchmark("patn-market")


def test_published_definitions_hold_out_motions_never_trained_on():
    for benchmark in (SYNTHETIC_SMALL, SYNTHETIC_FEWSHOT):
        assert not set(benchmark.train_motions) & set(benchmark.test_motions)
        assert benchmark.size == 128 and benchmark.subjects == 3
    assert SYNTHETIC_FEWSHOT.shots is not None and len(SYNTHETIC_FEWSHOT.shots) == 5
    # The crowd's 24 subjects are in no other benchmark, the demo, nor the mini model's training set.
    crowd = range(SYNTHETIC_CROWD.seed, SYNTHETIC_CROWD.seed + SYNTHETIC_CROWD.subjects)
    elsewhere = {0, 1, 2, DEMO_SUBJECT} | set(range(1000, 2000))
    assert SYNTHETIC_CROWD.subjects == 24 and not set(crowd) & elsewhere
    with pytest.raises(ValueError, match="both trained on and held out"):
        SyntheticBenchmark("bad", "", train_motions=("walk",), test_motions=("walk",), sources=(("walk", 0),))


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == Path("~/.cache/pose-transfer-toolkit/benchmarks").expanduser()


def test_synthetic_benchmark_builds_cases_with_exact_truth(tmp_path):
    benchmark = TINY.load(tmp_path, progress=False)
    assert benchmark.subjects == ("subject_000", "subject_001")
    assert benchmark.fps == 3.0 and benchmark.temporal
    json.dumps(benchmark.settings)  # JSON-safe
    cases = list(benchmark.cases())
    train = cases[0].train
    assert train is not None and train.images.shape == (8, 40, 40, 3) and train.masks.shape == (8, 40, 40)
    (clip,) = cases[0].clips
    assert clip.name == "run" and clip.truth.shape == (3, 40, 40, 3) and len(clip.target_poses) == 3
    assert clip.source_images.shape == (1, 40, 40, 3)
    # The source is squat frame 0 of the training frames (walk comes first, 4 frames).
    np.testing.assert_array_equal(clip.source_images[0], train.images[4])
    np.testing.assert_array_equal(clip.background, np.broadcast_to(DEFAULT_BACKGROUND, (40, 40, 3)))
    # The truth is exactly the render of the target poses.
    spec = MannequinSpec.sample(0)
    rendered = [frame for frame in render_sequence(spec, clip.target_poses)]
    np.testing.assert_array_equal(clip.truth, np.stack([f.image for f in rendered]))
    np.testing.assert_array_equal(clip.masks, np.stack([f.mask for f in rendered]))
    np.testing.assert_array_equal(clip.materials, np.stack([f.materials for f in rendered]))
    assert train.description == mannequin_caption(spec)
    # Held-out poses match a fresh motion for the same subject.
    expected = make_motion(
        "run", frames=3, fps=3.0, width=40, height=40, proportions=spec.proportions, seed=0
    )
    np.testing.assert_allclose(clip.target_poses.keypoints, expected.keypoints, atol=1e-3)


def test_second_load_is_a_cache_hit_and_deterministic(tmp_path):
    TINY.load(tmp_path / "a", progress=False)
    frame = tmp_path / "a" / "test" / "subject_001" / "run" / "images" / "00002.png"
    stamp = frame.stat().st_mtime_ns
    again = TINY.load(tmp_path / "a", progress=False)
    assert frame.stat().st_mtime_ns == stamp
    other = TINY.load(tmp_path / "b", progress=False)
    for x, y in zip(again.cases(), other.cases(), strict=True):
        np.testing.assert_array_equal(x.train.images, y.train.images)
        np.testing.assert_array_equal(x.clips[0].truth, y.clips[0].truth)


def test_fewshot_fits_on_its_shots_which_are_also_the_sources(tmp_path):
    shots = (("walk", 1), ("squat", 2), ("walk", 3))
    fewshot = replace(TINY, name="tiny-few", shots=shots, sources=shots)
    case = next(fewshot.load(tmp_path, progress=False).cases())
    assert len(case.train) == 3
    np.testing.assert_array_equal(case.clips[0].source_images, case.train.images)
    np.testing.assert_array_equal(case.train.poses.keypoints, case.clips[0].source_poses.keypoints)


def test_pose_noise_jitters_only_the_target_poses_and_is_seeded(tmp_path):
    exact = TINY.load(tmp_path, progress=False)
    noisy = replace(TINY, name="tiny-noisy", pose_noise=2.0)
    first, again = (list(noisy.load(tmp_path, progress=False).cases()) for _ in range(2))
    assert "pose_noise" not in exact.settings and noisy.settings()["pose_noise"] == 2.0
    moves = []
    for clean, jittered, repeat in zip(exact.cases(), first, again, strict=True):
        a, b = clean.clips[0], jittered.clips[0]
        np.testing.assert_array_equal(a.truth, b.truth)
        np.testing.assert_array_equal(a.source_poses.keypoints, b.source_poses.keypoints)
        np.testing.assert_array_equal(b.target_poses.keypoints, repeat.clips[0].target_poses.keypoints)
        np.testing.assert_array_equal(a.target_poses.keypoints[..., 2], b.target_poses.keypoints[..., 2])
        present = a.target_poses.keypoints[..., 2] > 0
        np.testing.assert_array_equal(b.target_poses.keypoints[~present], a.target_poses.keypoints[~present])
        moves.append(b.target_poses.keypoints[present, :2] - a.target_poses.keypoints[present, :2])
    moves = np.concatenate(moves)
    assert 1.5 < moves.std() < 2.5  # 2 px of noise
    assert not np.allclose(moves[: len(moves) // 2], moves[len(moves) // 2 :])  # subjects differ
    with pytest.raises(ValueError, match="pose_noise must be >= 0 pixels"):
        replace(TINY, pose_noise=-1.0)


def test_eval_clip_validates_shapes():
    poses = make_motion("walk", frames=2, width=16, height=16)
    images = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="masks must have shape"):
        EvalClip("x", images[:1], poses[0], poses, images, masks=np.zeros((2, 8, 8), bool))
    with pytest.raises(ValueError, match="background must have shape"):
        EvalClip("x", images[:1], poses[0], poses, images, background=np.zeros((8, 8, 3), np.uint8))


# ---- PATN pairs ------------------------------------------------------------------------------------------


def _patn_folder(root: Path, *, size: tuple[int, int] = (64, 128)) -> dict[str, np.ndarray]:
    """Five fabricated Market-1501 images of two people, their annotations and three pairs."""
    width, height = size
    names = ["0001_c1s1_000001_00.jpg", "0001_c2s1_000002_00.jpg", "0001_c3s1_000003_00.jpg"]
    names += ["0002_c1s1_000004_00.jpg", "0002_c1s1_000005_00.jpg"]
    rng = np.random.default_rng(0)
    images = {}
    for name in names:
        images[name] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        # PNG bytes under PATN's .jpg names, so the pixels read back exactly.
        write_image(root / "test" / f"{name}.png", images[name])
        (root / "test" / f"{name}.png").rename(root / "test" / name)
    poses = make_motion("walk", frames=len(names), width=64, height=128)
    write_patn_csv(root / "market-annotation-test.csv", poses, names=names)
    pairs = [(names[0], names[1]), (names[0], names[2]), (names[1], names[0]), (names[3], names[4])]
    lines = ["from,to", *(f"{a},{b}" for a, b in pairs)]
    (root / "market-pairs-test.csv").write_text("\n".join(lines) + "\n")
    return images


def test_patn_adapter_groups_pairs_by_person_and_source(tmp_path):
    images = _patn_folder(tmp_path)
    benchmark = load_benchmark("patn-market", tmp_path, progress=False)
    assert benchmark.subjects == ("0001", "0002") and not benchmark.temporal
    first, second = benchmark.cases()
    assert first.train is None and [clip.name for clip in first.clips] == [
        "0001_c1s1_000001_00",
        "0001_c2s1_000002_00",
    ]
    clip = first.clips[0]
    names = list(images)
    np.testing.assert_array_equal(clip.source_images[0], images[names[0]])
    np.testing.assert_array_equal(clip.truth, np.stack([images[names[1]], images[names[2]]]))
    assert clip.target_poses.canvas == (64, 128) and clip.masks is None and clip.background is None
    np.testing.assert_array_equal(second.clips[0].truth[0], images[names[4]])


def test_patn_adapter_errors_name_the_problem(tmp_path):
    with pytest.raises(BenchmarkError, match="no pairs file"):
        load_benchmark("patn-market", tmp_path, progress=False)
    _patn_folder(tmp_path)
    with (tmp_path / "market-pairs-test.csv").open("a") as file:
        file.write("0003_c1s1_000009_00.jpg,0001_c1s1_000001_00.jpg\n")
    with pytest.raises(BenchmarkError, match="no annotation for '0003_c1s1_000009_00.jpg'"):
        load_benchmark("patn-market", tmp_path, progress=False)
    wrong = PatnPairs("w", "", "market-pairs-test.csv", "market-annotation-test.csv", 64, 128, str)
    (tmp_path / "market-pairs-test.csv").write_text("source,target\na,b\n")
    with pytest.raises(BenchmarkError, match="'from' and 'to' columns"):
        wrong.load(tmp_path)


def test_patn_adapter_checks_the_image_size(tmp_path):
    _patn_folder(tmp_path, size=(32, 64))
    with pytest.raises(BenchmarkError, match="expected a 64x128 image"):
        next(load_benchmark("patn-market", tmp_path, progress=False).cases())


# ---- video folder --------------------------------------------------------------------------------------


def _video_folder(root: Path, frames: int = 10, *, as_video: bool = False) -> np.ndarray:
    spec = MannequinSpec.sample(3)
    poses = make_motion("walk", frames=frames, width=32, height=32, proportions=spec.proportions)
    rendered = list(render_sequence(spec, poses))
    images = np.stack([f.image for f in rendered])
    if as_video:
        write_video(root / "clip.mp4", images, fps=10)
    else:
        for t, frame in enumerate(rendered):
            write_image(root / "images" / f"frame_{t}.png", frame.image)
            write_image(root / "masks" / f"frame_{t}.png", frame.mask)
        write_image(root / "background.png", np.full((32, 32, 3), DEFAULT_BACKGROUND, np.uint8))
    save_poses(root / "poses.json", poses)
    return images


def test_video_folder_splits_by_time(tmp_path):
    images = _video_folder(tmp_path)
    benchmark = VideoFolder(held_out=0.3, clip_frames=2).load(tmp_path)
    (case,) = benchmark.cases()
    assert case.subject == tmp_path.name and len(case.train) == 7
    # 3 held-out frames: one clip of 2 would leave 1 frame, which joins it.
    assert [clip.name for clip in case.clips] == ["frames_00007"] and len(case.clips[0]) == 3
    clip = case.clips[0]
    np.testing.assert_array_equal(clip.truth, images[7:])
    np.testing.assert_array_equal(clip.source_images[0], images[0])
    assert clip.masks is not None and clip.masks.shape == (3, 32, 32) and clip.background is not None


def test_video_folder_reads_a_video_file(tmp_path):
    _video_folder(tmp_path, frames=12, as_video=True)
    benchmark = load_benchmark("video-folder", tmp_path, progress=False)
    (case,) = benchmark.cases()
    assert benchmark.fps == 10 and len(case.train) == 9 and sum(len(c) for c in case.clips) == 3
    assert case.clips[0].masks is None and case.clips[0].background is None


def test_video_folder_rejects_mismatched_poses(tmp_path):
    _video_folder(tmp_path)
    save_poses(tmp_path / "poses.json", make_motion("walk", frames=4, width=32, height=32))
    with pytest.raises(BenchmarkError, match="10 frames but 4 poses"):
        VideoFolder().load(tmp_path)
    with pytest.raises(BenchmarkError, match="not a folder"):
        VideoFolder().load(tmp_path / "missing")
