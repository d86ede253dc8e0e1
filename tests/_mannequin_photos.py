"""Photos of one procedural mannequin in a few walk poses: a subject to upload in the web app's tests."""

from __future__ import annotations

from pathlib import Path

from toolkit.data.mannequin import MannequinSpec, render_sequence
from toolkit.data.media import write_image
from toolkit.pose.motions import make_motion


def mannequin_photos(folder: Path, count: int = 5, size: int = 128, seed: int = 3) -> list[Path]:
    """Write ``count`` PNG photos (``size`` px square) of mannequin ``seed`` walking; returns their paths."""
    poses = make_motion("walk", frames=count, width=size, height=size, cycles=1)
    paths = []
    for i, frame in enumerate(render_sequence(MannequinSpec.sample(seed), poses)):
        paths.append(folder / f"photo_{i:02d}.png")
        write_image(paths[-1], frame.image)
    return paths
