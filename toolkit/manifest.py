"""``manifest.json``: what produced an output folder, so any result can be traced and reproduced."""

from __future__ import annotations

import platform
import shlex
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import write_json_atomic

MANIFEST_NAME = "manifest.json"

# Distributions whose versions decide the numbers an output holds.
_TRACKED = (
    "pose-transfer-toolkit",
    "torch",
    "diffusers",
    "transformers",
    "accelerate",
    "peft",
    "numpy",
    "opencv-python-headless",
    "pillow",
    "imageio-ffmpeg",
)


def versions() -> dict[str, str]:
    """Python and the installed versions of the tracked distributions (absent ones are left out).
    Reads package metadata only; nothing heavy is imported."""
    found = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_manifest(
    folder: str | Path,
    *,
    command: Sequence[str] | None = None,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    models: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    outputs: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/manifest.json`` atomically and return its path.

    Args:
        folder: The output folder.
        command: The command line; default ``sys.argv``.
        seed: The seed the outputs depend on, if any.
        options: The settings that shaped the outputs (JSON-safe).
        models: Which models (ids, paths, hashes) were used.
        timings: Seconds per stage.
        outputs: What was written (file names, counts).
    """
    argv = list(sys.argv if command is None else command)
    manifest = {
        "command": shlex.join(argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
        "seed": seed,
        "options": options or {},
        "models": models or {},
        "timings_s": {k: round(v, 3) for k, v in (timings or {}).items()},
        "outputs": outputs or {},
    }
    path = Path(folder) / MANIFEST_NAME
    write_json_atomic(path, manifest)
    return path
