"""``toolkit poses extract``: detect the poses of one person in a video, an image folder or an image."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_extract_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``extract`` under ``toolkit poses``. Imports stay light: the detectors load when it runs."""
    from ..pose.detect import DETECTORS

    confidences = ", ".join(f"{name} {d.default_min_confidence:g}" for name, d in DETECTORS.items())
    extract = commands.add_parser(
        "extract",
        help="detect the poses of a person in a video, image folder or image",
        description="Detect one person's BODY_18 pose in every frame of a video, a folder of images (read in "
        "natural order) or a single image, and write a pose file. Frames are streamed, so long videos "
        "need little memory. When several people are in view, the most prominent one is followed. "
        "A summary with the detection rate of every joint is printed at the end.",
    )
    extract.add_argument("input", type=Path, help="video file, folder of images, or one image")
    extract.add_argument(
        "-o",
        "--out",
        type=Path,
        required=True,
        help="output pose file: .json (toolkit), .csv (PATN), or a path without suffix for an OpenPose "
        "JSON folder",
    )
    extract.add_argument(
        "--detector",
        choices=list(DETECTORS),
        default="mediapipe",
        help="mediapipe: bundled, one person, fast (default); openpose: controlnet-aux's body model, "
        "every person, needs --weights",
    )
    extract.add_argument(
        "--weights", type=Path, metavar="PATH", help="OpenPose body model file (body_pose_model.pth)"
    )
    extract.add_argument(
        "--every",
        type=int,
        default=1,
        metavar="N",
        help="keep every N-th frame; output fps = input fps / N (default 1)",
    )
    extract.add_argument(
        "--smooth",
        default="none",
        metavar="NAME",
        help="temporal smoothing of the joints, a name in toolkit.pose.ops.SMOOTHERS such as one-euro "
        "(default none)",
    )
    extract.add_argument(
        "--min-confidence",
        type=float,
        metavar="C",
        help=f"joints detected with a lower confidence count as missing (default: {confidences})",
    )
    extract.add_argument(
        "--fps",
        type=float,
        help="frame rate of an image folder (default 24); for a video, overrides the rate it states",
    )
    extract.add_argument(
        "--static",
        action="store_true",
        help="treat the frames as unrelated images: detect each on its own, without tracking "
        "(always so for a single image)",
    )
    extract.add_argument("--device", help="torch device for openpose, e.g. cuda (default cpu)")
    extract.set_defaults(run=run_extract)


def run_extract(args: argparse.Namespace) -> None:
    """Detect, smooth, write the pose file, print the summary; bad input raises a one-line error."""
    from ..data.frames import extract_poses, open_frames
    from ..errors import ToolkitError
    from ..pose.detect.summary import detection_summary
    from ..pose.io import FORMATS, save_poses

    # Check everything cheap before the long detection pass.
    if args.every < 1:
        raise ToolkitError(f"--every must be 1 or more (keep every N-th frame), got {args.every}")
    if args.fps is not None and not args.fps > 0:
        raise ToolkitError(f"--fps must be positive, got {args.fps}")
    suffixes = {suffix for f in FORMATS.values() if f.write is not None for suffix in f.suffixes}
    if args.out.suffix.lower() not in suffixes:
        raise ToolkitError(
            f"{args.out}: cannot write {args.out.suffix} pose files; use .json, .csv or a folder name"
        )
    options = {"weights": args.weights, "min_confidence": args.min_confidence, "device": args.device}
    options = {key: value for key, value in options.items() if value is not None}

    source = open_frames(args.input, args.fps)
    start = time.perf_counter()
    poses = extract_poses(
        source, args.detector, every=args.every, static=args.static, smooth=args.smooth, **options
    )
    seconds = time.perf_counter() - start
    save_poses(args.out, poses)
    print(
        f"wrote {args.out}: {len(poses)} frames at {poses.fps:g} fps on {poses.width}x{poses.height}, "
        f"{args.detector} in {seconds:.1f} s ({len(poses) / seconds:.1f} frames/s)"
    )
    print(detection_summary(poses))
