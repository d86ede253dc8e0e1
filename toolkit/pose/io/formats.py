"""The registry of pose file formats and the two entry points, :func:`load_poses` and :func:`save_poses`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...checks import lookup
from ...errors import MissingCanvasError, PoseFormatError
from ..sequence import PoseSequence
from .coco import read_coco_keypoints
from .openpose import read_openpose, write_openpose
from .openpose_editor import read_openpose_editor, write_openpose_editor
from .patn import HEADER as PATN_HEADER
from .patn import read_patn_csv, write_patn_csv
from .sequence_json import FORMAT as SEQUENCE_FORMAT
from .sequence_json import read_sequence_json, write_sequence_json

_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class PoseFormat:
    """A pose file format: how to recognise, read and (optionally) write it.

    Args:
        name: Registry key, passed as ``format=`` to :func:`load_poses` and :func:`save_poses`.
        description: What the format is, for messages.
        sniff: ``(path, head) -> bool``, True when the file looks like this format. ``head`` is the start
            of the file as text (empty for a folder); sniffing never parses the whole file.
        read: ``(path, **options) -> PoseSequence``.
        write: ``(path, poses, **options)``, or None for a format the toolkit only reads.
        suffixes: Path endings that :func:`save_poses` maps to this format; ``""`` means a folder.
    """

    name: str
    description: str
    sniff: Callable[[Path, str], bool]
    read: Callable[..., PoseSequence]
    write: Callable[..., object] | None = None
    suffixes: tuple[str, ...] = ()


def _poses_only(read: Callable[..., tuple[list, PoseSequence]]) -> Callable[..., PoseSequence]:
    """A reader that also returns image names/ids, reduced to the poses (signature kept for options)."""

    @functools.wraps(read)
    def read_poses(path: str | Path, **options: Any) -> PoseSequence:
        return read(path, **options)[1]

    return read_poses


# Sniffed in this order: the toolkit's own files first, since they are the most specific.
FORMATS: dict[str, PoseFormat] = {
    f.name: f
    for f in (
        PoseFormat(
            name="toolkit",
            description=f"toolkit pose sequence JSON ({SEQUENCE_FORMAT})",
            sniff=lambda path, head: '"toolkit.poses/' in head,
            read=read_sequence_json,
            write=write_sequence_json,
            suffixes=(".json",),
        ),
        PoseFormat(
            name="openpose",
            description="OpenPose JSON (a file, a list of frames, or a folder of *_keypoints.json)",
            sniff=lambda path, head: path.is_dir() or '"people"' in head,
            read=read_openpose,
            write=write_openpose,
            suffixes=("",),
        ),
        PoseFormat(
            name="coco",
            description="COCO keypoints JSON (dataset or results style)",
            sniff=lambda path, head: '"image_id"' in head or '"images"' in head,
            read=_poses_only(read_coco_keypoints),
        ),
        PoseFormat(
            name="openpose-editor",
            description="A1111 openpose-editor JSON ({width, height, keypoints: [[x, y] x 18]})",
            sniff=lambda path, head: '"keypoints"' in head and '"width"' in head and '"frames"' not in head,
            read=read_openpose_editor,
            write=write_openpose_editor,
        ),
        PoseFormat(
            name="patn",
            description="PATN annotation CSV (name:keypoints_y:keypoints_x)",
            sniff=lambda path, head: head.lstrip().startswith(":".join(PATN_HEADER)),
            read=_poses_only(read_patn_csv),
            write=write_patn_csv,
            suffixes=(".csv",),
        ),
    )
}
"""Pose file formats by name, in sniffing order."""


def detect_format(path: str | Path) -> PoseFormat:
    """The format of the file or folder at ``path``, from cheap checks on its first 64 KiB.

    Raises:
        PoseFormatError: when nothing is at ``path`` or no format recognises it.
    """
    path = Path(path)
    if path.is_dir():
        head = ""
    else:
        try:
            with path.open("rb") as file:
                head = file.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
        except FileNotFoundError:
            raise PoseFormatError("no such file or folder", path=path) from None
        except OSError as err:
            raise PoseFormatError(f"cannot read ({err.strerror})", path=path) from None
    for pose_format in FORMATS.values():
        if pose_format.sniff(path, head):
            return pose_format
    known = "; ".join(f.description for f in FORMATS.values())
    raise PoseFormatError(
        f"not a pose file this toolkit recognises ({known}); pass format= to choose", path=path
    )


def load_poses(
    path: str | Path,
    *,
    format: str | None = None,
    canvas: tuple[int, int] | None = None,
    fallback_canvas: tuple[int, int] | None = None,
    **options: Any,
) -> PoseSequence:
    """Read poses from any supported file or folder.

    Args:
        path: A file or folder.
        format: A name in ``FORMATS`` (``"toolkit"``, ``"openpose"``, ``"coco"``, ``"patn"``), or None
            (default) to recognise the format from the file (see :func:`detect_format`).
        canvas: ``(width, height)`` of the footage the poses were measured on, for formats that state
            none (OpenPose, COCO results, PATN). A file that states its canvas keeps it, and a different
            ``canvas`` is a ``PoseFormatError``; without either, such a file raises ``MissingCanvasError``.
        fallback_canvas: The canvas for a file that states none, where a file's own canvas may differ
            (e.g. poses to be stretched onto photos of that size).
        **options: Passed to the format's reader, e.g. ``person``, ``threshold``, ``coords``, ``width``,
            ``height``, ``fps`` for OpenPose (see :func:`~toolkit.pose.io.read_openpose`). An option the
            reader does not take is a ``ValueError``.

    Returns:
        The poses, BODY_18 for every format except a toolkit file stored in another layout.
    """
    pose_format = _by_name(format) if format is not None else detect_format(path)
    accepted = [
        name for name, p in inspect.signature(pose_format.read).parameters.items() if p.kind == p.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = f"its options are {', '.join(accepted)}" if accepted else "it takes no options"
        raise ValueError(f"{path}: the {pose_format.name} reader has no option {unknown[0]!r}; {takes}")
    if canvas is not None and "width" in accepted:
        options = {"width": canvas[0], "height": canvas[1], **options}
    try:
        poses = pose_format.read(path, **options)
    except MissingCanvasError:
        if fallback_canvas is None or canvas is not None:
            raise
        poses = pose_format.read(
            path, **{**options, "width": fallback_canvas[0], "height": fallback_canvas[1]}
        )
    if canvas is not None and poses.canvas != tuple(canvas):
        raise PoseFormatError(
            f"the file states a {poses.width}x{poses.height} canvas but {canvas[0]}x{canvas[1]} was given; "
            "drop --canvas or fix the file",
            path=path,
        )
    return poses


def save_poses(path: str | Path, poses: PoseSequence, *, format: str | None = None, **options: Any) -> Path:
    """Write poses, atomically, in the format named or implied by ``path``.

    Args:
        path: Output file, or folder for OpenPose.
        poses: The sequence to write.
        format: A name in ``FORMATS`` with a writer, or None (default) to choose by ``path``: ``.json`` is
            the toolkit's own format, ``.csv`` PATN's, and a path without a suffix an OpenPose folder.
        **options: Passed to the writer, e.g. ``stem`` for OpenPose or ``names`` for PATN.

    Returns:
        ``path``.
    """
    path = Path(path)
    pose_format = _by_name(format) if format is not None else _by_suffix(path)
    if pose_format.write is None:
        writable = ", ".join(name for name, f in FORMATS.items() if f.write is not None)
        raise ValueError(
            f"the toolkit reads {pose_format.name} files but does not write them; write {writable}"
        )
    pose_format.write(path, poses, **options)
    return path


def _by_name(name: str) -> PoseFormat:
    return lookup(FORMATS, name, "pose format")


def _by_suffix(path: Path) -> PoseFormat:
    suffix = path.suffix.lower()
    for pose_format in FORMATS.values():
        if suffix in pose_format.suffixes:
            return pose_format
    raise ValueError(
        f"{path}: cannot tell the pose format from the suffix {suffix!r}; use .json (toolkit), .csv (PATN), "
        "a folder without a suffix (OpenPose), or pass format="
    )
