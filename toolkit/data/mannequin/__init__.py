"""Procedural "mannequin" subjects and their renderer: images with exact masks and part labels.

A subject is a :class:`MannequinSpec` (body proportions, colours, hair style, patterned clothes) sampled
from a seed; :func:`render_mannequin` draws it in a BODY_18 pose and :func:`render_sequence` in every frame
of a :class:`~toolkit.pose.PoseSequence`.
"""

from .backgrounds import BACKGROUNDS, DEFAULT_BACKGROUND, Background, BackgroundError, background_image
from .captions import mannequin_caption
from .head import HAIR_STYLES, HairStyle
from .parts import MATERIAL, MATERIAL_NAMES, PART, PART_NAMES
from .patterns import PATTERNS
from .render import MannequinFrame, render_mannequin, render_sequence
from .spec import GARMENT_LENGTHS, Garment, MannequinSpec, MannequinSpecError

__all__ = [
    "BACKGROUNDS",
    "DEFAULT_BACKGROUND",
    "GARMENT_LENGTHS",
    "HAIR_STYLES",
    "MATERIAL",
    "MATERIAL_NAMES",
    "PART",
    "PART_NAMES",
    "PATTERNS",
    "Background",
    "BackgroundError",
    "Garment",
    "HairStyle",
    "MannequinFrame",
    "MannequinSpec",
    "MannequinSpecError",
    "background_image",
    "mannequin_caption",
    "render_mannequin",
    "render_sequence",
]
