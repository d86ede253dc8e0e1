"""``toolkit demo``: the job ``make demo`` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import positive_int


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "demo",
        help="render a mannequin walking beside its skeleton (what `make demo` runs)",
        description="Make a walk cycle, render mannequin SUBJECT in it, and write walk.json, skeleton.mp4, "
        "subject.mp4, side_by_side.mp4, contact_sheet.png and manifest.json into OUT.",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (outputs/demo)")
    parser.add_argument(
        "--frames", type=positive_int, default=48, help="frames in the walk cycle (default 48)"
    )
    parser.add_argument("--size", type=positive_int, default=512, help="square canvas side (default 512)")
    parser.add_argument("--subject", type=int, default=0, help="mannequin seed (default 0)")
    parser.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> None:
    from ..demo import DemoConfig, run_demo

    paths = run_demo(args.out, DemoConfig(frames=args.frames, size=args.size, subject=args.subject))
    for path in paths.values():
        print(f"wrote {path}")
