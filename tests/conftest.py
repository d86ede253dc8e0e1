"""Shared fixtures: the suite's caches kept out of the user's home, and one torch thread for modules of
tiny networks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from toolkit.eval.benchmarks import CACHE_ENV as BENCHMARK_CACHE_ENV
from toolkit.eval.metrics.inception import FEATURE_CACHE_ENV


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
