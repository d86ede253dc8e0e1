"""``toolkit ui``: the local web app (needs the ``ui`` extra: ``pip install -e '.[ui]'``)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..errors import ToolkitError
from ._args import positive_int


def register(groups: argparse._SubParsersAction) -> None:
    parser = groups.add_parser(
        "ui",
        help="open the web app: train subjects, make poses, generate and compare in a browser",
        description="Serve the toolkit's web app (Gradio) on this machine. It trains subjects from uploaded "
        "photos, makes poses (video, pose file or procedural motion), generates videos and compares methods; "
        "everything lands in --out, in the files the other commands write. Long jobs run one at a time and "
        "can be cancelled; reruns resume. See docs/ui.md.",
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("outputs") / "ui", help="output folder (default outputs/ui)"
    )
    parser.add_argument(
        "--subjects-dir", type=Path, default=None, help="subject registry folder (default: OUT/subjects)"
    )
    parser.add_argument(
        "--base",
        default="mini",
        help="base model for new subjects and subject-less renders: mini (packaged), tiny (random, for "
        "testing), a hub id or a diffusers folder (default mini)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind; 0.0.0.0 serves the network (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=positive_int, default=None, help="port (default: the first free one from 7860)"
    )
    parser.add_argument(
        "--share",
        action="store_true",
        help="also make a public gradio.live link (default off; needs network)",
    )
    parser.set_defaults(run=_ui)


def _ui(args: argparse.Namespace) -> None:
    if importlib.util.find_spec("gradio") is None:
        raise ToolkitError("the web app needs Gradio: pip install -e '.[ui]' (or make test-ui)")
    from ..diffusion.loading import resolve_source
    from ..ui.app import launch
    from ..ui.workspace import Workspace

    workspace = Workspace(args.out, args.subjects_dir, args.base)
    resolve_source(args.base, "base model", "--base")  # a missing model fails now, not at the first job
    launch(workspace, host=args.host, port=args.port, share=args.share)
