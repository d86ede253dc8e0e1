"""The ``make demo`` job: a walking mannequin beside its skeleton, written as videos and a contact sheet."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .data.mannequin import MannequinSpec, render_sequence
from .data.media import grid, sheet_indices, side_by_side, write_image, write_video
from .manifest import write_manifest
from .pose.encode import render_openpose
from .pose.io import save_poses
from .pose.motions import make_motion


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo.

    Args:
        motion: Motion name (default ``"walk"``).
        frames: Frames in the loop (default 48).
        size: Square canvas side in pixels (default 512).
        subject: Mannequin seed (default 0).
        sheet_frames: Frames on the contact sheet (default 8).
    """

    motion: str = "walk"
    frames: int = 48
    size: int = 512
    subject: int = 0
    sheet_frames: int = 8


def run_demo(
    out: str | Path, config: DemoConfig = DemoConfig(), *, command: Sequence[str] | None = None
) -> dict[str, Path]:
    """Write ``walk.json``, ``skeleton.mp4``, ``subject.mp4``, ``side_by_side.mp4``, ``contact_sheet.png`` and
    ``manifest.json`` into ``out``; returns the written paths by name."""
    out = Path(out)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    # 1. The poses: one loop of a procedural motion.
    poses = make_motion(config.motion, frames=config.frames, width=config.size, height=config.size)
    paths = {"poses": save_poses(out / f"{config.motion}.json", poses)}
    timings["poses"], clock = time.perf_counter() - clock, time.perf_counter()

    # 2. Skeletons as ControlNet sees them, and the mannequin in the same poses.
    skeletons = list(render_openpose(poses.keypoints, poses.width, poses.height))
    spec = MannequinSpec.sample(config.subject)
    subject = [frame.image for frame in render_sequence(spec, poses)]
    timings["render"], clock = time.perf_counter() - clock, time.perf_counter()

    # 3. Videos and the contact sheet.
    paths["skeleton"] = write_video(out / "skeleton.mp4", skeletons, poses.fps)
    paths["subject"] = write_video(out / "subject.mp4", subject, poses.fps)
    pairs = side_by_side({"pose": skeletons, f"mannequin {config.subject}": subject})
    paths["side_by_side"] = write_video(out / "side_by_side.mp4", pairs, poses.fps)
    picks = sheet_indices(config.frames, config.sheet_frames)
    sheet = grid(
        [[skeletons[t] for t in picks], [subject[t] for t in picks]],
        row_labels=["pose", "mannequin"],
        column_labels=[f"frame {t}" for t in picks],
    )
    paths["contact_sheet"] = out / "contact_sheet.png"
    write_image(paths["contact_sheet"], sheet)
    timings["write"] = time.perf_counter() - clock

    paths["manifest"] = write_manifest(
        out,
        command=command,
        seed=config.subject,
        options={"motion": config.motion, "frames": config.frames, "size": config.size},
        models={"subject": spec.to_dict()},
        timings=timings,
        outputs={name: path.name for name, path in paths.items()},
    )
    return paths
