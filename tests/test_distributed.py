"""Training on several processes: real ranks on a CPU machine, one writer, and the same weights as one
process with the same global batch (every random draw is keyed by the example's place in the global batch,
not by the process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from toolkit.diffusion.dreambooth.cli import main as dreambooth_main
from toolkit.diffusion.subjects import LORA_FILE
from toolkit.locks import FolderLockedError, exclusive_folder

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dreambooth(photos: tuple[Path, Path], subjects: Path, batch: int) -> list[str]:
    return [
        str(ROOT / "training" / "dreambooth.py"), "--subject", "m", "--subjects-dir", str(subjects),
        "--instance-dir", str(photos[0]), "--poses", str(photos[1]), "--base", "tiny", "--controlnet", "tiny",
        "--resolution", "64", "--max-train-steps", "4", "--train-batch-size", str(batch),
        "--learning-rate", "1e-3", "--checkpointing-steps", "100", "--validation-steps", "0",
        "--validation-inference-steps", "1", "--validation-motions", "walk", "--seed", "0", "--no-progress",
    ]  # fmt: skip


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_torchrun_ranks_train_the_lora_of_one_rank_with_the_same_global_batch(photos, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, *dreambooth(photos, one, batch=2)])
    ranks = [*TORCHRUN, "--nproc_per_node", "2", "--master_port", str(free_port())]
    done = run([*ranks, *dreambooth(photos, two, batch=1)])

    expected, got = load_file(one / "m" / LORA_FILE), load_file(two / "m" / LORA_FILE)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-5)
    assert any(value.abs().max() > 1e-3 for value in expected.values())  # it trained: B moved off zero
    # One writer and one report: a single summary line, and a loss log with one row per step whose loss
    # is the global batch's, as the one-process run logs it.
    assert done.stdout.count("steps, final loss") == 1
    (log,) = (two / "m" / "logs").glob("*.csv")
    (reference,) = (one / "m" / "logs").glob("*.csv")
    losses = [
        [float(row.split(",")[2]) for row in path.read_text().splitlines()[1:]] for path in (log, reference)
    ]
    assert len(losses[0]) == 4 and losses[0] == pytest.approx(losses[1], abs=1e-4)


def test_a_second_writer_of_the_same_subject_is_refused_in_one_line(photos, tmp_path, capsys):
    folder = tmp_path / "subjects" / "m"
    with exclusive_folder(folder, "subject 'm'"):
        argv = dreambooth(photos, tmp_path / "subjects", batch=1)[1:]
        assert dreambooth_main(argv) == 2
        err = capsys.readouterr().err
        assert (
            err.count("\n") == 1 and f"subject 'm' {folder} is being written by process {os.getpid()}" in err
        )
        with pytest.raises(FolderLockedError), exclusive_folder(folder):
            pass
    with exclusive_folder(folder):  # released: the next writer gets it
        pass
    assert not (folder / LORA_FILE).exists()


def test_a_gan_baseline_on_two_ranks_sees_one_rank_s_global_batch_and_checkpoints_every_rank(tmp_path):
    from toolkit.cli import main

    data = tmp_path / "synth"
    assert main(["data", "synth", "--subjects", "1", "--motions", "walk", "--frames", "8", "--size", "64",
                 "-o", str(data)]) == 0  # fmt: skip

    def script(out: Path, batch: int) -> list[str]:
        return [str(ROOT / "training" / "baseline.py"), "--method", "two-stage", "--data", str(data),
                "--subject", "0", "--set", "size=64", "--set", "base_channels=8", "--set", "disc_channels=8",
                "--set", "reconstruction=l1", "--set", "stage1_steps=3", "--set", "stage2_steps=1",
                "--steps", "2", "--batch-size", str(batch), "--log-every", "1", "--no-progress",
                "--output", str(out)]  # fmt: skip

    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, *script(one, batch=2)])
    done = run([*TORCHRUN, "--nproc_per_node", "2", "--master_port", str(free_port()), *script(two, batch=1)])
    assert done.stdout.count("wrote ") == 1
    state = json.loads((two / "checkpoints" / "checkpoint-2" / "state.json").read_text())
    assert len(state["rng"]) == 2  # one entry per rank
    # The logged losses are the global batch's: at step 1, before any weight differs, they are exactly
    # the one-process run's (Adam then turns rounding-level gradient differences into +-lr steps).
    rows = [next(path.glob("logs/*.csv")).read_text().splitlines() for path in (one, two)]
    assert rows[0][0] == rows[1][0] and len(rows[1]) == 3
    first = [[float(v) for v in rows[k][1].split(",")[2:]] for k in (0, 1)]
    assert first[1] == pytest.approx(first[0], rel=1e-5)

    # Resuming needs the same number of processes, since each continues its own random streams.
    resumed = subprocess.run(
        [sys.executable, *script(two, batch=1), "--steps", "3", "--resume", "latest"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert (
        resumed.returncode == 2
        and "saved by 2 process(es); resume with the same number, not 1" in resumed.stderr
    )
