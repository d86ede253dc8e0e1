"""A SIGKILL at any point loses nothing finished and leaves nothing a reader could take for output, and
the rerun ends with exactly the bytes (or weights) of a run that was never interrupted.

Each job runs in a subprocess that is killed with SIGKILL, not an exception, once it has reached a kill
point: a number of files on disk, so that the kill falls in the middle of the work that follows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from toolkit.atomic import is_hidden
from toolkit.cli import main
from toolkit.data.media import read_image
from toolkit.diffusion.dreambooth.cli import main as dreambooth_main
from toolkit.diffusion.subjects import LORA_FILE

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = [sys.executable, "-c", "import sys; from toolkit.cli import main; sys.exit(main())"]

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(os.name != "posix", reason="SIGKILL"),
]


def kill_when(argv: list[str], ready: Callable[[], bool], timeout: float = 300) -> None:
    """Run ``argv`` (one torch thread, as the in-process reruns) and SIGKILL it once ``ready()`` holds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if process.poll() is not None:
                pytest.fail(
                    f"{argv[3:5]} ended before the kill point: {process.stderr.read().decode()[-2000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"{argv[3:5]} did not reach the kill point in {timeout} s")
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()


def pngs(folder: Path) -> int:
    """How many finished PNGs ``folder`` holds (0 if it does not exist yet)."""
    return sum(1 for p in folder.glob("*.png") if not is_hidden(p))


def hidden(path: Path, root: Path) -> bool:
    """A temporary or dotfile, or inside a hidden folder, below ``root``."""
    return any(is_hidden(root / part) for part in path.relative_to(root).parts)


def visible_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not hidden(p, folder))


def hidden_entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if hidden(p, folder)]


def assert_images_whole(folder: Path) -> None:
    """Every image a reader would list decodes: a kill left no half-written file under a real name."""
    for path in visible_files(folder):
        if path.suffix == ".png":
            read_image(path)


def assert_same_files(a: Path, b: Path, names: str = "**/*.png") -> None:
    left = {p.relative_to(a): p.read_bytes() for p in a.glob(names)}
    right = {p.relative_to(b): p.read_bytes() for p in b.glob(names)}
    assert left.keys() == right.keys() and left, (len(left), len(right))
    differing = [str(name) for name in left if left[name] != right[name]]
    assert not differing, differing


# ---- generate ------------------------------------------------------------------------------------------

GENERATE = ["--base", "tiny", "--size", "64", "--steps", "3", "--batch", "3", "--seed", "5", "--no-progress"]


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("poses") / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "25", "--size", "64", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def uninterrupted(walk, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "whole"
    assert main(["generate", "--poses", str(walk), *GENERATE, "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize("kill_after", [1, 8])
def test_killed_generate_resumes_to_the_bytes_of_an_uninterrupted_run(
    walk, uninterrupted, tmp_path, kill_after
):
    out = tmp_path / "killed"
    frames = out / "frames"
    argv = [*TOOLKIT, "generate", "--poses", str(walk), *GENERATE, "-o", str(out)]
    kill_when(argv, lambda: pngs(frames) >= kill_after)
    before = pngs(frames)
    assert kill_after <= before < 25
    assert_images_whole(out)

    assert main(["generate", "--poses", str(walk), *GENERATE, "-o", str(out)]) == 0
    assert not hidden_entries(out)
    assert_same_files(out, uninterrupted, "frames/*.png")
    assert_same_files(out, uninterrupted, "controls/*.png")


def test_frames_missing_from_inside_calls_come_back_bit_identical(walk, uninterrupted, tmp_path):
    """A kill between two writes of one call leaves part of the call on disk; the rerun recomputes that
    call with the same neighbours, so even frames of a partly written call come back byte for byte."""
    import shutil

    out = tmp_path / "partial"
    shutil.copytree(uninterrupted, out)
    for i in (2, 4, 5, 13, 24):  # slot 2 of call 0, slots 1-2 of call 1, ..., the padded last call
        (out / "frames" / f"{i:04d}.png").unlink()
    assert main(["generate", "--poses", str(walk), *GENERATE, "-o", str(out)]) == 0
    assert_same_files(out, uninterrupted, "frames/*.png")


# ---- data synth ----------------------------------------------------------------------------------------

SYNTH = ["--subjects", "2", "--motions", "walk,wave", "--frames", "24", "--size", "96"]


def test_killed_data_synth_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    whole, out = tmp_path / "whole", tmp_path / "killed"
    assert main(["data", "synth", *SYNTH, "-o", str(whole)]) == 0
    argv = [*TOOLKIT, "data", "synth", *SYNTH, "-o", str(out)]
    kill_when(argv, lambda: pngs(out / "subject_000" / "wave" / "images") >= 5)
    assert_images_whole(out)
    assert len(list(out.rglob("images/*.png"))) < 2 * 2 * 24

    assert main(["data", "synth", *SYNTH, "-o", str(out)]) == 0
    assert not hidden_entries(out)
    assert_same_files(out, whole)
    assert_same_files(out, whole, "**/poses.json")


# ---- DreamBooth checkpoints ----------------------------------------------------------------------------


def dreambooth_argv(photos: tuple[Path, Path], subjects: Path) -> list[str]:
    return [
        "--subject", "m", "--subjects-dir", str(subjects), "--instance-dir", str(photos[0]),
        "--poses", str(photos[1]), "--base", "tiny", "--controlnet", "tiny", "--resolution", "64",
        "--max-train-steps", "30", "--checkpointing-steps", "3", "--learning-rate", "1e-2",
        "--validation-steps", "0", "--validation-inference-steps", "1", "--validation-motions", "walk",
        "--seed", "0", "--no-progress",
    ]  # fmt: skip


def test_killed_dreambooth_resumes_to_the_weights_of_an_uninterrupted_run(photos, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert dreambooth_main(dreambooth_argv(photos, whole)) == 0
    checkpoints = killed / "m" / "checkpoints"
    argv = [sys.executable, str(ROOT / "training" / "dreambooth.py"), *dreambooth_argv(photos, killed)]
    kill_when(argv, lambda: (checkpoints / "checkpoint-9").is_dir())
    assert not (killed / "m" / LORA_FILE).exists()

    assert dreambooth_main([*dreambooth_argv(photos, killed), "--resume-from-checkpoint", "latest"]) == 0
    assert not hidden_entries(checkpoints)
    expected, resumed = load_file(whole / "m" / LORA_FILE), load_file(killed / "m" / LORA_FILE)
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[key], resumed[key]) for key in expected)
    np.testing.assert_array_equal(
        read_image(killed / "m" / "samples" / "validation.png"),
        read_image(whole / "m" / "samples" / "validation.png"),
    )
