"""PATN's training pairs: two frames of the subject, the second in the first's place, with pose heatmaps."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from toolkit.data.datasets import Letterbox, image_to_tensor
from toolkit.data.subject import SubjectFrames
from toolkit.pose.encode import gaussian_heatmaps
from toolkit.pose.sequence import PoseSequence
from toolkit.pose.skeleton import BODY_18


def pose_heatmaps(poses: PoseSequence, sigma: float = 6.0) -> torch.Tensor:
    """``(T, 18, H, W)`` float32 Gaussian heatmaps in [0, 1] of ``poses`` on their canvas (BODY_18)."""
    body = poses.to_layout(BODY_18.name)
    return torch.from_numpy(gaussian_heatmaps(body.keypoints, body.width, body.height, sigma=sigma))


class SourceTargetPairs(Dataset):
    """Training pairs of PATN from one subject's frames, letterboxed into ``width x height``.

    Item ``i`` has frame ``i`` as its target. A key ``(i, draw)`` takes as source a frame other than ``i``
    drawn with ``numpy.random.default_rng(draw)``, so that a run and its resumed continuation see the same
    pairs; a plain index ``i`` (sample grids) takes the frame half the dataset away.

    Args:
        frames: The subject's frames.
        width, height: Network canvas.
        sigma: Heatmap standard deviation in pixels. Default 6.

    Items are dicts: ``source``, ``target`` ``(3, H, W)`` in [-1, 1]; ``source_pose``, ``target_pose``
    ``(18, H, W)`` in [0, 1]; ``index``.
    """

    def __init__(self, frames: SubjectFrames, width: int, height: int, sigma: float = 6.0) -> None:
        box = Letterbox(*frames.poses.canvas, width, height)
        self.images = np.stack([box.image(image) for image in frames.images])
        self.poses = box.poses(frames.poses).to_layout(BODY_18.name)
        self.sigma = sigma

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        index, draw = (key, None) if isinstance(key, (int, np.integer)) else key
        index, count = int(index), len(self)
        if draw is None:
            source = (index + count // 2) % count
        else:
            # A different frame when there is one: uniform over the other count - 1.
            source = int(np.random.default_rng(draw).integers(max(count - 1, 1)))
            source += int(count > 1 and source >= index)
        maps = pose_heatmaps(self.poses[[source, index]], self.sigma)
        return {
            "source": image_to_tensor(self.images[source]),
            "source_pose": maps[0],
            "target": image_to_tensor(self.images[index]),
            "target_pose": maps[1],
            "index": index,
        }
