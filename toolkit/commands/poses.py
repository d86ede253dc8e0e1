"""``toolkit poses``: make, extract, render, inspect and convert pose sequences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..pose.sequence import MAX_CANVAS, PoseSequence
from ._args import add_canvas_arguments, canvas_of, canvas_size, positive_float, positive_int
from .extract import add_extract_parser

POSE_INPUT_HELP = (
    "pose file or folder: toolkit JSON, OpenPose JSON (file or folder), COCO keypoints, PATN CSV"
)


def register(groups: argparse._SubParsersAction) -> None:
    from ..pose.io import FORMATS
    from ..pose.motions import list_motions

    parser = groups.add_parser("poses", help="make, extract, render, inspect and convert pose sequences")
    commands = parser.add_subparsers(dest="poses_command", metavar="COMMAND", required=True)

    make = commands.add_parser(
        "make",
        help="write a procedural motion as a pose file",
        description="Write a procedural motion, a seamlessly looping BODY_18 sequence with per-joint depth, "
        "as a toolkit pose file (docs/pose-format.md).",
    )
    make.add_argument("motion", choices=list_motions(), help="which motion")
    make.add_argument("--frames", type=positive_int, default=48, help="frames in the clip (default 48)")
    make.add_argument("--fps", type=positive_float, default=24.0, help="frames per second (default 24)")
    make.add_argument("--size", type=canvas_size, default=(512, 512), help="canvas, 512 or WxH (default 512)")
    make.add_argument(
        "--yaw",
        type=float,
        default=None,
        help="degrees; 0 faces the camera, 90 faces right (default: per motion)",
    )
    make.add_argument("--pitch", type=float, default=0.0, help="camera elevation in degrees (default 0)")
    make.add_argument("--amplitude", type=float, default=1.0, help="scale of every joint angle (default 1)")
    make.add_argument(
        "--cycles", type=positive_int, default=None, help="loops in the clip (default: from fps)"
    )
    make.add_argument("--margin", type=float, default=0.1, help="free fraction of the canvas per side (0.1)")
    make.add_argument(
        "--seed", type=int, default=None, help="vary limb sizes and timing a little (default off)"
    )
    make.add_argument("-o", "--out", type=Path, required=True, help="output pose file (.json)")
    make.set_defaults(run=_make)

    render = commands.add_parser(
        "render",
        help="draw poses as OpenPose skeletons: a video plus a contact sheet",
        description="Draw poses as ControlNet-style OpenPose skeletons (pixel-identical to controlnet-aux): "
        "a video (.mp4 or .gif) and a contact sheet PNG beside it.",
    )
    render.add_argument("poses", type=Path, help=POSE_INPUT_HELP)
    add_canvas_arguments(render)
    render.add_argument("-o", "--out", type=Path, required=True, help="output video, .mp4 or .gif")
    render.add_argument(
        "--size", type=canvas_size, default=None, help="fit to this canvas, aspect kept (default: the file's)"
    )
    render.add_argument("--fps", type=positive_float, default=None, help="frame rate (default: the file's)")
    render.add_argument(
        "--sheet", type=Path, default=None, help="contact sheet path (default: OUT_sheet.png)"
    )
    render.add_argument(
        "--sheet-frames", type=positive_int, default=8, help="evenly spaced frames on the sheet (default 8)"
    )
    render.add_argument(
        "--thick",
        action="store_true",
        help="scale stick width with the canvas (ControlNet draws 4 px at any size)",
    )
    render.set_defaults(run=_render)

    info = commands.add_parser(
        "info",
        help="summarise a pose file",
        description="Summarise a pose file: frames, fps, canvas, layout and how often each joint is present.",
    )
    info.add_argument("poses", type=Path, help=POSE_INPUT_HELP)
    add_canvas_arguments(info)
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(run=_info)

    add_extract_parser(commands)

    writable = [name for name, f in FORMATS.items() if f.write is not None]
    convert = commands.add_parser(
        "convert",
        help="convert a pose file to another format",
        description="Read any pose format, write another.",
    )
    convert.add_argument("poses", type=Path, help=POSE_INPUT_HELP)
    add_canvas_arguments(convert)
    convert.add_argument("-o", "--out", type=Path, required=True, help="output file, or folder for OpenPose")
    convert.add_argument(
        "--format",
        choices=writable,
        default=None,
        help="output format (default: from the suffix: .json toolkit, .csv patn, no suffix openpose)",
    )
    convert.set_defaults(run=_convert)


def _make(args: argparse.Namespace) -> None:
    from ..pose.io import save_poses
    from ..pose.motions import make_motion

    width, height = args.size
    poses = make_motion(
        args.motion,
        frames=args.frames,
        fps=args.fps,
        width=width,
        height=height,
        yaw=args.yaw,
        pitch=args.pitch,
        amplitude=args.amplitude,
        cycles=args.cycles,
        margin=args.margin,
        seed=args.seed,
    )
    save_poses(args.out, poses)
    print(f"wrote {args.out}: {args.motion}, {len(poses)} frames at {poses.fps:g} fps on {width}x{height}")


def _render(args: argparse.Namespace) -> None:
    from ..data.media import check_video_path, contact_sheet, sheet_indices, write_image, write_video
    from ..pose.io import load_poses
    from ..pose.skeleton_images import SkeletonImages

    check_video_path(args.out)
    poses = load_poses(args.poses, canvas=canvas_of(args))
    if args.size is not None:
        poses = poses.fit_to_canvas(*args.size)
    frames = SkeletonImages(poses, scale_to_canvas=args.thick)  # drawn as the video is written
    fps = args.fps or poses.fps
    write_video(args.out, frames, fps, progress=True)
    sheet = args.sheet or args.out.with_name(f"{args.out.stem}_sheet.png")
    picks = sheet_indices(len(frames), args.sheet_frames)
    write_image(sheet, contact_sheet([frames[i] for i in picks], labels=[f"frame {i}" for i in picks]))
    print(f"wrote {args.out} ({len(frames)} frames at {fps:g} fps) and {sheet}")


UNKNOWN_CANVAS = (MAX_CANVAS, MAX_CANVAS)  # placeholder for files that state none: the largest allowed


def keypoint_extent(poses: PoseSequence) -> dict[str, float] | None:
    """The largest x and y of any present keypoint (rounded up to whole pixels), or None if none is."""
    xy = poses.keypoints[..., :2][poses.visible]
    if not len(xy):
        return None
    return {"x": float(np.ceil(xy[:, 0].max())), "y": float(np.ceil(xy[:, 1].max()))}


def pose_summary(poses: PoseSequence) -> dict[str, object]:
    """A JSON-ready summary: length, canvas, layout and the fraction of frames each joint is present in."""
    rates = poses.visible.mean(axis=0) if len(poses) else np.zeros(poses.num_joints)
    return {
        "frames": len(poses),
        "fps": poses.fps,
        "seconds": round(poses.duration, 3),
        "canvas": {"width": poses.width, "height": poses.height},
        "layout": poses.layout,
        "depth": poses.depth is not None,
        "present": {name: round(float(r), 4) for name, r in zip(poses.skeleton.joints, rates, strict=True)},
    }


def _read_for_info(path: Path, canvas: tuple[int, int] | None) -> tuple[PoseSequence, bool]:
    """The poses and whether their canvas is known. A file that states none, read without ``--canvas``,
    is read on a placeholder canvas so that it can still be summarised."""
    from ..errors import MissingCanvasError
    from ..pose.io import load_poses

    try:
        return load_poses(path, canvas=canvas), True
    except MissingCanvasError:
        return load_poses(path, fallback_canvas=UNKNOWN_CANVAS), False


def _info(args: argparse.Namespace) -> None:
    poses, known = _read_for_info(args.poses, canvas_of(args))
    summary = pose_summary(poses)
    if not known:
        summary["canvas"] = None
        summary["extent"] = keypoint_extent(poses)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    depth = "with depth" if summary["depth"] else "no depth"
    if known:
        where = f"on {poses.width}x{poses.height}"
    else:
        extent = summary["extent"]
        span = f"keypoints within x <= {extent['x']}, y <= {extent['y']}" if extent else "no keypoints"
        where = f"on an unknown canvas ({span}; give --canvas for other commands)"
    print(
        f"{args.poses}: {summary['frames']} frames at {summary['fps']:g} fps ({summary['seconds']} s), "
        f"{summary['layout']} {where}, {depth}"
    )
    print(f"{'joint':<16}present")
    for name, rate in summary["present"].items():
        print(f"{name:<16}{rate:7.1%}")


def _convert(args: argparse.Namespace) -> None:
    from ..pose.io import load_poses, save_poses

    poses = load_poses(args.poses, canvas=canvas_of(args))
    save_poses(args.out, poses, format=args.format)
    print(f"wrote {args.out}: {len(poses)} frames")
