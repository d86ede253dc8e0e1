"""The built-in benchmarks: procedural mannequins with exact ground truth, rendered once and cached.

A :class:`SyntheticBenchmark` renders two mannequin datasets (``toolkit.data.synth_dataset``) into its data
folder: ``train/`` with the training motions and ``test/`` with the held-out ones, for the same subjects
(subject ``i`` is ``MannequinSpec.sample(seed + i)`` in both). Rendering resumes and refuses mixed settings,
so a second load is a cache hit.

- ``synthetic-small``: 3 subjects at 128 px. Training: walk, wave, squat, dance, 48 frames each at 24 fps.
  Held out: run, jumping_jack, turn, 24 frames each at 12 fps (every other frame of a 48-frame loop).
  Running with a flight phase, arms overhead with legs apart, and the back and profile views of a turn
  appear in no training clip. The source is the subject standing in a three-quarter view (squat, frame 0).
- ``synthetic-fewshot``: the same subjects and held-out clips, but a subject is known only from 5 frames
  of the training motions, which are also the source images.
- ``synthetic-noisy``: ``synthetic-small`` driven by poses as a detector gives them: 1.5 px of Gaussian
  noise on every joint of the held-out poses, drawn afresh per frame, while the truth frames stay exact.
  It is the "poses in the wild" test of Ren et al.: a per-frame method passes the jitter on as flicker.
- ``synthetic-crowd``: identity among many: 24 other mannequins, each known from the few-shot frames,
  rendered in a run of 12 frames at 6 fps.
- ``demo-walk``: what ``make demo`` compares: one held-out mannequin known only from 5 frames of squat,
  wave and dance, rendered in a walk cycle it was never seen in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...data.mannequin import MannequinSpec, background_image, render_sequence
from ...data.mannequin.captions import mannequin_caption
from ...data.media import read_image
from ...data.subject import SubjectFrames
from ...data.synth_dataset import (
    FRAME_PATTERN,
    SUBJECT_FILE,
    SynthConfig,
    subject_dir,
    write_synthetic_dataset,
)
from ...manifest import MANIFEST_NAME
from ...pose.io import load_poses
from ...pose.ops import jitter_poses
from ...pose.sequence import PoseSequence
from . import Benchmark, BenchmarkError, EvalCase, EvalClip

FrameRef = tuple[str, int]  # (motion, frame index) in the training clips


@dataclass(frozen=True)
class SyntheticBenchmark:
    """A benchmark built from procedural mannequins.

    Args:
        name: Registry name.
        description: One line for listings.
        subjects: Number of subjects. Default 3.
        size: Square canvas in pixels. Default 128.
        train_motions: Motions of the training clips.
        test_motions: Held-out motions; choose ones whose poses the training clips do not contain.
        train_frames: Frames per training clip. Default 48.
        train_fps: Frame rate of the training clips. Default 24.
        test_frames: Frames per held-out clip. Default 24.
        test_fps: Frame rate of the held-out clips. Default 12, so 24 frames cover the same 2 s loop as 48
            training frames at 24 fps.
        sources: Training frames given to ``transfer`` as the source images.
        shots: If set, ``fit`` sees only these training frames (few-shot); otherwise every training frame.
        background: Backdrop name (``toolkit.data.mannequin.BACKGROUNDS``); it is the known background
            that silhouettes are read against. Default ``"plain"``.
        seed: Seed of the first subject. Default 0.
        pose_noise: Standard deviation in pixels of Gaussian noise added to x and y of every joint of the
            held-out target poses, seeded per subject and clip, as a pose detector adds it; the truth
            frames and the source poses stay exact. Default 0.
    """

    name: str
    description: str
    subjects: int = 3
    size: int = 128
    train_motions: tuple[str, ...] = ("walk", "wave", "squat", "dance")
    test_motions: tuple[str, ...] = ("run", "jumping_jack", "turn")
    train_frames: int = 48
    train_fps: float = 24.0
    test_frames: int = 24
    test_fps: float = 12.0
    sources: tuple[FrameRef, ...] = (("squat", 0),)
    shots: tuple[FrameRef, ...] | None = None
    background: str = "plain"
    seed: int = 0
    pose_noise: float = 0.0
    needs_data: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for motion, t in (*self.sources, *(self.shots or ())):
            if motion not in self.train_motions or not 0 <= t < self.train_frames:
                raise ValueError(f"{self.name}: source/shot frame {(motion, t)} is not a training frame")
        if not self.pose_noise >= 0:
            raise ValueError(f"{self.name}: pose_noise must be >= 0 pixels, got {self.pose_noise!r}")
        overlap = set(self.train_motions) & set(self.test_motions)
        if overlap:
            raise ValueError(f"{self.name}: motions {sorted(overlap)} are both trained on and held out")

    def train_config(self) -> SynthConfig:
        """The mannequin dataset of the training clips (``root/train``)."""
        return self._config(self.train_motions, self.train_frames, self.train_fps)

    def test_config(self) -> SynthConfig:
        """The mannequin dataset of the held-out clips (``root/test``)."""
        return self._config(self.test_motions, self.test_frames, self.test_fps)

    def _config(self, motions: tuple[str, ...], frames: int, fps: float) -> SynthConfig:
        return SynthConfig(
            subjects=self.subjects,
            motions=motions,
            width=self.size,
            height=self.size,
            frames=frames,
            fps=fps,
            seed=self.seed,
            background=self.background,
        )

    def settings(self) -> dict[str, Any]:
        settings = {
            "kind": "synthetic",
            "train": self.train_config().to_dict(),
            "test": self.test_config().to_dict(),
            "sources": [list(ref) for ref in self.sources],
            "shots": None if self.shots is None else [list(ref) for ref in self.shots],
        }
        # Only when set, so that the runs of the exact-pose benchmarks keep their settings.
        return settings | ({"pose_noise": self.pose_noise} if self.pose_noise else {})

    def load(self, root: Path, *, progress: bool = True) -> Benchmark:
        """Render what is missing under ``root`` (``train/`` and ``test/``), then return the benchmark."""
        for part, config in (("train", self.train_config()), ("test", self.test_config())):
            # Rendering resumes, so a complete cache is only checked; the bar shows real work only.
            show = progress and not _is_complete(root / part, config)
            write_synthetic_dataset(root / part, config, progress=show, command=["benchmark", self.name])
        subjects = tuple(subject_dir(root, i).name for i in range(self.subjects))
        return Benchmark(
            name=self.name,
            root=root,
            subjects=subjects,
            settings=self.settings(),
            fps=self.test_fps,
            read_case=lambda subject: self._read_case(root, subject, subjects.index(subject)),
        )

    def _read_case(self, root: Path, subject: str, index: int) -> EvalCase:
        train_clips = {
            motion: _read_clip(root / "train" / subject / motion, self.train_frames)
            for motion in self.train_motions
        }
        spec = _read_spec(root / "test" / subject)
        described = {"name": subject, "description": mannequin_caption(spec)}
        if self.shots is None:
            train = SubjectFrames(
                np.concatenate([clip.images for clip in train_clips.values()]),
                PoseSequence.concatenate([clip.poses for clip in train_clips.values()]),
                np.concatenate([clip.masks for clip in train_clips.values()]),  # type: ignore[misc]
                **described,
            )
        else:
            train = _pick(train_clips, self.shots, **described)
        source = _pick(train_clips, self.sources, **described)
        backdrop = np.array(background_image(self.background, self.size, self.size))
        clips = []
        for k, motion in enumerate(self.test_motions):
            held_out = _read_clip(root / "test" / subject / motion, self.test_frames)
            clips.append(
                EvalClip(
                    name=motion,
                    source_images=source.images,
                    source_poses=source.poses,
                    target_poses=self._detected(held_out.poses, index, k),
                    truth=held_out.images,
                    masks=held_out.masks,
                    materials=_materials(spec, held_out.poses, backdrop),
                    background=backdrop,
                )
            )
        return EvalCase(subject, train, tuple(clips))

    def _detected(self, poses: PoseSequence, subject: int, clip: int) -> PoseSequence:
        """``poses`` with ``pose_noise`` pixels of jitter (:func:`~toolkit.pose.ops.jitter_poses`), drawn
        from a generator seeded by the benchmark's seed and the subject's and clip's indices."""
        if not self.pose_noise:
            return poses
        return jitter_poses(poses, self.pose_noise, np.random.default_rng([self.seed, subject, clip]))


