"""What a method costs to run: seconds per frame and peak memory.

with measure(frames=len(poses), device="cuda") as cost:
    frames = method.transfer(source_images, source_poses, target_poses)
print(cost.seconds_per_frame, cost.peak_rss_mib, cost.peak_cuda_mib)
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import torch

_MIB = 1024 * 1024


def peak_memory(device: str | torch.device | None = None) -> dict[str, float | None]:
    """Peak memory so far, in MiB.

    Returns:
        ``{"rss_mib": ..., "cuda_mib": ...}``: the process's peak resident set size since it started
        (``resource.getrusage``; it never goes down), and ``torch.cuda.max_memory_allocated`` on ``device``
        since the last reset of CUDA's peak statistics, or None for a non-CUDA device.
    """
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    rss_mib = rss / _MIB if sys.platform == "darwin" else rss / 1024
    device = torch.device(device) if device is not None else None
    cuda = device is not None and device.type == "cuda"
    return {"rss_mib": rss_mib, "cuda_mib": torch.cuda.max_memory_allocated(device) / _MIB if cuda else None}


@dataclass
class Cost:
    """Filled in by :func:`measure` when its block ends.

    Attributes:
        seconds: Wall-clock seconds of the block (after synchronising CUDA).
        frames: Frames the block produced or scored, if given.
        seconds_per_frame: ``seconds / frames``, or None without ``frames``.
        peak_rss_mib: Process peak RSS at the end of the block (a high-water mark since the process
            started, so it bounds the block's own peak from above).
        peak_cuda_mib: Peak CUDA memory allocated by torch during the block, or None off CUDA.
    """

    seconds: float = 0.0
    frames: int | None = None
    seconds_per_frame: float | None = None
    peak_rss_mib: float = 0.0
    peak_cuda_mib: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def measure(frames: int | None = None, device: str | torch.device | None = None) -> Iterator[Cost]:
    """Time a block and record peak memory; the yielded :class:`Cost` is filled in when the block ends.

    Args:
        frames: Number of frames the block handles, for ``seconds_per_frame``.
        device: The torch device the block runs on; on CUDA, its peak statistics are reset first and the
            device is synchronised before the clock stops.
    """
    device = torch.device(device) if device is not None else None
    cuda = device is not None and device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    cost = Cost(frames=frames)
    start = time.perf_counter()
    try:
        yield cost
    finally:
        if cuda:
            torch.cuda.synchronize(device)
        cost.seconds = time.perf_counter() - start
        if frames:
            cost.seconds_per_frame = cost.seconds / frames
        memory = peak_memory(device)
        cost.peak_rss_mib = float(memory["rss_mib"] or 0.0)
        cost.peak_cuda_mib = memory["cuda_mib"]
