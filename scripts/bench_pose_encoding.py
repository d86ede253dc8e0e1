"""Time the pose encoders against references measured in the same run, on the same inputs.

1. ``gaussian_heatmaps``, batched: 256 poses x 18 joints at 256 x 176 (PATN's DeepFashion size), against a
   per-joint NumPy loop in the style of PATN's ``cords_to_map`` (a meshgrid and a 2-D exponential per
   joint, float64). The outputs must agree.
2. ``render_openpose`` per frame at 512 x 512 against controlnet-aux's ``draw_bodypose`` (when installed),
   whose keypoint lists are built outside the timed region. The images must be identical.

Each timing is the median of ``--repeats`` runs after one warm-up run.

    python scripts/bench_pose_encoding.py [--threads N] [--repeats R] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from _timing import median_seconds

from toolkit.pose.encode import gaussian_heatmaps, render_openpose

# The controlnet-aux reference lives with the tests that check render_openpose against it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _controlnet_aux_ref import controlnet_keypoints, load_draw_bodypose  # noqa: E402

NUM_POSES, NUM_JOINTS, HEIGHT, WIDTH, SIGMA = 256, 18, 256, 176, 6.0
RENDER_FRAMES, RENDER_SIZE = 100, 512


def random_poses(rng: np.random.Generator, count: int, height: int, width: int) -> np.ndarray:
    """``(count, 18, 3)`` float32 poses on the canvas, a tenth of the joints missing."""
    poses = np.empty((count, NUM_JOINTS, 3), dtype=np.float32)
    poses[..., 0] = rng.uniform(0, width, (count, NUM_JOINTS))
    poses[..., 1] = rng.uniform(0, height, (count, NUM_JOINTS))
    poses[..., 2] = 1.0
    poses[rng.random((count, NUM_JOINTS)) < 0.1] = (np.nan, np.nan, 0.0)
    return poses


def patn_style_heatmaps(poses: np.ndarray, height: int, width: int, sigma: float) -> list[np.ndarray]:
    """PATN's ``cords_to_map`` for each pose: ``(H, W, J)`` float32, filled one joint at a time."""
    maps = []
    for pose in poses:
        result = np.zeros((height, width, len(pose)), dtype=np.float32)
        for j, (x, y, confidence) in enumerate(pose):
            if confidence <= 0:
                continue
            xx, yy = np.meshgrid(np.arange(width), np.arange(height))
            result[..., j] = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma**2))
        maps.append(result)
    return maps


def bench_heatmaps(poses: np.ndarray, repeats: int) -> dict[str, float]:
    ours_s, ours = median_seconds(lambda: gaussian_heatmaps(poses, WIDTH, HEIGHT, SIGMA), repeats)
    reference_s, reference = median_seconds(
        lambda: patn_style_heatmaps(poses, HEIGHT, WIDTH, SIGMA), max(2, repeats // 2)
    )
    max_diff = max(
        float(np.abs(o - r.transpose(2, 0, 1)).max()) for o, r in zip(ours, reference, strict=True)
    )
    if max_diff > 1e-6:
        raise SystemExit(f"gaussian_heatmaps disagrees with the PATN-style loop: max |diff| {max_diff:.3g}")
    return {
        "ours_s": ours_s,
        "reference_s": reference_s,
        "speedup": reference_s / ours_s,
        "max_abs_diff": max_diff,
    }


def bench_render(poses: np.ndarray, repeats: int) -> dict[str, float] | None:
    draw_bodypose = load_draw_bodypose()
    if draw_bodypose is None:
        return None
    size = RENDER_SIZE
    keypoint_lists = [controlnet_keypoints(pose, size, size) for pose in poses]

    def reference() -> list[np.ndarray]:
        return [draw_bodypose(np.zeros((size, size, 3), np.uint8), keypoints) for keypoints in keypoint_lists]

    ours_s, ours = median_seconds(lambda: render_openpose(poses, size, size), repeats)
    reference_s, expected = median_seconds(reference, repeats)
    if not np.array_equal(ours, np.stack(expected)):
        raise SystemExit("render_openpose differs from controlnet-aux's draw_bodypose")
    frames = len(poses)
    return {
        "ours_ms_per_frame": 1e3 * ours_s / frames,
        "reference_ms_per_frame": 1e3 * reference_s / frames,
        "speedup": reference_s / ours_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    results = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "heatmaps": bench_heatmaps(random_poses(rng, NUM_POSES, HEIGHT, WIDTH), args.repeats),
        "render": bench_render(random_poses(rng, RENDER_FRAMES, RENDER_SIZE, RENDER_SIZE), args.repeats),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return

    heat, render = results["heatmaps"], results["render"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s)")
    print(f"gaussian_heatmaps: {NUM_POSES} poses x {NUM_JOINTS} joints at {HEIGHT}x{WIDTH}, sigma {SIGMA:g}")
    print(f"  ours, batched                    {heat['ours_s'] * 1e3:9.1f} ms")
    print(f"  PATN-style joint loop            {heat['reference_s'] * 1e3:9.1f} ms")
    print(f"  speed-up                         {heat['speedup']:9.1f}x")
    print(f"  outputs agree to                 {heat['max_abs_diff']:9.1e}")
    if render is None:
        print("render_openpose: controlnet-aux is not installed, no reference to compare with")
        return
    print(f"render_openpose: {RENDER_FRAMES} frames at {RENDER_SIZE}x{RENDER_SIZE}, pixel-identical")
    print(f"  ours                             {render['ours_ms_per_frame']:9.3f} ms/frame")
    print(f"  controlnet-aux draw_bodypose     {render['reference_ms_per_frame']:9.3f} ms/frame")
    print(f"  speed-up                         {render['speedup']:9.1f}x")


if __name__ == "__main__":
    main()
