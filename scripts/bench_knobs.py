"""Speed knobs of generation, each measured against its own off switch in the same run, with what it
changes in the output (SSIM of the frames against those with the knob off).

Knobs: ``--guidance-stop`` (classifier-free guidance on the first fraction of the steps only) and
``--cache-interval`` (the deep UNet blocks and the ControlNet on every K-th step only) and ``--control-once``
(the ControlNet on the conditional half only). The model
is the packaged ``mini`` at 128 px (or ``--base tiny``), a walk of ``--frames`` frames, UniPC, guidance 5.
Seconds are CPU seconds of this process (``time.process_time``), stable when other jobs share the cores.

    python scripts/bench_knobs.py [--base mini] [--frames 8] [--steps 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from toolkit.diffusion.pipeline import PoseTransferPipeline
from toolkit.eval.metrics.ssim import ssim_per_frame
from toolkit.pose.motions import make_motion

KNOBS: dict[str, dict[str, object]] = {
    "guidance-stop 0.5": {"guidance_stop": 0.5},
    "guidance-stop 0.25": {"guidance_stop": 0.25},
    "cache-interval 2": {"cache_interval": 2},
    "cache-interval 3": {"cache_interval": 3},
    "control-once": {"control_once": True},
    "cache-interval 3 + control-once": {"cache_interval": 3, "control_once": True},
    "cache-interval 3 + guidance-stop 0.5": {"cache_interval": 3, "guidance_stop": 0.5},
}


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame SSIM of two ``(T, H, W, 3)`` uint8 clips (data range 255)."""
    to = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).double()  # noqa: E731
    return ssim_per_frame(to(a), to(b), torch.full((len(a),), 255.0, dtype=torch.float64)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="mini", help="mini (default) or tiny")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = PoseTransferPipeline.from_pretrained(args.base)
    width, height = pipe.size if args.base == "mini" else (64, 64)
    poses = make_motion("walk", frames=args.frames, width=width, height=height)
    common = dict(
        prompt="a mannequin", guidance_scale=5.0, num_inference_steps=args.steps, size=(width, height)
    )

    def timed(**knob: object) -> tuple[float, np.ndarray]:
        start = time.process_time()
        frames = pipe(poses, progress=False, **common, **knob)  # type: ignore[arg-type]
        return time.process_time() - start, frames

    timed()  # warm-up
    off_s, off = timed()
    rows = [{"knob": "off", "seconds": off_s, "speedup": 1.0, "ssim_vs_off": 1.0}]
    for name, knob in KNOBS.items():
        seconds, frames = timed(**knob)
        similarity = float(np.mean(ssim(frames, off)))
        rows.append({"knob": name, "seconds": seconds, "speedup": off_s / seconds, "ssim_vs_off": similarity})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{args.base}, {args.frames} frames at {width}x{height}, {args.steps} steps, guidance 5 (CPU s)\n")
    print("| knob | seconds | speed-up | SSIM against off |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['knob']} | {row['seconds']:.1f} | {row['speedup']:.2f}x | {row['ssim_vs_off']:.3f} |")


if __name__ == "__main__":
    main()
