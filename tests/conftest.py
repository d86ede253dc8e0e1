"""Keep the suite's caches out of the user's home: every cache the toolkit writes goes to a temporary
folder for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from toolkit.eval.benchmarks import CACHE_ENV as BENCHMARK_CACHE_ENV
from toolkit.eval.metrics.inception import FEATURE_CACHE_ENV


@pytest.fixture(autouse=True, scope="session")
def _private_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setenv(FEATURE_CACHE_ENV, str(tmp_path_factory.mktemp("inception-features")))
    patch.setenv(BENCHMARK_CACHE_ENV, str(tmp_path_factory.mktemp("benchmarks")))
    yield
    patch.undo()
