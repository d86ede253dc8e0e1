"""Time batched generation against a plain per-frame diffusers loop, measured in the same run.

Both sides render the same ``--frames`` walking poses with the same tiny random-weight SD + ControlNet
pipeline (``toolkit.diffusion.tiny``), the same sampler and number of steps, and both write PNG frames:

- **loop**: ``pipe(prompt, image=skeleton, negative_prompt=..., generator=...)`` once per frame, the way a
  diffusers user would write it (the prompt is re-encoded and the pipeline set up for every frame);
- **ours**: the same weights with the default speed options (``apply_speed``: channels-last layout, VAE
  slicing), ``generate_frames`` with ``--batch`` frames per call and the prompt encoded once, for the
  ``shared-noise`` mechanism and for the default ``cross-frame`` one (whose calls also carry the anchor).

Each timing is the median of ``--repeats`` runs after one warm-up run, in CPU seconds of this process
(``time.process_time``): with ``--threads 1`` (the default) that is the wall time of an idle machine, and it
stays stable when other jobs share the cores. ``--clock wall`` measures wall time instead.

    python scripts/bench_generate.py [--sizes 64 128] [--frames 16] [--steps 4] [--batch 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from toolkit.diffusion.controls import prepare_poses, skeleton_images
from toolkit.diffusion.generate import GenerationSettings, encode_prompts, generate_frames
from toolkit.diffusion.speed import SpeedOptions, apply_speed
from toolkit.diffusion.tiny import build_tiny_pipeline
from toolkit.pose.motions import make_motion
from toolkit.pose.skeleton_images import SkeletonImages

PROMPT = "a photo of sks person, full body"
NEGATIVE = "blurry, lowres"


def per_frame_loop(pipe, controls, steps: int, seed: int, folder: Path) -> None:
    """The reference: one pipeline call per frame, prompt passed as text."""
    for i, control in enumerate(controls):
        image = pipe(
            PROMPT,
            image=Image.fromarray(control),
            negative_prompt=NEGATIVE,
            num_inference_steps=steps,
            generator=torch.Generator("cpu").manual_seed(seed),
            height=control.shape[0],
            width=control.shape[1],
        ).images[0]
        image.save(folder / f"{i:04d}.png")


def batched(pipe, skeletons: SkeletonImages, settings: GenerationSettings, folder: Path) -> None:
    """Ours: prompt encoded once, ``settings.batch`` frames per call, skeletons drawn call by call (the
    plain loop is given them drawn, so their cost counts against ours)."""
    embeddings = encode_prompts(pipe, PROMPT, NEGATIVE, settings.guidance)
    generate_frames(pipe, skeletons, embeddings, settings, folder, progress=False)


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def timed(run: Callable[[Path], None], repeats: int, clock: str) -> float:
    """Median seconds of ``repeats`` runs of ``run(folder)`` after one warm-up run, each run writing into a
    fresh empty folder."""
    now = CLOCKS[clock]
    times = []
    for attempt in range(repeats + 1):
        with tempfile.TemporaryDirectory() as folder:
            start = now()
            run(Path(folder))
            if attempt:
                times.append(now() - start)
    return statistics.median(times)


def bench_size(size: int, frames: int, steps: int, batch: int, repeats: int, clock: str) -> dict[str, object]:
    plain, pipe = build_tiny_pipeline(), build_tiny_pipeline()
    speed = apply_speed(pipe, SpeedOptions(device="cpu"))
    poses = make_motion("walk", frames=frames, width=size, height=size)
    skeletons = skeleton_images(prepare_poses(poses, size, size))
    controls = skeletons.draw(range(frames))
    loop_s = timed(lambda folder: per_frame_loop(plain, controls, steps, 0, folder), repeats, clock)
    row: dict[str, object] = {"size": size, "frames": frames, "speed": speed, "loop_s": loop_s}
    for mechanism in ("shared-noise", "cross-frame"):
        settings = GenerationSettings(steps=steps, batch=batch, consistency=mechanism)
        ours_s = timed(lambda folder, s=settings: batched(pipe, skeletons, s, folder), repeats, clock)
        row[f"{mechanism}_s"] = ours_s
        row[f"{mechanism}_speedup"] = loop_s / ours_s
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[64, 128], help="square sizes (default 64 128)"
    )
    parser.add_argument("--frames", type=int, default=16, help="frames rendered (default 16)")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps, both sides (default 4)")
    parser.add_argument("--batch", type=int, default=8, help="our frames per call (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu", help="what to time (default cpu)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "settings": {
            "steps": args.steps,
            "batch": args.batch,
            "guidance": 7.5,
            "scheduler": "unipc",
            "clock": args.clock,
        },
        "sizes": [
            bench_size(size, args.frames, args.steps, args.batch, args.repeats, args.clock)
            for size in args.sizes
        ],
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return

    print(
        f"tiny SD + ControlNet (random weights), {args.frames} frames, {args.steps} UniPC steps, "
        f"guidance 7.5, batch {args.batch}, {args.threads} thread(s), {args.clock} seconds"
    )
    print(f"{'size':>9} {'loop s':>8} {'shared s':>9} {'speed-up':>9} {'x-frame s':>10} {'speed-up':>9}")
    for row in results["sizes"]:
        size = f"{row['size']}x{row['size']}"
        shared = f"{row['shared-noise_s']:9.2f} {row['shared-noise_speedup']:8.2f}x"
        cross = f"{row['cross-frame_s']:10.2f} {row['cross-frame_speedup']:8.2f}x"
        print(f"{size:>9} {row['loop_s']:8.2f} {shared} {cross}")


if __name__ == "__main__":
    main()
