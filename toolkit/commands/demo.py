"""``toolkit demo``: the job ``make demo`` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import positive_int


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "demo",
        help="learn a mannequin from 5 photos, render it walking, compare every method (`make demo`)",
        description="The whole pipeline on the packaged mini model, on a fresh machine: make walk.json; "
        "DreamBooth-LoRA a held-out mannequin ('demo') from 5 of its photos; toolkit generate --subject "
        "demo --poses walk.json; train the GAN baselines briefly on the same photos; write a comparison "
        "(table, chart, side-by-side video against the ground truth). Reruns resume. See README.md.",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (outputs/demo)")
    parser.add_argument("--base", default="mini", help="base model spec, as in `toolkit generate` (mini)")
    parser.add_argument("--controlnet", default="mini", help="OpenPose ControlNet spec (mini)")
    parser.add_argument(
        "--lora-steps", type=positive_int, default=400, help="DreamBooth-LoRA training steps (default 400)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=20, help="denoising steps per generated frame (default 20)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> None:
    from ..demo import DemoConfig, run_demo

    config = DemoConfig(
        base=args.base,
        controlnet=args.controlnet,
        lora_steps=args.lora_steps,
        inference_steps=args.steps,
        progress=not args.no_progress,
    )
    paths = run_demo(args.out, config)
    print(f"everything is in {args.out}: open {paths['comparison'] / 'comparison.mp4'}")
