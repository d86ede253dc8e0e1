"""Argument types shared by the command groups."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..argtypes import comma_list, positive_float, positive_int
from ..pose.canvas import CANVAS_PRESETS, parse_canvas, parse_size

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
    """``--size``: ``"512"`` (square) or ``"WxH"`` (:func:`~toolkit.pose.canvas.parse_size`)."""
    try:
        return parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def canvas_spec(text: str) -> tuple[int, int]:
    """``--canvas``: a :func:`canvas_size` or a preset name (:func:`~toolkit.pose.canvas.parse_canvas`)."""
    try:
        return parse_canvas(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


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
