"""Argument types shared by the command groups."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..argtypes import comma_list, positive_float, positive_int
from ..pose.sequence import MAX_CANVAS

__all__ = [
    "CANVAS_PRESETS",
    "add_canvas_arguments",
    "canvas_of",
    "canvas_size",
    "canvas_spec",
    "comma_list",
    "positive_float",
    "positive_int",
]


def canvas_size(text: str) -> tuple[int, int]:
    """Parse ``"512"`` (square) or ``"WxH"`` such as ``"512x768"`` into ``(width, height)``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected a size like 512 or 512x768 (width x height), got {text!r}"
        )
    width = int(match.group(1))
    height = int(match.group(2) or width)
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    if max(width, height) > MAX_CANVAS:
        raise argparse.ArgumentTypeError(f"sizes are at most {MAX_CANVAS} pixels on a side, got {text!r}")
    return width, height


# Named canvases of datasets whose pose files state none.
CANVAS_PRESETS = {"deepfashion": (176, 256), "market": (64, 128)}


def canvas_spec(text: str) -> tuple[int, int]:
    """A :func:`canvas_size`, or a preset name of ``CANVAS_PRESETS`` (PATN's DeepFashion and Market)."""
    preset = CANVAS_PRESETS.get(text.strip().lower())
    return preset if preset is not None else canvas_size(text)


def add_canvas_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--canvas`` and ``--canvas-from``, for commands that read pose files."""
    parser.add_argument(
        "--canvas",
        type=canvas_spec,
        default=None,
        metavar="WxH",
        help="canvas of the footage the poses were measured on, for files that state none (OpenPose, COCO "
        f"results, PATN): WxH, or {' / '.join(f'{k} ({w}x{h})' for k, (w, h) in CANVAS_PRESETS.items())}",
    )
    parser.add_argument(
        "--canvas-from",
        type=Path,
        default=None,
        metavar="IMAGE_OR_VIDEO",
        help="take the canvas from the image or video the poses came from",
    )


def canvas_of(args: argparse.Namespace) -> tuple[int, int] | None:
    """The canvas ``--canvas`` or ``--canvas-from`` gives (an error if both do and disagree), else None."""
    from ..data.media import iter_media
    from ..errors import ToolkitError

    given = args.canvas
    if args.canvas_from is not None:
        frame = next(iter(iter_media(args.canvas_from)), None)
        if frame is None:
            raise ToolkitError(f"{args.canvas_from}: no frames to take the canvas from")
        found = (frame.shape[1], frame.shape[0])
        if given is not None and given != found:
            raise ToolkitError(
                f"--canvas {given[0]}x{given[1]} disagrees with --canvas-from {args.canvas_from} "
                f"({found[0]}x{found[1]}); give one"
            )
        given = found
    return given
