"""OpenPose body back-end: controlnet-aux's port of the CMU body model, with the user's weights.

This is the annotator ControlNet's OpenPose conditioning was trained with, so its skeletons match what the
ControlNet expects. It finds every person in an image (part affinity fields group the joints), but it is
slow on a CPU (about a second per frame) and its weights, ``body_pose_model.pth`` from
``lllyasviel/Annotators``, must be on disk: nothing is downloaded.

``import controlnet_aux`` fails without torchvision (its package ``__init__`` imports it), so the three
files the body model needs, ``open_pose/{util,body,model}.py``, are loaded by path under a private package
name; none of them imports torchvision.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..skeleton import BODY_18
from .base import Detector, DetectorError, checked_confidence, checked_image

# controlnet-aux already drops heatmap peaks below 0.1 (its ``thre1``); keep everything it reports.
DEFAULT_MIN_CONFIDENCE = 0.1
WEIGHTS_HINT = "PATH to body_pose_model.pth from the Hugging Face repository lllyasviel/Annotators"
_PACKAGE = "_toolkit_controlnet_aux_open_pose"


def people_from_openpose(
    candidate: np.ndarray, subset: np.ndarray, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE
) -> list[np.ndarray]:
    """Turn the body model's ``(candidate, subset)`` output into BODY_18 people.

    Args:
        candidate: ``(N, 4)`` heatmap peaks: x, y (pixels), score, id. May be empty.
        subset: ``(P, 20)`` one row per person: indices into ``candidate`` for the 18 joints (-1 = not
            found), then the total score and the number of joints.
        min_confidence: Joints with a lower peak score are missing. Default 0.1.

    Returns:
        One ``(18, 3)`` float32 pose per person that keeps at least one joint, highest total score first.
    """
    candidate = np.asarray(candidate, dtype=np.float32).reshape(-1, 4)
    people = []
    for row in sorted(np.asarray(subset).reshape(-1, 20), key=lambda row: -row[18]):
        index = row[: BODY_18.num_joints].astype(int)  # (18,)
        found = index >= 0
        pose = np.full((BODY_18.num_joints, 3), np.nan, dtype=np.float32)
        pose[:, 2] = 0.0
        pose[found] = candidate[index[found], :3]
        weak = pose[:, 2] < min_confidence
        pose[weak] = (np.nan, np.nan, 0.0)
        if (pose[:, 2] > 0).any():
            people.append(pose)
    return people


class OpenPoseDetector(Detector):
    """controlnet-aux's OpenPose body estimator (single scale, as ControlNet's annotator runs it).

    Args:
        weights: Path to ``body_pose_model.pth`` (the original key names, or a state dict of
            controlnet-aux's ``bodypose_model``). Required.
        video: Accepted for a uniform interface; OpenPose detects every frame on its own.
        min_confidence: Joints with a lower heatmap peak are missing. Default 0.1.
        detect_resolution: The image is resized so its shorter side has this many pixels before
            detection, as controlnet-aux does (the heatmaps are upsampled to this size). Default 512.
        device: Torch device of the network. Default ``"cpu"``.

    Raises:
        DetectorError: no weights given, the file is missing or is not the body model, or controlnet-aux
            (or torch, scipy) is not installed.
    """

    name = "openpose"
    max_people = None
    default_min_confidence = DEFAULT_MIN_CONFIDENCE

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        video: bool = False,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        detect_resolution: int = 512,
        device: str = "cpu",
    ) -> None:
        self.min_confidence = checked_confidence(min_confidence)
        if detect_resolution < 64:
            raise DetectorError(f"detect_resolution must be at least 64 pixels, got {detect_resolution}")
        self.detect_resolution = detect_resolution
        if weights is None:
            raise DetectorError(f"the openpose detector needs its model: pass --weights {WEIGHTS_HINT}")
        weights = Path(weights)
        if not weights.is_file():
            raise DetectorError(f"{weights}: no such OpenPose model file; pass --weights {WEIGHTS_HINT}")
        body_module, model_module = _open_pose_modules()
        network = _load_network(model_module.bodypose_model, weights, device)
        # Body.__init__ would torch.load the file itself, without weights_only or a map_location.
        self._body: Any = body_module.Body.__new__(body_module.Body)
        self._body.model = network

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        """Detect every person in ``image`` ``(H, W, 3)`` uint8 RGB; returns ``(18, 3)`` poses, best first."""
        import torch

        if self._body is None:
            raise DetectorError("this OpenPose detector is closed; create a new one")
        image = checked_image(image)
        height, width = image.shape[:2]
        scale = self.detect_resolution / min(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        with torch.no_grad():
            candidate, subset = self._body(np.ascontiguousarray(resized[:, :, ::-1]))  # the model wants BGR
        people = people_from_openpose(candidate, subset, min_confidence=self.min_confidence)
        for pose in people:
            # Peaks are pixel indices of the resized image; map pixel centres back to the original.
            pose[:, 0] = (pose[:, 0] + 0.5) * (width / size[0]) - 0.5
            pose[:, 1] = (pose[:, 1] + 0.5) * (height / size[1]) - 0.5
        return people

    def close(self) -> None:
        self._body = None


def _load_network(model_class: type, weights: Path, device: str) -> Any:
    """``bodypose_model`` with the weights in ``weights``, in eval mode on ``device``."""
    from ...weights import load_tensors

    state = load_tensors(weights, what="OpenPose body weights", error=DetectorError)
    network = model_class()
    expected = network.state_dict()
    if not isinstance(state, dict):
        raise DetectorError(f"{weights}: expected a state dict, got {type(state).__name__}")
    if set(state) != set(expected):
        # The original file drops the stage prefix: "conv1_1.weight" for "model0.conv1_1.weight".
        state = {name: state.get(name.split(".", 1)[1]) for name in expected}
        absent = [name for name, value in state.items() if value is None]
        if absent:
            raise DetectorError(
                f"{weights}: not an OpenPose body model (no {absent[0].split('.', 1)[1]!r}); "
                f"pass --weights {WEIGHTS_HINT}"
            )
    try:
        network.load_state_dict(state)
    except RuntimeError as err:
        raise DetectorError(f"{weights}: weights do not fit the OpenPose body model ({err})") from None
    return network.to(device).eval()


@functools.cache
def _open_pose_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """controlnet-aux's ``open_pose.body`` and ``.model``, loaded without the package ``__init__``."""
    spec = importlib.util.find_spec("controlnet_aux")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError(
            "the openpose detector needs controlnet-aux: pip install --no-deps controlnet-aux==0.0.10 "
            "(--no-deps: it declares torchvision, which it does not need here)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "open_pose"
    package = types.ModuleType(_PACKAGE)
    package.__path__ = [str(folder)]
    sys.modules[_PACKAGE] = package
    try:
        with warnings.catch_warnings():
            # body.py imports gaussian_filter from scipy.ndimage.filters, deprecated since SciPy 1.8.
            warnings.simplefilter("ignore", DeprecationWarning)
            # util.py first: it and body.py import each other, and only this order resolves.
            importlib.import_module(f"{_PACKAGE}.util")
            body = importlib.import_module(f"{_PACKAGE}.body")
            model = importlib.import_module(f"{_PACKAGE}.model")
    except ImportError as err:
        for name in [key for key in sys.modules if key.split(".")[0] == _PACKAGE]:
            del sys.modules[name]
        raise DetectorError(
            f"cannot load controlnet-aux's OpenPose body model from {folder}: {err}; "
            f"install {err.name or 'the missing package'}"
        ) from None
    return body, model
