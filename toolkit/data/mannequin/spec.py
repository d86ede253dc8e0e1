"""`MannequinSpec`: everything that makes one procedural subject look the way it does.

A spec is pure data: it is sampled from a seed, saved as JSON and rebuilt exactly, and it says nothing about
pose. Colours are RGB triples of ints in 0..255; sizes are multipliers or fractions of standing height.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from ...errors import ToolkitError
from ...pose.proportions import BodyProportions
from .backgrounds import DEFAULT_BACKGROUND, RGB
from .head import HAIR_STYLES
from .patterns import PATTERNS

GARMENT_LENGTHS: tuple[str, ...] = ("long", "short")

# Skin tones from light to dark, natural hair colours and shoe colours, by name; each sample is jittered a
# little. The names are what captions call them (``captions.py``).
SKIN_TONES: dict[str, RGB] = {
    "pale": (245, 208, 180),
    "fair": (234, 189, 157),
    "light": (222, 171, 136),
    "medium": (198, 139, 103),
    "tan": (166, 110, 78),
    "brown": (130, 84, 58),
    "dark": (92, 60, 42),
}
HAIR_COLORS: dict[str, RGB] = {
    "black": (28, 24, 22),
    "dark brown": (62, 42, 30),
    "brown": (104, 70, 44),
    "auburn": (140, 66, 36),
    "blonde": (206, 168, 104),
    "grey": (150, 146, 142),
}
SHOE_COLORS: dict[str, RGB] = {
    "black": (24, 24, 26),
    "brown": (92, 58, 36),
    "beige": (205, 195, 175),
    "navy": (40, 44, 70),
}
_SKIN_TONES, _HAIR_COLORS, _SHOE_COLORS = (tuple(c.values()) for c in (SKIN_TONES, HAIR_COLORS, SHOE_COLORS))
_HAIR_ODDS = {"short": 0.35, "long": 0.3, "bun": 0.15, "bald": 0.2}
_SHIRT_PATTERN_ODDS = {"solid": 0.4, "stripes": 0.2, "checks": 0.2, "dots": 0.2}
_TROUSER_PATTERN_ODDS = {"solid": 0.6, "stripes": 0.15, "checks": 0.15, "dots": 0.1}
_SHORT_ODDS = 0.3  # of short sleeves, and of shorts


class MannequinSpecError(ToolkitError, ValueError):
    """A mannequin spec (or its dict form) is invalid; the message names the field."""


@dataclass(frozen=True)
class Garment:
    """One piece of clothing.

    Args:
        color: Base RGB colour.
        pattern: Name in ``PATTERNS``: ``"solid"``, ``"stripes"``, ``"checks"`` or ``"dots"``.
        pattern_color: RGB of the pattern's second colour (unused for ``"solid"``).
        pattern_scale: Pattern period as a fraction of standing height, in (0, 1].
        length: ``"long"`` or ``"short"``: sleeves of a shirt, legs of trousers.
    """

    color: RGB = (90, 110, 150)
    pattern: str = "solid"
    pattern_color: RGB = (230, 230, 230)
    pattern_scale: float = 0.05
    length: str = "long"

    def __post_init__(self) -> None:
        object.__setattr__(self, "color", _checked_rgb(self.color, "color"))
        object.__setattr__(self, "pattern_color", _checked_rgb(self.pattern_color, "pattern_color"))
        _check_choice(self.pattern, tuple(PATTERNS), "pattern")
        _check_choice(self.length, GARMENT_LENGTHS, "length")
        if not (_is_number(self.pattern_scale) and 0 < self.pattern_scale <= 1):
            raise MannequinSpecError(f"pattern_scale must be a number in (0, 1], got {self.pattern_scale!r}")
        object.__setattr__(self, "pattern_scale", float(self.pattern_scale))

    def to_dict(self) -> dict[str, Any]:
        return {
            "color": list(self.color),
            "pattern": self.pattern,
            "pattern_color": list(self.pattern_color),
            "pattern_scale": self.pattern_scale,
            "length": self.length,
        }


@dataclass(frozen=True)
class MannequinSpec:
    """Appearance of one procedural subject. ``MannequinSpec()`` is a plain default subject;
    :meth:`sample` draws a random one.

    Args:
        proportions: Segment lengths as fractions of height; motions made for this subject should use them.
        limb_thickness: Multiplier on the default limb and torso widths, in [0.5, 2].
        head_size: Multiplier on the head size given by ``proportions.head``, in [0.5, 2].
        skin: Skin RGB.
        hair: Hair RGB.
        hair_style: A name in ``HAIR_STYLES``: ``"bald"``, ``"short"``, ``"long"`` or ``"bun"``.
        shirt: Upper-body garment (its ``length`` is the sleeve length).
        trousers: Lower-body garment (its ``length`` gives trousers or shorts).
        shoes: Shoe RGB.
    """

    VERSION: ClassVar[int] = 1

    proportions: BodyProportions = field(default_factory=BodyProportions)
    limb_thickness: float = 1.0
    head_size: float = 1.0
    skin: RGB = _SKIN_TONES[2]
    hair: RGB = _HAIR_COLORS[1]
    hair_style: str = "short"
    shirt: Garment = field(default_factory=Garment)
    trousers: Garment = field(default_factory=lambda: Garment(color=(50, 52, 60)))
    shoes: RGB = _SHOE_COLORS[0]

    def __post_init__(self) -> None:
        if not isinstance(self.proportions, BodyProportions):
            raise MannequinSpecError(f"proportions must be BodyProportions, got {type(self.proportions)}")
        for name in ("limb_thickness", "head_size"):
            value = getattr(self, name)
            if not (_is_number(value) and 0.5 <= value <= 2.0):
                raise MannequinSpecError(f"{name} must be a number in [0.5, 2], got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("skin", "hair", "shoes"):
            object.__setattr__(self, name, _checked_rgb(getattr(self, name), name))
        _check_choice(self.hair_style, tuple(HAIR_STYLES), "hair_style")
        for name in ("shirt", "trousers"):
            if not isinstance(getattr(self, name), Garment):
                raise MannequinSpecError(f"{name} must be a Garment, got {type(getattr(self, name))}")

    # ---- sampling --------------------------------------------------------------------------------------

    @classmethod
    def sample(cls, seed: int) -> MannequinSpec:
        """A random subject, the same for the same ``seed`` (a non-negative int); uses no global state.

        Shirt and trousers get saturated colours far from each other, from the skin and from
        ``DEFAULT_BACKGROUND``, so that different seeds give clearly different, separable subjects.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise MannequinSpecError(f"seed must be a non-negative int, got {seed!r}")
        rng = np.random.default_rng(int(seed))
        proportions = BodyProportions.sample(rng)
        skin = _jitter(rng, _SKIN_TONES[rng.integers(len(_SKIN_TONES))], 8)
        hair = _jitter(rng, _HAIR_COLORS[rng.integers(len(_HAIR_COLORS))], 10)
        shirt = _sample_garment(rng, [skin], _SHIRT_PATTERN_ODDS)
        trousers = _sample_garment(rng, [skin, shirt.color], _TROUSER_PATTERN_ODDS)
        shoes = _jitter(rng, _SHOE_COLORS[rng.integers(len(_SHOE_COLORS))], 8)
        return cls(
            proportions=proportions,
            limb_thickness=round(float(rng.uniform(0.85, 1.2)), 4),
            head_size=round(float(rng.uniform(0.92, 1.1)), 4),
            skin=skin,
            hair=hair,
            hair_style=_choice(rng, _HAIR_ODDS),
            shirt=shirt,
            trousers=trousers,
            shoes=shoes,
        )

    # ---- JSON ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with a ``version`` field; :meth:`from_dict` rebuilds an equal spec."""
        return {
            "version": self.VERSION,
            "proportions": self.proportions.to_dict(),
            "limb_thickness": self.limb_thickness,
            "head_size": self.head_size,
            "skin": list(self.skin),
            "hair": list(self.hair),
            "hair_style": self.hair_style,
            "shirt": self.shirt.to_dict(),
            "trousers": self.trousers.to_dict(),
            "shoes": list(self.shoes),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MannequinSpec:
        """Rebuild from :meth:`to_dict` output. Raises :class:`MannequinSpecError` naming the bad field for
        a wrong version, a missing or unknown key or an invalid value."""
        values = dict(_checked_mapping(values, "mannequin spec", _SPEC_KEYS | {"version"}))
        version = values.pop("version", None)
        if version != cls.VERSION:
            raise MannequinSpecError(
                f"mannequin spec version must be {cls.VERSION}, got {version!r}; re-create the spec"
            )
        try:
            values["proportions"] = BodyProportions.from_dict(
                _checked_mapping(values["proportions"], "proportions", None)
            )
        except (TypeError, ValueError) as err:
            raise MannequinSpecError(f"proportions: {err}") from None
        for name in ("shirt", "trousers"):
            garment = _checked_mapping(values[name], name, {f.name for f in fields(Garment)})
            try:
                values[name] = Garment(**garment)
            except MannequinSpecError as err:
                raise MannequinSpecError(f"{name}.{err}") from None
        return cls(**values)


_SPEC_KEYS = frozenset(f.name for f in fields(MannequinSpec))


def _checked_mapping(values: object, what: str, keys: set[str] | frozenset[str] | None) -> dict[str, Any]:
    """``values`` as a dict; with ``keys``, every key must be present and nothing else."""
    if not isinstance(values, dict):
        raise MannequinSpecError(f"{what} must be a dict, got {type(values).__name__}")
    if keys is not None:
        missing, unknown = sorted(keys - set(values)), sorted(set(values) - keys)
        if unknown:
            raise MannequinSpecError(f"{what} has unknown key(s) {', '.join(unknown)}")
        if missing:
            raise MannequinSpecError(f"{what} is missing key(s) {', '.join(missing)}")
    return values


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _checked_rgb(value: object, name: str) -> RGB:
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 3
        or not all(
            isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c <= 255 for c in value
        )
    ):
        raise MannequinSpecError(f"{name} must be three ints in 0..255 (RGB), got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


def _check_choice(value: object, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise MannequinSpecError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _jitter(rng: np.random.Generator, color: RGB, amount: int) -> RGB:
    noisy = np.clip(np.asarray(color) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(noisy[0]), int(noisy[1]), int(noisy[2]))


def _distance(a: RGB, b: RGB) -> float:
    return float(np.linalg.norm(np.subtract(a, b, dtype=np.float64)))


def _sample_color(rng: np.random.Generator, avoid: list[RGB], min_distance: float) -> RGB:
    """A random clothing colour at least ``min_distance`` (RGB Euclidean) from each of ``avoid`` and from
    ``DEFAULT_BACKGROUND``. Rejection sampling with a fixed number of tries keeps it deterministic; the last
    try is kept if none qualifies, which is rare and harmless."""
    for _ in range(64):
        hue, sat, val = rng.uniform(0, 1), rng.uniform(0.35, 0.95), rng.uniform(0.22, 0.92)
        r, g, b = (int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, sat, val))
        color = (r, g, b)
        if all(_distance(color, other) >= min_distance for other in [*avoid, DEFAULT_BACKGROUND]):
            break
    return color


def _choice(rng: np.random.Generator, odds: dict[str, float]) -> str:
    """A key of ``odds`` drawn with the given probabilities."""
    return str(rng.choice(list(odds), p=list(odds.values())))


def _sample_garment(rng: np.random.Generator, avoid: list[RGB], pattern_odds: dict[str, float]) -> Garment:
    """A garment whose colour keeps away from ``avoid``; ``pattern_odds`` maps pattern names to odds."""
    color = _sample_color(rng, avoid, min_distance=90)
    pattern = _choice(rng, pattern_odds)
    return Garment(
        color=color,
        pattern=pattern,
        pattern_color=_sample_color(rng, [color], min_distance=110),
        pattern_scale=round(float(rng.uniform(0.035, 0.08)), 4),
        length=GARMENT_LENGTHS[int(rng.uniform() < _SHORT_ODDS)],
    )
