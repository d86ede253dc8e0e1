"""``toolkit eval``: help, listing, one-line errors, and a full run on a tiny benchmark."""

from __future__ import annotations

import json

import pytest

from toolkit.cli import main
from toolkit.eval.benchmarks import BENCHMARKS, CACHE_ENV
from toolkit.eval.benchmarks.synthetic import SyntheticBenchmark

TINY = SyntheticBenchmark(
    name="tiny-cli",
    description="a tiny test benchmark",
    subjects=1,
    size=32,
    train_motions=("walk",),
    test_motions=("jumping_jack",),
    train_frames=3,
    train_fps=3.0,
    test_frames=3,
    test_fps=3.0,
    sources=(("walk", 0),),
)


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setitem(BENCHMARKS, TINY.name, TINY)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return TINY.name


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--method", "--benchmark", "--data-root", "--checkpoint", "--config", "--metrics", "--device",
        "--seed", "--no-video", "--no-progress", "--list", "--out", "--metric-option", "--lpips-backbone",
    ):  # fmt: skip
        assert flag in text
    assert "TOOLKIT_BENCHMARK_CACHE" in text


def test_list_shows_methods_benchmarks_and_metrics(capsys):
    assert main(["eval", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("ground-truth", "copy-source", "synthetic-small", "patn-market", "video-folder", "fid"):
        assert name in out


def test_unknown_method_lists_known_ones(capsys, tmp_path):
    assert main(["eval", "--method", "nope", "-o", str(tmp_path / "r")]) == 2
    err = _error(capsys)
    assert "unknown method 'nope'" in err and "copy-source" in err and "ground-truth" in err


def test_unknown_benchmark_lists_known_ones(capsys, tmp_path):
    assert main(["eval", "--method", "copy-source", "--benchmark", "nope", "-o", str(tmp_path)]) == 2
    assert "unknown benchmark 'nope'; choose one of 'synthetic-small'" in _error(capsys)


def test_missing_checkpoint_and_missing_arguments_fail_in_one_line(capsys, tmp_path):
    args = [
        "eval",
        "--method",
        "copy-source",
        "--checkpoint",
        str(tmp_path / "none"),
        "-o",
        str(tmp_path / "r"),
    ]
    assert main(args) == 2
    assert "is not a folder" in _error(capsys)
    assert main(["eval", "--method", "copy-source"]) == 2
    assert "give --method NAME and -o OUT" in _error(capsys)
    assert main(["eval", "--method", "copy-source", "--metrics", "ssim,nope", "-o", str(tmp_path / "r")]) == 2
    assert "unknown metric 'nope'" in _error(capsys)
    assert main(["eval", "--method", "copy-source", "--benchmark", "patn-market", "-o", str(tmp_path)]) == 2
    assert "--data-root" in _error(capsys)


def test_full_run_writes_the_run_folder(capsys, tiny, tmp_path):
    out = tmp_path / "runs" / "copy"
    args = ["eval", "--method", "copy-source", "--benchmark", tiny, "--metrics", "ssim,l1", "-o", str(out)]
    assert main([*args, "--no-progress", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "ssim:" in printed and "s/frame:" in printed and f"wrote {out}" in printed
    summary = json.loads((out / "metrics.json").read_text())
    assert list(summary["metrics"]) == ["ssim", "l1"] and summary["benchmark"]["name"] == tiny
    for name in ("per_frame.csv", "side_by_side.mp4", "report.md", "per_frame.png", "manifest.json"):
        assert (out / name).is_file()
    assert (tmp_path / "cache" / tiny / "train" / "manifest.json").is_file()  # built in the cache


def test_config_file_reaches_the_method_and_bad_config_is_refused(capsys, tiny, tmp_path):
    (tmp_path / "config.json").write_text('{"strength": 2}')
    out = tmp_path / "run"
    args = [
        "eval",
        "--method",
        "copy-source",
        "--benchmark",
        tiny,
        "--metrics",
        "l1",
        "--no-video",
        "-o",
        str(out),
    ]
    assert main([*args, "--config", str(tmp_path / "config.json"), "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text())["method_config"] == {"strength": 2}
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main([*args[:-1], str(tmp_path / "other"), "--config", str(tmp_path / "bad.json")]) == 2
    assert "expected a JSON object" in _error(capsys)


def test_metric_options_reach_the_metrics(capsys, tiny, tmp_path):
    args = ["eval", "--method", "copy-source", "--benchmark", tiny, "--metrics", "ssim", "--no-video"]
    assert main([*args, "--metric-option", "ssim.pad=2", "--no-progress", "-o", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["metrics"]["ssim"]["settings"]["pad"] == 2
    assert main([*args, "--metric-option", "ssim", "-o", str(tmp_path / "other")]) == 2
    assert "expects METRIC.SETTING=VALUE" in _error(capsys)
    assert main([*args, "--metric-option", "ssim.nope=1", "-o", str(tmp_path / "other")]) == 2
    assert "ssim has no setting 'nope'" in _error(capsys)
    assert main([*args, "--lpips-backbone", "alexnet.pth", "-o", str(tmp_path / "other")]) == 2
    assert "settings are given for lpips" in _error(capsys)