def _is_complete(folder: Path, config: SynthConfig) -> bool:
    """Whether ``folder`` holds a finished dataset rendered with ``config``."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return manifest.get("options") == config.to_dict() and manifest.get("outputs", {}).get("complete", False)


def _read_clip(folder: Path, frames: int) -> SubjectFrames:
    """Images, masks and poses of one rendered clip folder (``toolkit.data.synth_dataset`` layout)."""
    names = [FRAME_PATTERN.format(t) for t in range(frames)]
    images = np.stack([read_image(folder / "images" / name) for name in names])  # (T, H, W, 3)
    masks = np.stack([read_image(folder / "masks" / name, mode="L") > 127 for name in names])  # (T, H, W)
    return SubjectFrames(images, load_poses(folder / "poses.json"), masks, name=folder.parent.name)


def _read_spec(folder: Path) -> MannequinSpec:
    """The subject's ``subject.json``."""
    try:
        return MannequinSpec.from_dict(json.loads((folder / SUBJECT_FILE).read_text()))
    except (OSError, ValueError) as err:
        path = folder / SUBJECT_FILE
        raise BenchmarkError(
            f"{path}: unreadable ({err}); delete the benchmark folder to render it again"
        ) from None


def _materials(spec: MannequinSpec, poses: PoseSequence, backdrop: np.ndarray) -> np.ndarray:
    """``(T, H, W)`` uint8 material labels of ``spec`` in every pose, drawn again by the renderer: the labels
    are exact and deterministic, so they need not be stored with the frames."""
    return np.stack([frame.materials for frame in render_sequence(spec, poses, background=backdrop)])


