"""Time scoring 100 frames at 128 px with every available metric, FID included, against scikit-image's SSIM
measured on the same frames in the same run.

The frames: mannequin subject 0 running (the truth, with its masks, poses and the known backdrop) and
subject 1 in the same poses (the "generated" frames), so every metric has real work to do. Scoring goes
through the harness's own path (``toolkit.eval.scoring.score``): frame metrics on all frames at once,
sequence metrics per clip, set metrics on the whole set. The networks (Inception, the pose detector) are
loaded first by scoring 4 other frames, and that warm-up is reported apart; the timed pass is one pass of
each metric in registry order, so KID reuses the Inception features FID computed, as in a real run.
Target: under 30 s for 100 frames on CPU. CPU seconds (all threads) are printed beside wall seconds: on a
shared machine the wall time also counts waiting for cores.

    python scripts/bench_eval.py [--frames 100] [--size 128] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from _timing import median_seconds
from skimage.metrics import structural_similarity

from toolkit.data.mannequin import DEFAULT_BACKGROUND, MannequinSpec, render_sequence
from toolkit.eval.benchmarks import EvalClip
from toolkit.eval.harness import build_metrics
from toolkit.eval.metrics.inception import FEATURE_CACHE_ENV
from toolkit.eval.scoring import ClipOutput, score
from toolkit.pose.motions import make_motion

TARGET_SECONDS = 30.0


def make_clip(frames: int, size: int) -> ClipOutput:
    """Subject 0 running (the truth) and subject 1 in the same poses (the output to score)."""
    truth_spec, other_spec = MannequinSpec.sample(0), MannequinSpec.sample(1)
    poses = make_motion("run", frames=frames, width=size, height=size, proportions=truth_spec.proportions)
    truth = list(render_sequence(truth_spec, poses))
    generated = np.stack([frame.image for frame in render_sequence(other_spec, poses)])
    images = np.stack([frame.image for frame in truth])
    masks = np.stack([frame.mask for frame in truth])
    materials = np.stack([frame.materials for frame in truth])
    backdrop = np.full((size, size, 3), DEFAULT_BACKGROUND, np.uint8)
    clip = EvalClip(
        "run", images[:1], poses[0], poses, images, masks=masks, materials=materials, background=backdrop
    )
    return ClipOutput("subject_000/run", "frames/subject_000/run", clip, generated, 0.0, False)


def skimage_ssim(clip: ClipOutput) -> float:
    """Mean SSIM over frames with scikit-image's defaults (7 x 7 uniform window, per channel)."""
    return float(
        np.mean(
            [
                structural_similarity(g, t, channel_axis=-1)
                for g, t in zip(clip.generated, clip.clip.truth, strict=True)
            ]
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=100, help="frames to score (default 100)")
    parser.add_argument("--size", type=int, default=128, help="square frame size in pixels (default 128)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    # Inception features are kept on disk per frame set; a second run would time the cache, not FID.
    os.environ[FEATURE_CACHE_ENV] = ""

    clip = make_clip(args.frames, args.size)
    metrics = build_metrics(None)
    # Load the networks on other frames, so the timed pass pays every feature computation but no loading.
    start = time.perf_counter()
    score([make_clip(4, args.size)], metrics)
    warm_up = time.perf_counter() - start
    seconds, cpu_seconds, scores = {}, {}, {}
    for metric in metrics:
        start, cpu_start = time.perf_counter(), time.process_time()
        scores.update(score([clip], [metric]))
        seconds[metric.name] = time.perf_counter() - start
        cpu_seconds[metric.name] = time.process_time() - cpu_start
    total = sum(seconds.values())
    reference, _ = median_seconds(lambda: skimage_ssim(clip), 3)

    results = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "frames": args.frames,
        "size": args.size,
        "seconds": total,
        "cpu_seconds": sum(cpu_seconds.values()),
        "warm_up_seconds": warm_up,
        "target_seconds": TARGET_SECONDS,
        "skimage_ssim_seconds": reference,
        "ratio_vs_skimage_ssim": total / reference,
        "metrics": {
            name: {
                "seconds": seconds[name],
                "cpu_seconds": cpu_seconds[name],
                "available": scores[name].available,
                "value": scores[name].value if scores[name].available else None,
                "reason": scores[name].reason,
            }
            for name in seconds
        },
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"scoring {args.frames} frames at {args.size}x{args.size} on {os.cpu_count()} CPU core(s), "
        f"{torch.get_num_threads()} torch thread(s); networks loaded beforehand in {warm_up:.1f} s"
    )
    print(f"{'metric':>16} {'wall s':>8} {'CPU s':>8}  value")
    for name, entry in results["metrics"].items():
        shown = f"{entry['value']:.4g}" if entry["available"] else f"unavailable ({entry['reason']})"
        print(f"{name:>16} {entry['seconds']:8.2f} {entry['cpu_seconds']:8.2f}  {shown}")
    verdict = "under" if total < TARGET_SECONDS else "OVER"
    cpu = results["cpu_seconds"]
    print(f"{'all metrics':>16} {total:8.2f} {cpu:8.2f}  {verdict} the {TARGET_SECONDS:.0f} s target (wall)")
    print(f"{'skimage SSIM':>16} {reference:8.2f}  reference; all metrics cost {total / reference:.0f}x it")


if __name__ == "__main__":
    main()
