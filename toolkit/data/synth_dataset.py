"""The mannequin dataset on disk: ``toolkit data synth`` writes it, the datasets and benchmarks read it.

Layout (documented in docs/synthetic-data.md)::

    ROOT/
      manifest.json                    how it was made: command, versions, options, timings
      subject_000/
        subject.json                   the MannequinSpec (appearance and body proportions)
        walk/
          poses.json                   toolkit.poses/1 with per-joint depth; written last
          images/00000.png ...         RGB renders
          masks/00000.png ...          foreground, 0 or 255
          parts/00000.png ...          part labels, single channel (PART_NAMES)
        wave/ ...
      subject_001/ ...

Every file is written atomically and a clip's ``poses.json`` is written after all its frames, so a rerun
skips what is finished and redoes only what is missing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import sweep_temporaries, write_json_atomic
from ..checks import check_choice
from ..errors import DataError
from ..manifest import MANIFEST_NAME, write_manifest
from ..pose.io import save_poses
from ..pose.motions import list_motions, make_motion
from ..progress import progress_bar
from .mannequin import BACKGROUNDS, MannequinSpec, render_sequence
from .media import write_image

FRAME_PATTERN = "{:05d}.png"
SUBJECT_FILE = "subject.json"
CHANNELS = ("images", "masks", "parts")


@dataclass(frozen=True)
class SynthConfig:
    """What ``toolkit data synth`` renders.

    Args:
        subjects: Number of mannequin subjects; subject ``i`` is ``MannequinSpec.sample(seed + i)``.
        motions: Motion names from ``toolkit.pose.motions``.
        width: Canvas width in pixels.
        height: Canvas height in pixels.
        frames: Frames per clip (one loop of the motion).
        fps: Frame rate of the clips.
        seed: Seed of the first subject; each subject's motion also uses its seed, so timing and joint
            angles vary a little between subjects.
        background: A name in ``BACKGROUNDS``; ``"plain"`` (default) keeps the known backdrop that
            silhouette metrics compare against.
    """

    subjects: int = 6
    motions: tuple[str, ...] = ("walk", "wave", "squat")
    width: int = 128
    height: int = 128
    frames: int = 48
    fps: float = 24.0
    seed: int = 0
    background: str = "plain"

    def __post_init__(self) -> None:
        for motion in self.motions:
            check_choice(motion, list_motions(), "motion", DataError)
        if not self.motions:
            raise DataError("give at least one motion")
        check_choice(self.background, BACKGROUNDS, "background", DataError)
        for name in ("subjects", "width", "height", "frames"):
            if getattr(self, name) <= 0:
                raise DataError(f"{name} must be positive, got {getattr(self, name)}")
        if self.seed < 0:
            raise DataError(f"seed must be >= 0, got {self.seed}")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "motions": list(self.motions)}


@dataclass(frozen=True)
class SynthSummary:
    """What a call to :func:`write_synthetic_dataset` did."""

    root: Path
    clips: int
    frames_written: int
    frames_skipped: int
    seconds: float


def subject_dir(root: Path, index: int) -> Path:
    return root / f"subject_{index:03d}"


def frame_paths(clip: Path, t: int) -> dict[str, Path]:
    """The image, mask and part-label files of frame ``t`` of a clip folder."""
    return {channel: clip / channel / FRAME_PATTERN.format(t) for channel in CHANNELS}


def write_synthetic_dataset(
    root: str | Path, config: SynthConfig, *, progress: bool = True, command: Sequence[str] | None = None
) -> SynthSummary:
    """Render ``config.subjects`` mannequins in every motion of ``config.motions`` into ``root``.

    Resumable: frames whose three files exist are skipped. A folder made with different settings is an
    error rather than a silent mix.

    Returns:
        A :class:`SynthSummary` with counts and the wall time.
    """
    root = Path(root)
    _check_same_config(root, config)
    clips = config.subjects * len(config.motions)
    total = clips * config.frames
    # Written first, so an interrupted run is recognised (and resumed only with the same settings).
    manifest = {"command": command, "seed": config.seed, "options": config.to_dict()}
    write_manifest(root, **manifest, outputs={"complete": False})
    start = time.perf_counter()
    written = skipped = 0
    with progress_bar(total=total, desc="rendering mannequins", unit="frame", disable=not progress) as bar:
        for i in range(config.subjects):
            seed = config.seed + i
            spec = MannequinSpec.sample(seed)
            folder = subject_dir(root, i)
            write_json_atomic(folder / SUBJECT_FILE, spec.to_dict())
            for motion in config.motions:
                done, new = _write_clip(folder / motion, spec, motion, seed, config)
                skipped += done
                written += new
                bar.update(done + new)
    seconds = time.perf_counter() - start
    write_manifest(
        root,
        **manifest,
        timings={"render": seconds},
        outputs={"complete": True, "clips": clips, "frames": total},
    )
    return SynthSummary(root, clips, written, skipped, seconds)


def _write_clip(
    clip: Path, spec: MannequinSpec, motion: str, seed: int, config: SynthConfig
) -> tuple[int, int]:
    """Render the missing frames of one clip, then its ``poses.json``; returns (already there, written)."""
    poses = make_motion(
        motion,
        frames=config.frames,
        fps=config.fps,
        width=config.width,
        height=config.height,
        proportions=spec.proportions,
        seed=seed,
    )
    for folder in {path.parent for path in frame_paths(clip, 0).values()}:
        sweep_temporaries(folder)  # what a killed earlier run left
    missing = [t for t in range(len(poses)) if not all(p.exists() for p in frame_paths(clip, t).values())]
    for t, frame in zip(
        missing, render_sequence(spec, poses[missing], background=config.background), strict=True
    ):
        paths = frame_paths(clip, t)
        write_image(paths["images"], frame.image)
        write_image(paths["masks"], frame.mask)
        write_image(paths["parts"], frame.parts)
    save_poses(clip / "poses.json", poses)
    return len(poses) - len(missing), len(missing)


def _check_same_config(root: Path, config: SynthConfig) -> None:
    manifest = root / MANIFEST_NAME
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file; give a folder for the dataset")
    if not manifest.exists():
        if root.exists() and any(root.iterdir()):
            raise DataError(f"{root} is not empty and holds no mannequin dataset; choose an empty folder")
        return
    try:
        previous = json.loads(manifest.read_text())["options"]
    except (json.JSONDecodeError, KeyError, OSError) as err:
        raise DataError(
            f"{manifest}: unreadable manifest ({err}); remove the folder or choose another"
        ) from None
    if previous != config.to_dict():
        changed = sorted(k for k in config.to_dict() if previous.get(k) != config.to_dict()[k])
        raise DataError(
            f"{root} was made with other settings ({', '.join(changed)} differ); "
            "use the same settings to resume, or choose another folder"
        )
