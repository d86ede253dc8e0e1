"""Shared fixtures: the suite's caches kept out of the user's home, one torch thread for modules of tiny
networks, and a subject's photos for the DreamBooth tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.data.media import write_image
from toolkit.eval.benchmarks import CACHE_ENV as BENCHMARK_CACHE_ENV
from toolkit.eval.metrics.inception import FEATURE_CACHE_ENV
from toolkit.pose.io import save_poses
from toolkit.pose.motions import make_motion


@pytest.fixture(autouse=True, scope="session")
def _private_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv(FEATURE_CACHE_ENV, str(tmp_path_factory.mktemp("inception-features")))
    patch.setenv(BENCHMARK_CACHE_ENV, str(tmp_path_factory.mktemp("benchmarks")))
    yield
    patch.undo()


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One torch thread for a module: tiny networks gain nothing from a second one, whose hand-offs cost
    more than they save and, on a busy machine, make a step many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four 64 px mannequin photos of one subject walking (a folder), and their exact poses (a file)."""
    folder = tmp_path_factory.mktemp("photos")
    poses = make_motion("walk", frames=4, width=64, height=64)
    for i, frame in enumerate(render_sequence(MannequinSpec.sample(3), poses)):
        write_image(folder / "photos" / f"{i}.png", frame.image)
    save_poses(folder / "poses.json", poses)
    return folder / "photos", folder / "poses.json"
