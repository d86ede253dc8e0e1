"""Named benchmarks: what a method learns from, the held-out clips it must render, and their ground truth.

A benchmark is a registry entry (:data:`BENCHMARKS`) that loads a :class:`Benchmark` from a data folder.
The built-in ones render procedural mannequins, so the truth is exact and nothing needs downloading; the
adapters read a user's own data in PATN's pairs format or as one person's video.

Every benchmark is a list of subjects. For each, an :class:`EvalCase` gives the training frames (what
``fit`` sees) and the :class:`EvalClip` s to render: source images and poses, target poses, the true frames
and, where known, their foreground masks and the backdrop behind the subject.

Example::

    from toolkit.eval.benchmarks import load_benchmark

    benchmark = load_benchmark("synthetic-small")      # rendered once, then read from the cache
    for case in benchmark.cases():
        print(case.subject, len(case.train), [clip.name for clip in case.clips])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...checks import lookup
from ...data.subject import SubjectFrames
from ...errors import ToolkitError
from ...pose.sequence import PoseSequence

CACHE_ENV = "TOOLKIT_BENCHMARK_CACHE"
DEFAULT_CACHE = Path("~/.cache/pose-transfer-toolkit/benchmarks")


class BenchmarkError(ToolkitError, ValueError):
    """A benchmark is unknown, or its data is missing or malformed."""


@dataclass(frozen=True, eq=False)
class EvalClip:
    """One held-out clip: render the subject of ``source_images`` in every pose of ``target_poses``.

    Args:
        name: Clip name, unique within its case (e.g. ``"run"``).
        source_images: ``(S, H, W, 3)`` uint8 frames of the subject that ``transfer`` receives.
        source_poses: ``S`` poses of the source images.
        target_poses: ``T`` poses to render, on the ``W x H`` canvas of the truth.
        truth: ``(T, H, W, 3)`` uint8 true frames.
        masks: ``(T, H, W)`` bool foreground of the true frames, or None when unknown.
        materials: ``(T, H, W)`` uint8 material labels of the true frames
            (``toolkit.data.mannequin.MATERIAL_NAMES``), or None when unknown; the identity metrics need them.
        background: ``(H, W, 3)`` uint8 backdrop behind the subject, or None when unknown; with it a
            silhouette can be read off a generated frame.
    """

    name: str
    source_images: np.ndarray
    source_poses: PoseSequence
    target_poses: PoseSequence
    truth: np.ndarray
    masks: np.ndarray | None = None
    materials: np.ndarray | None = None
    background: np.ndarray | None = None

    def __post_init__(self) -> None:
        SubjectFrames(self.source_images, self.source_poses)  # validates shapes, dtype and canvas
        SubjectFrames(self.truth, self.target_poses, self.masks)
        if self.materials is not None and (
            self.materials.dtype != np.uint8 or self.materials.shape != self.truth.shape[:3]
        ):
            raise ValueError(
                f"materials must be uint8 of shape {self.truth.shape[:3]}, got "
                f"{self.materials.dtype} {self.materials.shape}"
            )
        if self.background is not None and self.background.shape != self.truth.shape[1:]:
            raise ValueError(
                f"background must have shape {self.truth.shape[1:]}, got {self.background.shape}"
            )

    def __len__(self) -> int:
        return len(self.target_poses)


@dataclass(frozen=True, eq=False)
class EvalCase:
    """One subject of a benchmark.

    Args:
        subject: Subject name, unique within the benchmark; clips are reported as ``subject/clip``.
        train: What ``fit`` learns from, or None when the benchmark has no training data (then a method
            that needs training must come from a checkpoint).
        clips: The held-out clips to render.
    """

    subject: str
    train: SubjectFrames | None
    clips: tuple[EvalClip, ...]

    def __post_init__(self) -> None:
        names = [clip.name for clip in self.clips]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.subject}: clip names repeat: {names}")


@dataclass(frozen=True, eq=False)
class Benchmark:
    """A loaded benchmark. Cases are read one at a time, so a large dataset never sits in memory whole.

    Args:
        name: Registry name.
        root: The data folder it was read from.
        subjects: Subject names, in order.
        settings: JSON-safe definition (motions, sizes, counts); equal settings mean equal data.
        fps: Frame rate of the held-out clips, for videos.
        read_case: ``subject -> EvalCase``.
        temporal: True when every clip's frames are consecutive video frames, so temporal metrics
            (flicker, warp error) apply; False for unordered stills such as PATN's pairs. Default True.
    """

    name: str
    root: Path
    subjects: tuple[str, ...]
    settings: Mapping[str, Any]
    fps: float
    read_case: Callable[[str], EvalCase]
    temporal: bool = True

    def cases(self) -> Iterator[EvalCase]:
        """Every subject's :class:`EvalCase`, in order."""
        for subject in self.subjects:
            yield self.read_case(subject)


class BenchmarkSource(Protocol):
    """A registry entry: knows its data and reads it into a :class:`Benchmark`.

    ``needs_data`` is True for adapters of a user's own data, which must be given a data folder; the
    built-in benchmarks render theirs into the cache when none is given.
    """

    name: str
    description: str
    needs_data: bool

    def settings(self) -> dict[str, Any]:
        """The JSON-safe definition of the benchmark."""

    def load(self, root: Path, *, progress: bool = True) -> Benchmark:
        """Read (building first where the benchmark is built-in) the data in ``root``."""


BENCHMARKS: dict[str, BenchmarkSource] = {}


def register_benchmark(source: BenchmarkSource) -> BenchmarkSource:
    """Make ``source`` available as ``source.name``; returns it."""
    if source.name in BENCHMARKS:
        raise ValueError(f"a benchmark named {source.name!r} is already registered")
    BENCHMARKS[source.name] = source
    return source


def get_benchmark(name: str) -> BenchmarkSource:
    """The registry entry ``name``; a one-line :class:`BenchmarkError` lists the known names."""
    return lookup(BENCHMARKS, name, "benchmark", BenchmarkError)


def cache_root() -> Path:
    """Where built-in benchmarks are rendered: ``$TOOLKIT_BENCHMARK_CACHE`` if set, else
    ``~/.cache/pose-transfer-toolkit/benchmarks``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def load_benchmark(name: str, data_root: str | Path | None = None, *, progress: bool = True) -> Benchmark:
    """Load the benchmark ``name``.

    Args:
        name: A key of :data:`BENCHMARKS`.
        data_root: Its data folder. Default for built-in benchmarks: ``cache_root() / name``; adapters of a
            user's data require it.
        progress: Show progress bars while building or reading.
    """
    source = get_benchmark(name)
    if data_root is None:
        if source.needs_data:
            raise BenchmarkError(f"benchmark {name!r} reads your own data: pass its folder as --data-root")
        data_root = cache_root() / name
    return source.load(Path(data_root), progress=progress)


def _register_builtin() -> None:
    from .patn_pairs import PATN_BENCHMARKS
    from .synthetic import SYNTHETIC_BENCHMARKS
    from .video_folder import VideoFolder

    for source in (*SYNTHETIC_BENCHMARKS, *PATN_BENCHMARKS, VideoFolder()):
        register_benchmark(source)


_register_builtin()

__all__ = [
    "BENCHMARKS",
    "CACHE_ENV",
    "Benchmark",
    "BenchmarkError",
    "BenchmarkSource",
    "EvalCase",
    "EvalClip",
    "cache_root",
    "get_benchmark",
    "load_benchmark",
    "register_benchmark",
]
