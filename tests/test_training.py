"""The training loop: batches, checkpoints (atomic, pruned, resumable to the exact step and weights), logs,
sample grids, and the training script's command line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import toolkit.train.checkpoint as checkpoints
from baselines.pix2pix import Pix2PixPose2Pics
from toolkit.data.datasets import mannequin_frames
from toolkit.data.subject import SubjectFrames
from toolkit.data.synth_dataset import SynthConfig, write_synthetic_dataset
from toolkit.nn.trainer import TrainOptions, train
from toolkit.train.checkpoint import CheckpointError, checkpoint_steps
from toolkit.train.sampling import EpochBatches

REPO = Path(__file__).resolve().parents[1]
TINY = {"size": 64, "base_channels": 4, "disc_channels": 4}


def latest_checkpoint(output: Path) -> Path:
    return checkpoint_steps(output / "checkpoints")[-1][1]


@pytest.fixture(scope="module")
def subject() -> SubjectFrames:
    return mannequin_frames(4, motions=("walk",), frames=6, size=64)


def _options(out: Path, **changes: object) -> TrainOptions:
    values = {"steps": 6, "batch_size": 2, "output_dir": str(out), "checkpoint_every": 2, "sample_every": 3,
              "log_every": 1, "progress": False, "logger": "csv", **changes}  # fmt: skip
    return TrainOptions(**values)  # type: ignore[arg-type]


def _weights(method: Pix2PixPose2Pics) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in method.generator.state_dict().items()}


class _Interrupted(Exception):
    pass


def _killed_after(method: Pix2PixPose2Pics, last_step: int) -> None:
    """Make the run die at the step after ``last_step``, as a killed process would."""
    step = method.training_step

    def dying(batch, context):  # type: ignore[no-untyped-def]
        if context.step > last_step:
            raise _Interrupted
        return step(batch, context)

    method.training_step = dying  # type: ignore[method-assign]


def test_batches_depend_only_on_the_step() -> None:
    full = list(EpochBatches(5, 3, seed=7, start=0, stop=6))
    assert list(EpochBatches(5, 3, seed=7, start=4, stop=6)) == full[4:]
    indices = [i for batch in full for i, _ in batch]
    assert sorted(indices[:5]) == [0, 1, 2, 3, 4] and sorted(indices[5:10]) == [0, 1, 2, 3, 4]  # epochs
    assert len({draw for batch in full for _, draw in batch}) == 18  # every sample its own augmentation
    # Two processes split each global batch between them.
    ranks = [list(EpochBatches(5, 2, 7, 0, 3, rank=r, world=2)) for r in (0, 1)]
    single = list(EpochBatches(5, 4, 7, 0, 3))
    assert [a + b for a, b in zip(*ranks, strict=True)] == single


def test_outputs_checkpoints_and_logs(subject: SubjectFrames, tmp_path: Path) -> None:
    method = Pix2PixPose2Pics(TINY)
    result = train(method, subject, _options(tmp_path, keep_checkpoints=2))
    assert (result.step, result.start_step) == (6, 0) and set(result.losses) == {"d", "g_gan", "g_l1"}
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-4", "checkpoint-6"]  # step 2 pruned, no staging left
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "checkpoint-6" == result.checkpoint
    files = {p.name for p in result.checkpoint.iterdir()}
    assert files == {"config.json", "model.safetensors", "state.json", "tensors.safetensors"}
    state = json.loads((result.checkpoint / "state.json").read_text())
    assert state["step"] == 6 and state["meta"]["method"] == "pix2pix-pose2pics"
    assert state["optimizers"]["generator"]["param_groups"][0]["betas"] == [0.5, 0.999]
    tensors = load_file(str(result.checkpoint / "tensors.safetensors"))
    assert any(k.startswith("model/discriminator/") for k in tensors)
    assert len(state["rng"]) == 1 and set(state["rng"][0]) >= {"python", "numpy", "torch"}  # one per rank
    assert any(k.startswith("optimizer/generator/") and k.endswith("exp_avg") for k in tensors)
    # The checkpoint loads for inference as it is.
    loaded = Pix2PixPose2Pics.load(result.checkpoint)
    trained = _weights(method)
    assert all(torch.equal(value, trained[key]) for key, value in loaded.generator.state_dict().items())
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step_0000003.png",
        "step_0000006.png",
    ]
    rows = (tmp_path / "logs" / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,seconds,d,g_gan,g_l1" and len(rows) == 7


def test_resume_continues_from_the_right_step_with_identical_results(
    subject: SubjectFrames, tmp_path: Path
) -> None:
    uninterrupted = Pix2PixPose2Pics(TINY)
    train(uninterrupted, subject, _options(tmp_path / "a"))

    killed = Pix2PixPose2Pics(TINY)
    _killed_after(killed, 5)  # dies during step 6, after the checkpoint of step 4 (and the log of step 5)
    with pytest.raises(_Interrupted):
        train(killed, subject, _options(tmp_path / "b"))
    assert latest_checkpoint(tmp_path / "b").name == "checkpoint-4"

    resumed = Pix2PixPose2Pics(TINY)
    result = train(resumed, subject, _options(tmp_path / "b", resume="latest"))
    assert (result.start_step, result.step) == (4, 6)
    final_a, final_b = _weights(uninterrupted), _weights(resumed)
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    rows_a = [r.split(",") for r in (tmp_path / "a" / "logs" / "losses.csv").read_text().splitlines()]
    rows_b = [r.split(",") for r in (tmp_path / "b" / "logs" / "losses.csv").read_text().splitlines()]
    assert [r[0] for r in rows_b] == ["step", "1", "2", "3", "4", "5", "6"]  # step 5 logged once
    assert [r[2:] for r in rows_a] == [r[2:] for r in rows_b]
    # A finished run resumed again does nothing.
    again = train(Pix2PixPose2Pics(TINY), subject, _options(tmp_path / "b", resume="latest"))
    assert (again.start_step, again.step) == (6, 6)


def test_a_run_killed_while_checkpointing_keeps_the_previous_checkpoint(
    subject: SubjectFrames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    method = Pix2PixPose2Pics(TINY)
    train(method, subject, _options(tmp_path, steps=2))
    before = (tmp_path / "checkpoints" / "checkpoint-2" / "tensors.safetensors").read_bytes()

    def dies_midway(tensors: dict, path: str) -> None:
        Path(path).write_bytes(b"half a file")
        raise _Interrupted

    monkeypatch.setattr(checkpoints, "save_file", dies_midway)
    with pytest.raises(_Interrupted):
        train(Pix2PixPose2Pics(TINY), subject, _options(tmp_path, steps=4, resume="latest"))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-2"]
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "tensors.safetensors").read_bytes() == before
    assert latest_checkpoint(tmp_path).name == "checkpoint-2"


def test_resume_refuses_other_settings_and_missing_checkpoints(
    subject: SubjectFrames, tmp_path: Path
) -> None:
    train(Pix2PixPose2Pics(TINY), subject, _options(tmp_path, steps=2))
    with pytest.raises(CheckpointError, match="base_channels differ"):
        train(
            Pix2PixPose2Pics({**TINY, "base_channels": 8}),
            subject,
            _options(tmp_path, steps=4, resume="latest"),
        )
    with pytest.raises(CheckpointError, match="no complete checkpoint at"):
        train(Pix2PixPose2Pics(TINY), subject, _options(tmp_path, resume=str(tmp_path)))
    fresh = train(Pix2PixPose2Pics(TINY), subject, _options(tmp_path / "new", steps=1, resume="latest"))
    assert fresh.start_step == 0  # nothing to resume: a fresh start
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        TrainOptions(steps=0)


def test_fit_without_an_output_folder_writes_nothing(
    subject: SubjectFrames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    method = Pix2PixPose2Pics(TINY)
    method.fit(subject, {**TINY, "steps": 2, "progress": False})
    assert list(tmp_path.iterdir()) == []
    assert method.generator is not None


def test_float64_training_checkpoints_doubles_and_hands_back_a_float32_model(
    subject: SubjectFrames, tmp_path: Path
) -> None:
    method = Pix2PixPose2Pics(TINY)
    train(method, subject, _options(tmp_path, steps=2, dtype="float64"))
    saved = load_file(latest_checkpoint(tmp_path) / "tensors.safetensors")
    assert {v.dtype for k, v in saved.items() if k.endswith(".weight")} == {torch.float64}
    assert torch.get_default_dtype() == torch.float32
    assert {p.dtype for p in method.generator.parameters()} == {torch.float32}
    frames = method.transfer(subject.images[:1], subject.poses[:1], subject.poses[:2])
    assert frames.shape == (2, 64, 64, 3) and frames.dtype == np.uint8
    with pytest.raises(ValueError, match="unknown dtype 'float16'; choose one of 'float32', 'float64'"):
        TrainOptions(dtype="float16")
    with pytest.raises(ValueError, match="mixed_precision needs dtype float32"):
        TrainOptions(dtype="float64", mixed_precision="bf16")


# ---- the script ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_synthetic_dataset(root, SynthConfig(1, ("walk",), 64, 64, 6), progress=False)
    return root


def test_script_trains_and_records_no_perceptual(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.commands import train_baseline as script

    common = ["--method", "pix2pix-pose2pics", "--data", str(dataset), "--subject", "0", "--set", "size=64",
              "--set", "base_channels=4", "--set", "disc_channels=4", "--set", "perceptual_weight=10",
              "--steps", "2", "--batch-size", "2", "--no-progress"]  # fmt: skip
    assert script.main([*common, "--output", str(tmp_path / "refused")]) == 2
    assert "needs ImageNet weights" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "checkpoints").exists()

    out = tmp_path / "run"
    assert script.main([*common, "--output", str(out), "--no-perceptual"]) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["no_perceptual"] is True and record["settings"]["perceptual_weight"] == 0.0
    assert record["subject"] == 0 and record["frames"] == 6
    saved = json.loads((out / "final" / "config.json").read_text())
    assert saved["method"] == "pix2pix-pose2pics" and saved["config"]["perceptual_weight"] == 0.0
    assert json.loads((out / "manifest.json").read_text())["outputs"]["steps"] == 2
    assert (out / "checkpoints" / "checkpoint-2").is_dir()


def test_script_fits_methods_without_steps(dataset: Path, tmp_path: Path) -> None:
    from toolkit.commands import train_baseline as script

    assert (
        script.main(["--method", "knn", "--data", str(dataset / "subject_000"), "--output", str(tmp_path)])
        == 0
    )
    assert {p.name for p in (tmp_path / "final").iterdir()} == {
        "config.json",
        "model.safetensors",
        "poses.json",
    }


def test_script_runs_under_accelerate_launch_offline(dataset: Path, tmp_path: Path) -> None:
    launcher = Path(sys.executable).with_name("accelerate")
    command = [str(launcher), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", str(REPO / "training" / "baseline.py"),
               "--method", "knn", "--data", str(dataset), "--subject", "subject_000",
               "--output", str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "final" / "config.json").is_file()


def test_wandb_logging_needs_its_package_and_logs_through_it(tmp_path, monkeypatch):
    import sys
    import types

    from toolkit.nn.train_log import open_logger

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real_find_spec(name, *a)
    )
    with pytest.raises(ImportError, match="--report-to wandb needs the wandb package: pip install wandb"):
        open_logger(tmp_path / "logs", "wandb", 0)

    logged, runs = [], []
    run = types.SimpleNamespace(
        log=lambda values, step: logged.append((step, values)), finish=lambda: runs.append("done")
    )
    fake = types.SimpleNamespace(
        init=lambda **kw: runs.append(kw) or run, Image=lambda image: ("image", image.shape)
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "wandb" else real_find_spec(name, *a),
    )
    log = open_logger(tmp_path / "run" / "logs", "wandb", 0)
    log.write(3, 1.5, {"total": 0.25})
    log.image("validation", np.zeros((4, 4, 3), np.uint8), 3)
    log.close()
    assert runs[0]["name"] == "run" and runs[0]["resume"] == "allow" and runs[-1] == "done"
    assert logged == [(3, {"loss/total": 0.25, "seconds": 1.5}), (3, {"validation": ("image", (4, 4, 3))})]
