"""Captions of procedural mannequins, built from their :class:`~toolkit.data.mannequin.MannequinSpec`.

A caption names what the renderer draws and a text prompt can ask for: hair, skin, the shirt and trousers
with their colours, patterns and lengths, and the shoes, e.g. ``"a mannequin with short dark brown hair
and light skin, wearing a long-sleeved red shirt with white stripes, blue shorts and black shoes"``.
Colours are named from their hue, saturation and value with a fixed table, so a caption depends on the
spec alone.
"""

from __future__ import annotations

import colorsys

from ...data.mannequin import Garment, MannequinSpec

RGB = tuple[int, int, int]

# Hue bins in degrees: (upper bound, name), for saturated colours.
_HUES: tuple[tuple[float, str], ...] = (
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (160, "green"),
    (200, "teal"),
    (255, "blue"),
    (290, "purple"),
    (345, "pink"),
    (360, "red"),
)
# Pattern names as they read after "with": "a red shirt with white stripes".
_PATTERN_WORDS = {"stripes": "stripes", "checks": "checks", "dots": "dots"}
_HAIR_STYLES = {
    "short": "short {} hair",
    "long": "long {} hair",
    "bun": "{} hair in a bun",
    "bald": "no hair",
}


def color_name(rgb: RGB) -> str:
    """A plain English name for an RGB colour (ints in 0..255), e.g. ``"dark blue"``, ``"light grey"``.

    Greys come from value alone (saturation < 0.2); other colours from the hue bin, with orange, red and
    yellow of value below 0.6 called brown, and ``"dark"``/``"light"`` for low value or pale colours.
    """
    hue, sat, val = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    if sat < 0.2 or val < 0.12:
        greys = ((0.2, "black"), (0.45, "dark grey"), (0.75, "grey"), (1.01, "white"))
        return next(name for bound, name in greys if val < bound)
    degrees = hue * 360
    name = next(name for bound, name in _HUES if degrees < bound)
    if name in ("red", "orange", "yellow") and val < 0.6 and degrees >= 10:
        return "dark brown" if val < 0.35 else "brown"
    if val < 0.4:
        return f"dark {name}"
    if sat < 0.5 and val > 0.75:
        return f"light {name}"
    return name


def skin_name(rgb: RGB) -> str:
    """``"light"``, ``"medium"`` or ``"dark"`` skin, from the colour's value (brightness)."""
    value = max(rgb) / 255
    return "light" if value > 0.85 else "medium" if value > 0.6 else "dark"


def garment_phrase(garment: Garment, noun: str) -> str:
    """``"a long-sleeved red shirt with white stripes"``-style phrase for one garment; ``noun`` is what it
    is (``"shirt"``; for ``"trousers"`` a short garment becomes ``"shorts"``)."""
    color = color_name(garment.color)
    if noun == "shirt":
        text = f"a {garment.length}-sleeved {color} shirt"
    else:
        text = f"{color} {'shorts' if garment.length == 'short' else noun}"
    if garment.pattern in _PATTERN_WORDS:
        text += f" with {color_name(garment.pattern_color)} {_PATTERN_WORDS[garment.pattern]}"
    return text


def mannequin_caption(spec: MannequinSpec, *, subject: str = "a mannequin") -> str:
    """The caption of ``spec``; ``subject`` opens it (default ``"a mannequin"``). Deterministic."""
    hair = _HAIR_STYLES[spec.hair_style].format(color_name(spec.hair))
    clothes = (
        f"{garment_phrase(spec.shirt, 'shirt')}, {garment_phrase(spec.trousers, 'trousers')} "
        f"and {color_name(spec.shoes)} shoes"
    )
    return f"{subject} with {hair} and {skin_name(spec.skin)} skin, wearing {clothes}"
