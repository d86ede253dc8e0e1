"""Time the mannequin renderer on one CPU core, against OpenPose skeleton drawing measured in the same run.

For each canvas size (default 128, 256 and 512 pixels square) a subject walks for ``--frames`` frames
(``make_motion("walk")``, at its default three-quarter view). Reported per size: frames per second of
``render_sequence`` (image, mask and part labels), milliseconds per frame, and the cost relative to
``render_openpose`` drawing the same poses at the same size, the conditioning image every training pair
also needs. Each timing is the median of ``--repeats`` runs after one warm-up run; torch and OpenCV are
pinned to one thread unless ``--threads`` says otherwise.

    python scripts/bench_renderer.py [--sizes 128 256 512] [--frames 200] [--seed 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import cv2
import numpy as np
import torch
from _timing import median_seconds

from toolkit.data.synthetic import MannequinSpec, render_sequence
from toolkit.pose.encode import render_openpose
from toolkit.pose.motions import make_motion


def bench_size(spec: MannequinSpec, size: int, frames: int, repeats: int) -> dict[str, object]:
    poses = make_motion("walk", frames=frames, width=size, height=size, proportions=spec.proportions)
    ours_s, _ = median_seconds(lambda: sum(1 for _ in render_sequence(spec, poses)), repeats)
    skeleton_s, _ = median_seconds(lambda: render_openpose(poses.keypoints, size, size), repeats)
    return {
        "size": size,
        "frames": frames,
        "fps": frames / ours_s,
        "ms_per_frame": 1e3 * ours_s / frames,
        "openpose_ms_per_frame": 1e3 * skeleton_s / frames,
        "cost_vs_openpose": ours_s / skeleton_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="square canvas sizes")
    parser.add_argument("--frames", type=int, default=200, help="frames per size (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="subject seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    spec = MannequinSpec.sample(args.seed)
    results = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "python": platform.python_version(),
        },
        "subject": {"seed": args.seed, "shirt": spec.shirt.pattern, "trousers": spec.trousers.pattern},
        "sizes": [bench_size(spec, size, args.frames, args.repeats) for size in args.sizes],
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return

    subject = f"subject seed {args.seed} ({spec.shirt.pattern} shirt, {spec.trousers.pattern} trousers)"
    print(f"mannequin renderer, {args.threads} thread(s), {args.frames} walking frames, {subject}")
    print(f"{'size':>9} {'fps':>8} {'ms/frame':>9} {'openpose ms/frame':>18} {'cost vs openpose':>17}")
    for row in results["sizes"]:
        size = f"{row['size']}x{row['size']}"
        print(
            f"{size:>9} {row['fps']:8.0f} {row['ms_per_frame']:9.2f} {row['openpose_ms_per_frame']:18.2f} "
            f"{row['cost_vs_openpose']:16.1f}x"
        )


if __name__ == "__main__":
    main()
