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


def test_a_gan_baseline_on_two_ranks_trains_the_weights_of_one_rank_with_the_same_global_batch(tmp_path):
    from toolkit.cli import main

    data = tmp_path / "synth"
    assert main(["data", "synth", "--subjects", "1", "--motions", "walk", "--frames", "8", "--size", "64",
                 "-o", str(data)]) == 0  # fmt: skip

    def script(out: Path, batch: int) -> list[str]:
        # float64: in float32 a batch summed in another order can flip the sign of a near-zero gradient
        # entry, which Adam's first steps turn into +-lr (docs/baselines.md); in float64 the runs agree.
        return [str(ROOT / "training" / "baseline.py"), "--method", "two-stage", "--data", str(data),
                "--subject", "0", "--set", "size=64", "--set", "base_channels=8", "--set", "disc_channels=8",
                "--set", "reconstruction=l1", "--set", "stage1_steps=2", "--set", "stage2_steps=1",
                "--set", "dtype=float64", "--steps", "3", "--batch-size", str(batch), "--log-every", "1",
                "--checkpoint-every", "1",
                "--no-progress", "--output", str(out)]  # fmt: skip

    one, two = tmp_path / "one", tmp_path / "two"
    run([sys.executable, *script(one, batch=2)])
    done = run([*TORCHRUN, "--nproc_per_node", "2", "--master_port", str(free_port()), *script(two, batch=1)])
    assert done.stdout.count("wrote ") == 1

    # Both stages (G1 for two steps, then G2) and the discriminators: the same weights.
    expected, got = (
        load_file(path / "checkpoints" / "checkpoint-3" / "tensors.safetensors") for path in (one, two)
    )
    models = [key for key in expected if key.startswith("model/")]
    assert {key.split("/")[1] for key in models} >= {"g1", "g2", "d_p", "d_t", "d_w"}
    for key in models:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-5)
    initial = load_file(one / "checkpoints" / "checkpoint-2" / "tensors.safetensors")
    assert (expected["model/g2/model.0.1.weight"] - initial["model/g2/model.0.1.weight"]).abs().max() > 1e-5

    # One writer; each rank's random state kept; the logged losses are the global batch's.
    state = json.loads((two / "checkpoints" / "checkpoint-3" / "state.json").read_text())
    assert len(state["rng"]) == 2 and state["rng"][0] != state["rng"][1]
    rows = [next(path.glob("logs/*.csv")).read_text().splitlines() for path in (one, two)]
    assert rows[0][0] == rows[1][0] and len(rows[1]) == 4
    losses = [[float(v) for row in rows[k][1:] for v in row.split(",")[2:]] for k in (0, 1)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)

    # Resuming needs the same number of processes, since each continues its own random streams.
    resumed = subprocess.run(
        [sys.executable, *script(two, batch=1), "--steps", "4", "--resume", "latest"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert (
        resumed.returncode == 2
        and "saved by 2 process(es); resume with the same number, not 1" in resumed.stderr
    )
