"""controlnet-aux's ``draw_bodypose``, the reference ``render_openpose`` must match pixel for pixel.

``import controlnet_aux`` fails on CPU-only machines (its package ``__init__`` imports torchvision), and
``open_pose/util.py`` imports ``open_pose/body.py``, which needs scipy. So ``util.py`` is loaded on its own,
by file path, under stand-in parent packages and a stand-in ``body`` module that defines only the two
names ``util.py`` imports from it. The stand-ins live in ``sys.modules`` only while ``util.py`` loads.

Used by ``tests/test_pose_encode.py`` and ``scripts/bench_pose_encoding.py``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Keypoint(NamedTuple):
    """controlnet-aux's keypoint: x, y normalised to [0, 1] of the canvas."""

    x: float
    y: float
    score: float = 1.0
    id: int = -1


class BodyResult(NamedTuple):
    keypoints: list[Keypoint | None]
    total_score: float = 0.0
    total_parts: int = 0


DrawBodypose = Callable[[np.ndarray, list[Keypoint | None]], np.ndarray]


def draw_bodypose_path() -> Path | None:
    """Where the installed ``controlnet_aux/open_pose/util.py`` is, without importing the package."""
    spec = importlib.util.find_spec("controlnet_aux")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "open_pose" / "util.py"
    return path if path.is_file() else None


def load_draw_bodypose() -> DrawBodypose | None:
    """controlnet-aux's ``draw_bodypose(canvas, keypoints)``, or None when controlnet-aux is not installed."""
    path = draw_bodypose_path()
    if path is None:
        return None
    package_dir = path.parent.parent
    stand_ins = {
        "controlnet_aux": _package("controlnet_aux", package_dir),
        "controlnet_aux.open_pose": _package("controlnet_aux.open_pose", package_dir / "open_pose"),
        "controlnet_aux.open_pose.body": types.ModuleType("controlnet_aux.open_pose.body"),
    }
    stand_ins["controlnet_aux.open_pose.body"].__dict__.update(Keypoint=Keypoint, BodyResult=BodyResult)
    name = "controlnet_aux.open_pose.util"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = {key: sys.modules.get(key) for key in [*stand_ins, name]}
    try:
        sys.modules.update(stand_ins)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        for key, previous in saved.items():
            if previous is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = previous
    return module.draw_bodypose


def controlnet_keypoints(keypoints: np.ndarray, width: int, height: int) -> list[Keypoint | None]:
    """One ``(18, 3)`` pose in pixels as a user hands it to ``draw_bodypose``: x / W and y / H computed in
    the keypoints' own dtype, None for a missing joint (confidence 0 or non-finite x, y)."""
    normalised_x = keypoints[:, 0] / width
    normalised_y = keypoints[:, 1] / height
    return [
        Keypoint(float(x), float(y)) if c > 0 and np.isfinite(x) and np.isfinite(y) else None
        for x, y, c in zip(normalised_x, normalised_y, keypoints[:, 2], strict=True)
    ]


def reference_render(
    draw_bodypose: DrawBodypose, keypoints: np.ndarray, width: int, height: int
) -> np.ndarray:
    """``(H, W, 3)`` uint8: ``draw_bodypose`` on a black canvas for one ``(18, 3)`` pose in pixels."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    return draw_bodypose(canvas, controlnet_keypoints(keypoints, width, height))


def _package(name: str, directory: Path) -> types.ModuleType:
    package = types.ModuleType(name)
    package.__path__ = [str(directory)]
    return package
