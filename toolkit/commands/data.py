"""``toolkit data``: the built-in mannequin data."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import add_canvas_arguments, canvas_of, canvas_size, comma_list, positive_float, positive_int


def register(groups: argparse._SubParsersAction) -> None:
    from ..data.mannequin import BACKGROUNDS
    from ..pose.motions import list_motions

    parser = groups.add_parser("data", help="make the built-in mannequin data")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    synth = commands.add_parser(
        "synth",
        help="render a mannequin dataset: frames, masks, part labels, poses and subject specs",
        description="Render procedural mannequin subjects in procedural motions, with exact ground truth. "
        "The layout is described in docs/synthetic-data.md. Reruns resume.",
    )
    synth.add_argument("--subjects", type=positive_int, default=6, help="number of subjects (default 6)")
    synth.add_argument(
        "--motions",
        type=comma_list,
        default=["walk", "wave", "squat"],
        help=f"comma-separated motions from {', '.join(list_motions())} (default walk,wave,squat)",
    )
    synth.add_argument(
        "--size", type=canvas_size, default=(128, 128), help="canvas, 128 or WxH (default 128)"
    )
    synth.add_argument("--frames", type=positive_int, default=48, help="frames per clip (default 48)")
    synth.add_argument("--fps", type=positive_float, default=24.0, help="frame rate (default 24)")
    synth.add_argument(
        "--seed", type=int, default=0, help="seed of the first subject; subject i uses seed + i"
    )
    synth.add_argument(
        "--background", choices=list(BACKGROUNDS), default="plain", help="backdrop (default plain)"
    )
    synth.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    synth.set_defaults(run=_synth)

    render = commands.add_parser(
        "render",
        help="render one mannequin in a pose file: video, frames and masks",
        description="Render mannequin subject SEED in every pose of a pose file, as a video (.mp4/.gif).",
    )
    render.add_argument("poses", type=Path, help="pose file or folder")
    add_canvas_arguments(render)
    render.add_argument("-o", "--out", type=Path, required=True, help="output video, .mp4 or .gif")
    render.add_argument("--subject", type=int, default=0, help="subject seed (default 0)")
    render.add_argument(
        "--background", choices=list(BACKGROUNDS), default="plain", help="backdrop (default plain)"
    )
    render.add_argument("--fps", type=positive_float, default=None, help="frame rate (default: the file's)")
    render.set_defaults(run=_render)


def _synth(args: argparse.Namespace) -> None:
    from ..data.synth_dataset import SynthConfig, write_synthetic_dataset

    width, height = args.size
    config = SynthConfig(
        subjects=args.subjects,
        motions=tuple(args.motions),
        width=width,
        height=height,
        frames=args.frames,
        fps=args.fps,
        seed=args.seed,
        background=args.background,
    )
    summary = write_synthetic_dataset(args.out, config)
    print(
        f"wrote {summary.root}: {summary.clips} clips, {summary.frames_written} frames rendered, "
        f"{summary.frames_skipped} already there, in {summary.seconds:.1f} s"
    )


def _render(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from ..data.mannequin import MannequinSpec, render_sequence
    from ..data.media import check_video_path, write_video
    from ..pose.io import load_poses

    check_video_path(args.out)
    poses = load_poses(args.poses, canvas=canvas_of(args))
    spec = MannequinSpec.sample(args.subject)
    frames = [
        frame.image
        for frame in tqdm(
            render_sequence(spec, poses, background=args.background), total=len(poses), unit="frame"
        )
    ]
    write_video(args.out, frames, args.fps or poses.fps)
    print(f"wrote {args.out}: subject {args.subject}, {len(frames)} frames")
