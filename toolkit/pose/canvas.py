"""Canvas sizes written as text: ``"512"`` (square), ``"WxH"``, or the name of a dataset whose pose files
state none. The command line's ``--size``/``--canvas`` and the web app's canvas field read them here."""

from __future__ import annotations

import re

from .sequence import MAX_CANVAS

# Named canvases of datasets whose pose files state none.
CANVAS_PRESETS = {"deepfashion": (176, 256), "market": (64, 128)}


def parse_size(text: str) -> tuple[int, int]:
    """``"512"`` (square) or ``"WxH"`` such as ``"512x768"`` -> ``(width, height)``.

    Raises:
        ValueError: not a size, not positive, or over ``MAX_CANVAS`` on a side, in one line.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not match:
        raise ValueError(f"expected a size like 512 or 512x768 (width x height), got {text!r}")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    if width <= 0 or height <= 0:
        raise ValueError(f"sizes must be positive, got {text!r}")
    if max(width, height) > MAX_CANVAS:
        raise ValueError(f"sizes are at most {MAX_CANVAS} pixels on a side, got {text!r}")
    return width, height


def parse_canvas(text: str) -> tuple[int, int]:
    """A :func:`parse_size`, or a preset name of :data:`CANVAS_PRESETS` (PATN's DeepFashion and Market)."""
    preset = CANVAS_PRESETS.get(text.strip().lower())
    return preset if preset is not None else parse_size(text)
