"""``training/baseline.py``: train a GAN baseline on one subject's frames.

    accelerate launch training/baseline.py --method pix2pix-pose2pics --data data/mannequins \\
        --subject 0 --output runs/p2p --set size=128 --steps 2000

Also runs as ``python training/baseline.py ...``, and offline on a CPU with
``accelerate launch --cpu --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no``.

The method (any registered one: ``knn``, ``pix2pix-pose2pics``, ``pix2pix-pics2pics`` ...) is built from its
settings (``--config FILE`` then ``--set KEY=VALUE``) and trained by ``toolkit.nn.trainer.train``, the loop
its ``fit`` uses too. A method with nothing to optimise (k-NN) is fitted and saved. OUTPUT receives:

    training.json          method, settings, and where the training frames came from (``toolkit transfer``
                           reads its source image from there)
    checkpoints/checkpoint-*/  loadable by ``toolkit transfer`` and ``--resume latest`` (the newest)
    samples/step_*.png     input | generated | target grids
    logs/                  TensorBoard events, or losses.csv without TensorBoard
    final/                 the trained method (``Baseline.save``)
    manifest.json          command, versions, seed, timings
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..data.datasets import load_subject_frames
from ..errors import ToolkitError
from ..manifest import write_manifest
from ..methods import get_method
from ..nn.io import parse_setting
from ..nn.trainer import TRAIN_OPTION_NAMES, Trainable, TrainOptions, train

TRAINING_RECORD = "training.json"
FINAL_DIR = "final"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--method", required=True, help="registered method, e.g. pix2pix-pose2pics, knn")
    parser.add_argument(
        "--data", type=Path, required=True, help="dataset or subject folder (toolkit data synth)"
    )
    parser.add_argument(
        "--subject", help="subject folder name or index in --data (default: --data is the subject)"
    )
    parser.add_argument("--clips", help="comma-separated clip folders to train on (default: all)")
    parser.add_argument("--output", "-o", type=Path, required=True, help="output folder (created or resumed)")
    parser.add_argument("--config", type=Path, help="JSON file of method settings and training options")
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
        help="one method setting or training option, e.g. --set size=128 (repeatable; wins over --config)",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, help="samples per step and process")
    parser.add_argument("--seed", type=int, help="seed of init, sample order and augmentation (default 0)")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    parser.add_argument("--sample-every", type=int, help="steps between sample grids")
    parser.add_argument("--log-every", type=int, help="steps between log lines")
    parser.add_argument("--workers", type=int, dest="num_workers", help="DataLoader workers (default 0)")
    parser.add_argument(
        "--resume", help="'latest' (newest checkpoint in --output, if any) or a checkpoint folder"
    )
    parser.add_argument(
        "--vgg19-weights", type=Path, help="torchvision vgg19 state dict for a perceptual loss"
    )
    parser.add_argument(
        "--no-perceptual", action="store_true",
        help="train without the VGG19 perceptual loss the settings ask for (recorded in the settings)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def settings_from(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The method settings and the training options the command line asks for."""
    values: dict[str, Any] = {}
    if args.config is not None:
        try:
            values = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ToolkitError(f"{args.config}: cannot read the settings ({err})") from None
        if not isinstance(values, dict):
            raise ToolkitError(f"{args.config}: expected a JSON object of settings")
    values.update(parse_setting(text) for text in args.settings)
    for name in (
        "steps",
        "batch_size",
        "seed",
        "checkpoint_every",
        "sample_every",
        "log_every",
        "num_workers",
    ):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.vgg19_weights is not None:
        values["vgg19_weights"] = str(args.vgg19_weights)
    if args.no_perceptual:
        values["perceptual_weight"] = 0.0
    options = {k: v for k, v in values.items() if k in TRAIN_OPTION_NAMES}
    options.update(output_dir=str(args.output), resume=args.resume, progress=not args.no_progress)
    return {k: v for k, v in values.items() if k not in TRAIN_OPTION_NAMES}, options


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args, sys.argv if argv is None else ["training/baseline.py", *argv])
    except (ToolkitError, ValueError) as err:
        print(f"baseline: error: {err}", file=sys.stderr)
        return 2
    return 0


def run(args: argparse.Namespace, command: list[str]) -> Path:
    """Train (or fit) the method as ``args`` say; returns the folder of the final method."""
    from ..nn.distributed import make_accelerator

    started = time.perf_counter()
    method_settings, option_values = settings_from(args)
    method_cls = get_method(args.method)
    # Built first, so that bad settings fail before any data loads.
    method = method_cls(method_settings)  # type: ignore[call-arg]
    options = TrainOptions(**option_values)
    subject = int(args.subject) if args.subject is not None and args.subject.isdigit() else args.subject
    clips = None if args.clips is None else [c.strip() for c in args.clips.split(",") if c.strip()]
    data = load_subject_frames(args.data, subject, clips=clips)
    accelerator = make_accelerator()
    output = args.output
    record = {
        "method": args.method,
        "data": str(args.data.resolve()),
        "subject": subject,
        "clips": clips,
        "frames": len(data),
        "settings": method_settings,
        "options": {k: v for k, v in option_values.items() if k != "resume"},
        "no_perceptual": bool(args.no_perceptual),
    }
    if accelerator.is_main_process:
        write_json_atomic(output / TRAINING_RECORD, record)

    if isinstance(method, Trainable):
        result = train(method, data, options, accelerator)  # type: ignore[arg-type]
        # A loss a phase does not compute is NaN (posewarp's G in its warm-up); JSON has no NaN: null.
        losses = {name: value if math.isfinite(value) else None for name, value in result.losses.items()}
        summary = {"steps": result.step, "resumed_from": result.start_step, "losses": losses}
    else:
        method.fit(data, method_settings, accelerator)
        summary = {"steps": 0}
    final = output / FINAL_DIR
    if accelerator.is_main_process:
        method.save(final)
        write_manifest(
            output,
            command=command,
            seed=options.seed,
            options=record,
            timings={"total": time.perf_counter() - started},
            outputs={"final": FINAL_DIR, **summary},
        )
        print(f"wrote {final}")
    return final