def _pick(
    clips: dict[str, SubjectFrames], refs: tuple[FrameRef, ...], *, name: str, description: str
) -> SubjectFrames:
    """The frames ``refs`` of the training clips, as one :class:`SubjectFrames` of subject ``name``."""
    chosen = [(clips[motion], t) for motion, t in refs]
    return SubjectFrames(
        np.stack([clip.images[t] for clip, t in chosen]),
        PoseSequence.concatenate([clip.poses[t] for clip, t in chosen]),
        np.stack([clip.masks[t] for clip, t in chosen]),  # type: ignore[index]
        name=name,
        description=description,
    )


SYNTHETIC_SMALL = SyntheticBenchmark(
    name="synthetic-small",
    description="3 mannequins at 128 px: fit on walk/wave/squat/dance, render run/jumping_jack/turn",
)

# Five varied frames: standing, mid-stride, an arm raised, crouched, and a dance pose.
FEWSHOT_FRAMES: tuple[FrameRef, ...] = (
    ("squat", 0),
    ("walk", 12),
    ("wave", 12),
    ("squat", 24),
    ("dance", 24),
)

SYNTHETIC_FEWSHOT = SyntheticBenchmark(
    name="synthetic-fewshot",
    description="the synthetic-small subjects known only from 5 frames; render run/jumping_jack/turn",
    sources=FEWSHOT_FRAMES,
    shots=FEWSHOT_FRAMES,
)

# The demo subject: a mannequin that neither the benchmarks above nor the mini model's training set
# (mannequins 1000 to 1199) contain, with a distinctive look (dotted short-sleeved shirt, shorts).
DEMO_SUBJECT = 8
# Five frames that show the whole figure from the front, the side and crouched, none of them walking.
DEMO_SHOTS: tuple[FrameRef, ...] = (("squat", 0), ("wave", 12), ("squat", 24), ("dance", 8), ("dance", 24))

DEMO_WALK = SyntheticBenchmark(
    name="demo-walk",
    description="one held-out mannequin known from 5 frames (squat, wave, dance); render its walk cycle",
    subjects=1,
    train_motions=("squat", "wave", "dance"),
    test_motions=("walk",),
    sources=DEMO_SHOTS[:1],
    shots=DEMO_SHOTS,
    seed=DEMO_SUBJECT,
)

# The detector-like jitter of the k-NN thresholding study (scripts/compare_baselines.py).
SYNTHETIC_NOISY = replace(
    SYNTHETIC_SMALL,
    name="synthetic-noisy",
    description="synthetic-small driven by detector-like poses: 1.5 px of noise on every held-out joint",
    pose_noise=1.5,
)

# Identity among many subjects: 24 mannequins (seeds 300-323, in no other benchmark or training set), each
# known from the few-shot frames, rendered running. Three subjects are too few to say how often a method
# draws the right person; 24 x 12 frames are cheap enough to render with a diffusion model on a CPU.
SYNTHETIC_CROWD = SyntheticBenchmark(
    name="synthetic-crowd",
    description="24 held-out mannequins known from 5 frames each; render a run (identity among many)",
    subjects=24,
    test_motions=("run",),
    test_frames=12,
    test_fps=6.0,
    sources=FEWSHOT_FRAMES,
    shots=FEWSHOT_FRAMES,
    seed=300,
)

SYNTHETIC_BENCHMARKS = (SYNTHETIC_SMALL, SYNTHETIC_FEWSHOT, SYNTHETIC_NOISY, SYNTHETIC_CROWD, DEMO_WALK)
