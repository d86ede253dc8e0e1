"""Parsing helpers shared by the pose readers: error locations, number checks, canvas and person choice."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import MissingCanvasError, PoseFormatError
from ..sequence import PoseSequence
from ..skeleton import BODY_18, convert_keypoints, get_skeleton

Person = int | str
"""Which person to keep from a frame: an index into its people, or a name from ``PERSON_SCORES``."""

# JSON numbers parse to exactly these types; bool is excluded on purpose (``True`` is not a coordinate).
_NUMBER_TYPES = (int, float)


@dataclass(frozen=True)
class Source:
    """Where a value was read: a file and, inside a multi-frame source, the frame index (0-based)."""

    path: Path
    frame: int | None = None

    def error(self, message: str, field: str | None = None) -> PoseFormatError:
        """A one-line error naming this file, this frame and ``field``."""
        return PoseFormatError(message, path=self.path, frame=self.frame, field=field)


def describe(value: object) -> str:
    """A short rendering of a parsed JSON value for error messages, e.g. ``"12"`` or ``a list``."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_text(src: Source) -> str:
    """The UTF-8 text of ``src.path`` (a leading byte-order mark is dropped); errors name the file."""
    try:
        return src.path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise src.error("no such file") from None
    except UnicodeDecodeError as err:
        raise src.error(f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise src.error(f"cannot read the file ({err.strerror})") from None


def read_json(src: Source) -> object:
    """Parse the JSON file at ``src.path``.

    Python's parser accepts the ``NaN`` and ``Infinity`` literals; they come back as floats and the
    readers reject them wherever a finite number belongs.
    """
    text = read_text(src)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise src.error(f"invalid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None


def number_array(values: object, src: Source, field: str, *, nullable: bool = False) -> np.ndarray:
    """Check that ``values`` is a JSON list of numbers (or nulls when ``nullable``).

    Returns:
        ``(N,)`` float64 array; a null becomes NaN.
    """
    if not isinstance(values, list):
        raise src.error(f"expected a list of numbers, got {describe(values)}", field)
    for i, value in enumerate(values):
        if type(value) not in _NUMBER_TYPES and not (nullable and value is None):
            expected = "a number or null" if nullable else "a number"
            raise src.error(f"expected {expected}, got {describe(value)}", f"{field}[{i}]")
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def check_joints(keypoints: np.ndarray, src: Source, field_of: Callable[[int], str]) -> None:
    """Raise unless every confidence is a finite number >= 0 and every present joint has finite x, y.

    Args:
        keypoints: ``(J, 3)`` x, y, confidence of one person.
        src: Where they were read.
        field_of: Joint index -> the field named in the error.
    """
    confidence = keypoints[:, 2]
    bad = np.flatnonzero(~(np.isfinite(confidence) & (confidence >= 0)))
    if bad.size:
        j = int(bad[0])
        raise src.error(f"confidence must be a finite number >= 0, got {confidence[j]:g}", field_of(j))
    bad = np.flatnonzero((confidence > 0) & ~np.isfinite(keypoints[:, :2]).all(-1))
    if bad.size:
        j = int(bad[0])
        x, y, c = (json.dumps(float(f"{v:.6g}")) for v in keypoints[j])  # NaN, not Python's nan
        raise src.error(
            f"a present joint (confidence {c}) needs finite x and y, not null, NaN or Infinity; "
            f"got [{x}, {y}]",
            field_of(j),
        )


def person_keypoints(
    values: object,
    src: Source,
    field: str,
    layouts: Mapping[int, str],
    confidence: Mapping[float, float] | None = None,
) -> np.ndarray:
    """One person's flat keypoint list ``[x0, y0, c0, x1, y1, c1, ...]`` as BODY_18.

    Args:
        values: The parsed JSON list.
        src: Where it was read.
        field: Its field name, for errors, e.g. ``"people[0].pose_keypoints_2d"``.
        layouts: List length -> the layout it holds, e.g. ``{54: "body_18", 75: "body_25"}``.
        confidence: Optional table from the third value to a confidence (COCO's visibility flags); a value
            outside the table is an error. Default: the third value is the confidence.

    Returns:
        ``(18, 3)`` float32 BODY_18 keypoints; missing joints have confidence 0 and NaN x, y.
    """
    flat = number_array(values, src, field)
    layout = layouts.get(flat.size)
    if layout is None:
        expected = " or ".join(f"{n} ({name})" for n, name in layouts.items())
        raise src.error(f"expected {expected} numbers, got {flat.size}", field)
    keypoints = flat.reshape(-1, 3)
    joints = get_skeleton(layout).joints
    if confidence is not None:
        for j, flag in enumerate(keypoints[:, 2]):
            if flag not in confidence:
                allowed = ", ".join(f"{k:g}" for k in confidence)
                raise src.error(f"must be one of {allowed}, got {flag:g}", f"{field} joint {j} ({joints[j]})")
        keypoints[:, 2] = [confidence[flag] for flag in keypoints[:, 2]]
    check_joints(keypoints, src, lambda j: f"{field} joint {j} ({joints[j]})")
    return convert_keypoints(keypoints, layout, BODY_18.name)


def stack_people(people: Sequence[np.ndarray]) -> np.ndarray:
    """``P`` arrays of ``(18, 3)`` -> ``(P, 18, 3)`` float32 (``(0, 18, 3)`` when nobody is there)."""
    if not people:
        return np.empty((0, BODY_18.num_joints, 3), np.float32)
    return np.stack(people).astype(np.float32, copy=False)


# ---- choosing one person per frame --------------------------------------------------------------------


def bounding_box_area(people: np.ndarray) -> np.ndarray:
    """``(P, J, 3)`` -> ``(P,)`` area of the box around each person's present joints (0 with none)."""
    present = people[..., 2:3] > 0
    low = np.where(present, people[..., :2], np.inf).min(-2)
    high = np.where(present, people[..., :2], -np.inf).max(-2)
    extent = np.where(present.any(-2), high - low, 0.0)
    return extent.prod(-1)


def mean_confidence(people: np.ndarray) -> np.ndarray:
    """``(P, J, 3)`` -> ``(P,)`` mean confidence over all J joints, a missing joint counting 0, so a stray
    detection of one confident joint does not beat a whole body."""
    return people[..., 2].mean(-1)


PERSON_SCORES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "largest": bounding_box_area,
    "most_confident": mean_confidence,
}
"""Named person choosers: each scores the ``(P, J, 3)`` people of a frame; the highest score wins."""


def check_person(person: Person) -> None:
    """Raise ``ValueError`` unless ``person`` is an index >= 0 or a name in ``PERSON_SCORES``."""
    is_index = isinstance(person, int) and not isinstance(person, bool) and person >= 0
    if not is_index and person not in PERSON_SCORES:
        raise ValueError(f"person must be an index >= 0 or one of {', '.join(PERSON_SCORES)}; got {person!r}")


def choose_person(people: np.ndarray, person: Person = "largest") -> int | None:
    """Pick one person of a frame.

    Args:
        people: ``(P, J, 3)`` keypoints of everybody in the frame.
        person: An index into ``people``, ``"largest"`` (bounding box of the present joints) or
            ``"most_confident"`` (mean confidence over all joints). Ties go to the earlier person.
            Default ``"largest"``.

    Returns:
        The chosen index, or None when the frame has nobody (or fewer people than the index asks for).
    """
    check_person(person)
    if isinstance(person, int):
        return person if person < len(people) else None
    if len(people) == 0:
        return None
    return int(np.argmax(PERSON_SCORES[person](people)))


def check_threshold(threshold: float) -> None:
    """Raise ``ValueError`` unless ``threshold`` is a finite number >= 0."""
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, (int, float))
        or not 0 <= threshold < math.inf
    ):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")


