"""Adapter for PATN's test pairs of Market-1501 and DeepFashion (Zhu et al. 2019, tengteng95/Pose-Transfer).

The data folder is PATN's own (``market_data/`` or ``fashion_data/``)::

    ROOT/
      market-pairs-test.csv          from,to         (DeepFashion: fasion-resize-pairs-test.csv)
      market-annotation-test.csv     name:keypoints_y:keypoints_x, -1 for a missing joint
                                                     (DeepFashion: fasion-resize-annotation-test.csv)
      test/                          the images named in both files

Each person is one :class:`~toolkit.eval.benchmarks.EvalCase`; each source image of that person is one
clip whose target frames are the images it is paired with. The pairs are stills, not videos, so temporal
metrics do not apply, and there is no mask or known backdrop. PATN-style methods are trained on the
training pairs elsewhere (``training/baseline.py``), so the cases carry no training frames: evaluate them
with ``--checkpoint``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...data.media import read_image
from ...pose.io import read_patn_csv
from . import Benchmark, BenchmarkError, EvalCase, EvalClip


def _market_person(name: str) -> str:
    return name.split("_")[0]  # "0002_c1s1_000451_03.jpg" -> "0002"


def _fashion_person(name: str) -> str:
    # Categories contain "_" ("...Blouses_Shirtsid0000069302_3back.jpg"); the view follows the last one.
    return name.rsplit("_", 1)[0]


@dataclass(frozen=True)
class PatnPairs:
    """PATN's test pairs of one dataset.

    Args:
        name: Registry name.
        description: One line for listings.
        pairs_file: The ``from,to`` CSV, relative to the data folder.
        annotation_file: The ``name:keypoints_y:keypoints_x`` CSV.
        image_folder: Folder of the images, relative to the data folder.
        width: Image width in pixels (Market-1501: 64, DeepFashion: 176).
        height: Image height in pixels (Market-1501: 128, DeepFashion: 256).
        person_of: Image name -> person id.
    """

    name: str
    description: str
    pairs_file: str
    annotation_file: str
    width: int
    height: int
    person_of: Callable[[str], str]
    image_folder: str = "test"
    fps: float = 24.0
    needs_data: ClassVar[bool] = True

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "patn-pairs",
            "pairs_file": self.pairs_file,
            "annotation_file": self.annotation_file,
            "image_folder": self.image_folder,
            "size": [self.width, self.height],
        }

    def load(self, root: Path, *, progress: bool = True) -> Benchmark:
        """Read the pair list and annotations of ``root``; images are read per case."""
        pairs = read_pairs(root / self.pairs_file)
        names, poses = read_patn_csv(root / self.annotation_file, width=self.width, height=self.height)
        index = {name: t for t, name in enumerate(names)}
        missing = sorted({name for pair in pairs for name in pair} - set(index))
        if missing:
            raise BenchmarkError(
                f"{root / self.annotation_file}: no annotation for {missing[0]!r} "
                f"({len(missing)} image(s) of the pairs file are missing)"
            )
        # person -> source image -> target images, in the order of the pairs file
        people: dict[str, dict[str, list[str]]] = {}
        for source, target in pairs:
            people.setdefault(self.person_of(source), {}).setdefault(source, []).append(target)

        def read_case(person: str) -> EvalCase:
            clips = []
            for source, targets in people[person].items():
                truth = np.stack([self._image(root, name) for name in targets])  # (T, H, W, 3)
                clips.append(
                    EvalClip(
                        name=Path(source).stem,
                        source_images=self._image(root, source)[None],
                        source_poses=poses[index[source]],
                        target_poses=poses[[index[name] for name in targets]],
                        truth=truth,
                    )
                )
            return EvalCase(person, None, tuple(clips))

        settings = {**self.settings(), "root": str(root.resolve()), "pairs": len(pairs)}
        return Benchmark(self.name, root, tuple(people), settings, self.fps, read_case, temporal=False)

    def _image(self, root: Path, name: str) -> np.ndarray:
        path = root / self.image_folder / name
        image = read_image(path)
        if image.shape[:2] != (self.height, self.width):
            raise BenchmarkError(
                f"{path}: expected a {self.width}x{self.height} image as PATN's annotations assume, got "
                f"{image.shape[1]}x{image.shape[0]}"
            )
        return image


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """``(from, to)`` image names of a PATN pairs CSV (header ``from,to``; other columns are ignored)."""
    if not path.is_file():
        raise BenchmarkError(f"{path}: no pairs file; is this PATN's data folder?")
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows or not {"from", "to"} <= set(rows[0]):
        raise BenchmarkError(f"{path}: expected a CSV with 'from' and 'to' columns")
    pairs = [(row["from"].strip(), row["to"].strip()) for row in rows]
    for line, (source, target) in enumerate(pairs, start=2):
        if not source or not target:
            raise BenchmarkError(f"{path}: line {line}: empty image name")
    return pairs


PATN_BENCHMARKS = (
    PatnPairs(
        name="patn-market",
        description="PATN's Market-1501 test pairs (64x128); needs --data-root market_data/",
        pairs_file="market-pairs-test.csv",
        annotation_file="market-annotation-test.csv",
        width=64,
        height=128,
        person_of=_market_person,
    ),
    PatnPairs(
        name="patn-deepfashion",
        description="PATN's DeepFashion test pairs (176x256); needs --data-root fashion_data/",
        pairs_file="fasion-resize-pairs-test.csv",
        annotation_file="fasion-resize-annotation-test.csv",
        width=176,
        height=256,
        person_of=_fashion_person,
    ),
)

__all__ = ["PATN_BENCHMARKS", "PatnPairs", "read_pairs"]
