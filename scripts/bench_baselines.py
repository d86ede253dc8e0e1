"""Inference speed of the GAN baselines on the CPU, against a plain per-frame loop measured in the same run.

For each size (default 128 and 256 px) a mannequin walks for ``--frames`` frames. Timed per size:

- ``reference``: the loop everyone writes first: for each pose, render its skeleton, run the pix2pix
  generator (the paper's ``unet_{size}``, ``ngf = 64``, eval mode, under ``no_grad``) on a batch of one,
  and convert the output to uint8;
- ``pix2pix eval-mode``: ``Pix2PixPose2Pics.transfer`` with ``inference="eval-mode"``: the skeletons
  encoded at once, frames batched ``--batch`` at a time under ``inference_mode``;
- ``pix2pix train-mode``: the paper's test time (dropout and batch statistics), one frame per call;
- ``knn`` and ``knn + flow``: retrieval from a 192-frame bank with thresholding, and with flow smoothing.

Speed does not depend on the weights, so the generator keeps its random init (no training needed). Reported:
frames per second and the speed-up over the reference. Each timing is the median of ``--repeats`` runs
after a warm-up; torch and OpenCV use ``--threads`` threads (default 1).

    python scripts/bench_baselines.py [--sizes 128 256] [--frames 24] [--batch 8] [--threads 1] [--json]
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

from baselines.knn import KnnRetrieval
from baselines.pix2pix import Pix2PixPose2Pics
from toolkit.data.datasets import encode_poses, mannequin_frames, tensor_to_images
from toolkit.pose.motions import make_motion


def reference_loop(method: Pix2PixPose2Pics, poses) -> np.ndarray:  # type: ignore[no-untyped-def]
    """One frame at a time: encode, generate, convert."""
    net = method.generator.eval()  # type: ignore[union-attr]
    frames = []
    with torch.no_grad():
        for t in range(len(poses)):
            condition = torch.from_numpy(encode_poses(poses[t], method.config.encoding))
            frames.append(tensor_to_images(net(condition))[0])
    return np.stack(frames)


def bench_size(size: int, frames: int, batch: int, repeats: int) -> dict[str, object]:
    poses = make_motion("run", frames=frames, width=size, height=size, seed=1)
    bank = mannequin_frames(0, motions=("walk", "wave", "squat", "dance"), frames=48, size=size)
    timings: dict[str, float] = {}

    method = Pix2PixPose2Pics({"size": size, "inference": "eval-mode", "inference_batch": batch})
    method.generator = method.build_generator()
    timings["reference"], expected = median_seconds(lambda: reference_loop(method, poses), repeats)
    timings["pix2pix eval-mode"], batched = median_seconds(
        lambda: method.transfer(bank.images[:1], bank.poses[:1], poses), repeats
    )
    # The batched frames are the loop's, up to float rounding of batched convolutions.
    assert np.abs(batched.astype(int) - expected).max() <= 2
    paper = Pix2PixPose2Pics({"size": size, "inference": "train-mode"})
    paper.generator = method.generator
    timings["pix2pix train-mode"], _ = median_seconds(
        lambda: paper.transfer(bank.images[:1], bank.poses[:1], poses), repeats
    )
    for label, settings in (("knn", {}), ("knn + flow", {"smoothing": "flow"})):
        knn = KnnRetrieval(settings)
        knn.fit(bank)
        timings[label], _ = median_seconds(
            lambda knn=knn: knn.transfer(bank.images[:1], bank.poses[:1], poses), repeats
        )
    return {
        "size": size,
        "frames": frames,
        "fps": {label: frames / seconds for label, seconds in timings.items()},
        "speedup_vs_reference": {label: timings["reference"] / seconds for label, seconds in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="image sizes: 64, 128, 256")
    parser.add_argument("--frames", type=int, default=24, help="frames per size (default 24)")
    parser.add_argument(
        "--batch", type=int, default=8, help="frames per generator call in eval-mode (default 8)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    torch.manual_seed(0)

    results = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
        },  # fmt: skip
        "sizes": [bench_size(size, args.frames, args.batch, args.repeats) for size in args.sizes],
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"GAN baselines, inference on the CPU ({args.threads} thread(s), torch {torch.__version__})")
    for entry in results["sizes"]:
        print(f"\n{entry['size']} px, {entry['frames']} frames     fps   vs reference")
        for label, fps in entry["fps"].items():
            print(f"  {label:<20} {fps:8.2f}   {entry['speedup_vs_reference'][label]:6.2f}x")


if __name__ == "__main__":
    main()