def apply_threshold(keypoints: np.ndarray, threshold: float) -> np.ndarray:
    """A copy of ``(..., J, 3)`` keypoints in which joints with confidence below ``threshold`` are missing."""
    out = np.array(keypoints, dtype=np.float32)
    below = out[..., 2] < threshold
    out[below] = (np.nan, np.nan, 0.0)
    return out


def pick_people(frames: Sequence[np.ndarray], person: Person, threshold: float, whole: Source) -> np.ndarray:
    """Reduce each frame's people to one, after applying the confidence threshold.

    Args:
        frames: ``T`` arrays of ``(P_t, 18, 3)`` people.
        person: See :func:`choose_person`.
        threshold: Joints with confidence below it become missing.
        whole: The file or folder, for errors.

    Returns:
        ``(T, 18, 3)`` float32. A frame without the chosen person is all missing.

    Raises:
        PoseFormatError: with no frames, or when no frame has the chosen person with a present joint (for a
            one-frame source the error names frame 0).
    """
    check_person(person)
    check_threshold(threshold)
    out = np.full((len(frames), BODY_18.num_joints, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    for t, people in enumerate(frames):
        people = apply_threshold(people, threshold)
        chosen = choose_person(people, person)
        if chosen is not None:
            out[t] = people[chosen]
    if (out[..., 2] > 0).any():
        return out
    where = Source(whole.path, 0) if len(frames) == 1 else whole
    if not frames:
        raise where.error("no frames")
    if not any(len(people) for people in frames):
        raise where.error(f"no people in {_frames_phrase(len(frames))}", "people")
    wanted = f"person {person}" if isinstance(person, int) else "a person"
    level = f" at confidence >= {threshold:g}" if threshold > 0 else ""
    raise where.error(f"no joint of {wanted}{level} in {_frames_phrase(len(frames))}", "people")


def _frames_phrase(count: int) -> str:
    return "its only frame" if count == 1 else f"any of its {count} frames"


# ---- canvas -------------------------------------------------------------------------------------------


def canvas_side(value: object, src: Source, field: str) -> int:
    """A canvas side read from a file: a positive integer (an integral float such as 512.0 is accepted)."""
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or value <= 0:
        raise src.error(f"must be a positive integer, got {describe(value)}", field)
    return value


def resolve_canvas(
    stated: Sequence[tuple[Source, tuple[int, int]]],
    width: int | None,
    height: int | None,
    whole: Source,
    field: str | None,
) -> tuple[int, int]:
    """The one canvas of a sequence, from what its frames state and what the caller passed.

    Args:
        stated: ``(where, (width, height))`` for each frame that states a canvas.
        width, height: The caller's canvas, used when no frame states one; when frames do, it must agree.
        whole: The file or folder, for errors.
        field: The canvas field of this format, for errors, e.g. ``"canvas_width"``; None if it has none.

    Returns:
        ``(width, height)`` in pixels.
    """
    given = _given_canvas(width, height)
    if stated:
        first_src, first = stated[0]
        for src, size in stated[1:]:
            if size != first:
                raise src.error(
                    f"canvas {size[0]}x{size[1]} differs from {first[0]}x{first[1]} in frame "
                    f"{first_src.frame}; a pose sequence has one canvas",
                    field,
                )
        if given is not None and given != first:
            raise whole.error(
                f"the file states a {first[0]}x{first[1]} canvas but width={given[0]}, height={given[1]} "
                "were passed; leave them out or fix the file",
                field,
            )
        return first
    if given is None:
        raise MissingCanvasError(
            "the file states no canvas size; give it: --canvas WxH, or --canvas-from the image or video the "
            "poses came from (width=, height= in Python)",
            path=whole.path,
            field=field,
        )
    return given


def _given_canvas(width: int | None, height: int | None) -> tuple[int, int] | None:
    if width is None and height is None:
        return None
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer (pass both width and height), got {value!r}")
    return width, height  # type: ignore[return-value]


# ---- assembling and writing ---------------------------------------------------------------------------


def check_fps(fps: float) -> None:
    """Raise ``ValueError`` unless ``fps`` is a finite number > 0."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps < math.inf:
        raise ValueError(f"fps must be a positive number, got {fps!r}")


def build_sequence(keypoints: np.ndarray, width: int, height: int, fps: float, path: Path) -> PoseSequence:
    """A BODY_18 ``PoseSequence``; its validation errors are attributed to ``path``."""
    check_fps(fps)
    try:
        return PoseSequence(keypoints, width, height, fps=fps)
    except PoseFormatError as err:
        raise err.at(path) from None


def float32_text(value: float) -> str:
    """The shortest decimal that reads back as the same float32, e.g. ``"0.1"`` rather than
    ``"0.10000000149011612"``: files stay small and round trips stay exact."""
    return str(np.float32(value))


def float32_values(values: np.ndarray) -> list[float]:
    """``values`` as Python floats that ``json.dumps`` writes with :func:`float32_text`'s digits."""
    return [float(float32_text(v)) for v in np.asarray(values, np.float32).ravel()]
