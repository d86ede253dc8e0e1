"""Procedural motions on a small 3D skeleton: walk, run, wave, jumping jack, squat, dance and turn.

A motion is a set of joint-angle curves, each a short sum of sinusoids of the loop phase, plus root motion
(hops, the flight of a run, a turn about the vertical) with the feet kept on the ground. Forward kinematics
turns the angles into 3D joints; an orthographic camera turns those into BODY_18 keypoints in pixels, with
per-joint depth. Every clip holds a whole number of cycles, so frame ``frames`` would equal frame 0 and
clips loop seamlessly.

``MOTIONS`` is the registry: a :class:`Motion` added to it is available to :func:`make_motion` by name.

Conventions:

- Body frame: x is the figure's left, y up, z the way it faces. Angles are in degrees.
- Camera frame (what :func:`motion_joints_3d` returns): x to the image's right, y up with the ground at
  y = 0, z towards the camera, in units of body height. At yaw 0 the figure faces the camera, so its
  right side is on the image's left, as in a photo of a person facing you. Yaw 90 turns the figure to
  face the image's right.
- Projection is orthographic: pixels are camera x, y scaled and shifted to frame the whole motion; depth is
  ``CAMERA_DISTANCE - z``, the distance from a camera that nominally stands that many body heights in
  front of the figure.

Joint angles (see ``JOINT_ANGLES``), per side for ``left_*`` / ``right_*``:

- ``hip_flex``, ``shoulder_flex``: limb swings forward; ``knee`` bends the shin back; ``elbow`` bends the
  forearm forward.
- ``hip_abduct``, ``shoulder_abduct``: limb raises sideways, away from the body.
- ``hip_twist``, ``shoulder_twist``: rotation about the limb's own axis, outwards (knee or elbow bend
  turns away from the body).
- ``spine_bend`` leans the chest forward, ``spine_side`` bends it towards the figure's left,
  ``spine_twist`` and ``pelvis_twist`` turn to the figure's left, ``pelvis_roll`` raises the left hip,
  ``head_nod`` tips the face down, ``head_turn`` turns it to the figure's left, ``head_tilt`` tilts it
  towards the left shoulder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce

import numpy as np

from ..checks import check_count, check_number, lookup
from .proportions import BodyProportions
from .sequence import PoseSequence
from .skeleton import BODY_18

_TAU = 2.0 * np.pi

# The nominal camera distance that depth is measured from, in body heights.
CAMERA_DISTANCE = 4.0

# A clip is framed from the motion sampled this densely (plus its own frames), so that clips of one motion
# with different frame counts are framed alike: 48 frames land where every other frame of 96 does.
_SAMPLES_PER_CYCLE = 256

# Arms hang slightly away from the thighs in a relaxed stance; every motion's shoulder abduction adds to it.
_REST_SHOULDER_ABDUCT = 6.0


# --------------------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """A periodic function of the loop phase: ``mean + sum(a * cos(2 pi k (phase - peak)))``.

    Args:
        mean: Constant term.
        terms: ``(harmonic k, amplitude a, peak)`` triples; a term peaks at ``phase = peak`` (in cycles).
    """

    mean: float = 0.0
    terms: tuple[tuple[int, float, float], ...] = ()

    def __call__(self, phase: np.ndarray) -> np.ndarray:
        """Values at ``phase`` (any shape, in cycles), as float64 of the same shape."""
        out = np.full(np.shape(phase), self.mean, dtype=np.float64)
        for harmonic, amplitude, peak in self.terms:
            out += amplitude * np.cos(_TAU * harmonic * (phase - peak))
        return out

    def shifted(self, cycles: float) -> Curve:
        """The same curve delayed by ``cycles``."""
        return Curve(self.mean, tuple((k, a, p + cycles) for k, a, p in self.terms))

    def scaled(self, factor: float) -> Curve:
        """The curve multiplied by ``factor``."""
        return Curve(self.mean * factor, tuple((k, a * factor, p) for k, a, p in self.terms))


def sinusoid(mean: float, amplitude: float, peak: float = 0.0, harmonic: int = 1) -> Curve:
    """``mean + amplitude * cos(2 pi harmonic (phase - peak))``: peaks at ``phase = peak``."""
    return Curve(mean, ((harmonic, amplitude, peak),))


def ease(low: float, high: float, peak: float = 0.5) -> Curve:
    """Goes smoothly from ``low`` (half a cycle from ``peak``) to ``high`` (at ``peak``) and back."""
    return sinusoid((low + high) / 2, (high - low) / 2, peak)


def keyed(*keys: tuple[float, float], harmonics: int = 5) -> Curve:
    """A smooth loop through animation keys, like the tables of gait studies.

    Args:
        keys: ``(phase, value)`` pairs with phases in [0, 1), in increasing order; the curve wraps from
            the last key back to the first.
        harmonics: How many harmonics to keep; fewer gives a smoother curve that misses the keys more.

    Returns:
        The first ``harmonics`` terms of the Fourier series of the keys joined by straight lines.
    """
    phases, values = np.asarray(keys, dtype=np.float64).T
    grid = np.arange(256) / 256
    spectrum = np.fft.rfft(np.interp(grid, phases, values, period=1.0)) / grid.size
    terms = tuple(
        (k, float(2 * abs(spectrum[k])), float(-np.angle(spectrum[k]) / (_TAU * k)))
        for k in range(1, harmonics + 1)
    )
    return Curve(float(spectrum[0].real), terms)


def _sides(left_shift: float = 0.0, **curves: Curve) -> dict[str, Curve]:
    """``right_<name>`` as given and ``left_<name>`` delayed by ``left_shift`` cycles (0.5 for gaits)."""
    out = {f"right_{name}": curve for name, curve in curves.items()}
    out.update({f"left_{name}": curve.shifted(left_shift) for name, curve in curves.items()})
    return out


# --------------------------------------------------------------------------------------------------------
# Motions
# --------------------------------------------------------------------------------------------------------

_LIMB_ANGLES = (
    "shoulder_flex", "shoulder_abduct", "shoulder_twist", "elbow",
    "hip_flex", "hip_abduct", "hip_twist", "knee",
)  # fmt: skip
JOINT_ANGLES: tuple[str, ...] = (
    "pelvis_twist", "pelvis_roll", "spine_bend", "spine_side", "spine_twist", "head_nod", "head_turn",
    "head_tilt",
    *(f"{side}_{name}" for side in ("right", "left") for name in _LIMB_ANGLES),
)  # fmt: skip


@dataclass(frozen=True)
class Motion:
    """A looping motion.

    Args:
        description: One line for listings.
        period: Natural length of one cycle in seconds; a clip holds a whole number of cycles.
        yaw: Default camera yaw in degrees (0: the figure faces the camera; 90: it faces the image's right).
        angles: Joint-angle curves in degrees, keyed by names from ``JOINT_ANGLES``; a missing angle is 0.
        lift: Height of the lowest sole above the ground, in body heights (hops, the flight of a run).
        turns: Full turns about the vertical over the whole clip, towards the figure's left.
        plant_feet: Keep the midpoint of the ankles still (the pelvis moves, as in a squat) instead of the
            pelvis (walking on a treadmill).
    """

    description: str
    period: float
    yaw: float
    angles: Mapping[str, Curve]
    lift: Curve = Curve()
    turns: float = 0.0
    plant_feet: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.angles) - set(JOINT_ANGLES))
        if unknown:
            raise ValueError(f"unknown joint angle(s) {', '.join(unknown)}; known: {', '.join(JOINT_ANGLES)}")


# Phase 0 of walk and run is the right heel strike; the left leg runs half a cycle behind. Thigh and knee
# keys follow the sagittal angles of gait studies (Winter's normal walking and running data), with the
# thigh measured from the vertical since the pelvis stays upright.
_WALK = Motion(
    description="walking in place, as on a treadmill",
    period=1.1,
    yaw=60.0,
    angles={
        **_sides(
            0.5,
            hip_flex=keyed((0.0, 24), (0.12, 21), (0.3, 3), (0.52, -17), (0.62, -10), (0.75, 12), (0.87, 27)),
            knee=keyed(
                (0.0, 4), (0.14, 17), (0.38, 4), (0.5, 10), (0.62, 40), (0.72, 62), (0.82, 45), (0.93, 10)
            ),  # fmt: skip
            hip_abduct=Curve(-2.0),
            # The arms swing against the legs: the right arm is forward at the left heel strike.
            shoulder_flex=sinusoid(2.0, 16.0, peak=0.5),
            elbow=sinusoid(18.0, 8.0, peak=0.5),
        ),
        "pelvis_twist": sinusoid(0.0, 5.0, peak=0.0),
        "pelvis_roll": sinusoid(0.0, 4.0, peak=0.65),
        "spine_twist": sinusoid(0.0, 9.0, peak=0.5),
        "spine_bend": Curve(3.0),
    },
)

_RUN = Motion(
    description="running in place, as on a treadmill",
    period=0.72,
    yaw=60.0,
    angles={
        **_sides(
            0.5,
            hip_flex=keyed((0.0, 28), (0.15, 12), (0.35, -18), (0.45, -12), (0.6, 20), (0.78, 48), (0.9, 40)),
            knee=keyed((0.0, 18), (0.15, 42), (0.33, 18), (0.45, 50), (0.62, 105), (0.78, 75), (0.92, 25)),
            shoulder_flex=sinusoid(0.0, 35.0, peak=0.5),
            shoulder_abduct=Curve(6.0),
            elbow=sinusoid(85.0, 15.0, peak=0.5),
        ),
        "pelvis_twist": sinusoid(0.0, 6.0, peak=0.0),
        "spine_twist": sinusoid(0.0, 12.0, peak=0.5),
        "spine_bend": Curve(10.0),
        "head_nod": Curve(-8.0),
    },
    # Both feet leave the ground after each toe-off (phases 0.35 and 0.85).
    lift=keyed((0.0, 0), (0.35, 0), (0.425, 0.035), (0.5, 0), (0.85, 0), (0.925, 0.035), harmonics=8),
)

_WAVE = Motion(
    description="waving hello with the right hand",
    period=0.8,
    yaw=15.0,
    angles={
        "right_shoulder_abduct": sinusoid(55.0, 4.0, peak=0.0),
        "right_shoulder_flex": Curve(20.0),
        "right_shoulder_twist": Curve(85.0),
        "right_elbow": sinusoid(115.0, 30.0, peak=0.0),
        "left_elbow": Curve(10.0),
        **_sides(hip_flex=Curve(2.0), knee=Curve(4.0)),
        "spine_side": sinusoid(0.0, 2.0, peak=0.5),
        "head_tilt": sinusoid(0.0, 4.0, peak=0.5),
    },
)

_JUMPING_JACK = Motion(
    description="jumping jacks: hop to feet apart with arms overhead, hop back",
    period=1.0,
    yaw=0.0,
    angles=_sides(
        shoulder_abduct=ease(0.0, 168.0),
        elbow=ease(5.0, 15.0),
        hip_abduct=ease(0.0, 15.0),
        # The knees give on each landing (phases 0 and 0.5).
        knee=keyed((0.0, 18), (0.1, 8), (0.25, 4), (0.42, 10), (0.5, 18), (0.6, 8), (0.75, 4), (0.92, 10)),
        hip_flex=keyed((0.0, 9), (0.1, 4), (0.25, 2), (0.42, 5), (0.5, 9), (0.6, 4), (0.75, 2), (0.92, 5)),
    ),
    lift=keyed((0.0, 0), (0.08, 0), (0.25, 0.05), (0.42, 0), (0.58, 0), (0.75, 0.05), (0.92, 0), harmonics=8),
)

_SQUAT = Motion(
    description="bodyweight squats with arms reaching forward",
    period=2.4,
    yaw=45.0,
    angles={
        **_sides(
            hip_flex=ease(0.0, 95.0),
            knee=ease(0.0, 120.0),
            shoulder_flex=ease(0.0, 120.0),
            elbow=Curve(8.0),
        ),
        "spine_bend": ease(0.0, 35.0),
        "head_nod": ease(0.0, -20.0),
    },
    plant_feet=True,
)

# Four beats per cycle at 120 bpm. The weight shifts over planted feet by tilting both legs the same way
# (the pelvis rolls up on the weight-bearing side, the free knee relaxes), knees bounce on every beat, and
# the arm on the weight side punches up.
_DANCE = Motion(
    description="weight shifts from foot to foot with alternating arm punches",
    period=2.0,
    yaw=20.0,
    angles={
        **_sides(
            0.5,
            hip_abduct=sinusoid(8.0, 10.0, peak=0.5),
            hip_flex=Curve(10.0, ((1, 5.0, 0.5), (4, 5.0, 0.0))),
            knee=Curve(20.0, ((1, 10.0, 0.5), (4, 10.0, 0.0))),
            shoulder_flex=keyed((0.0, 150), (0.12, 70), (0.25, 35), (0.5, 30), (0.75, 35), (0.88, 70)),
            shoulder_abduct=keyed((0.0, 40), (0.25, 15), (0.5, 10), (0.75, 15)),
            elbow=keyed((0.0, 10), (0.12, 50), (0.25, 95), (0.5, 100), (0.75, 95), (0.88, 50)),
        ),
        "pelvis_roll": sinusoid(0.0, 4.0, peak=0.5),
        "spine_side": sinusoid(0.0, 6.0, peak=0.5),
        "spine_twist": sinusoid(0.0, 10.0, peak=0.0),
        "head_nod": sinusoid(0.0, 5.0, peak=0.0, harmonic=4),
        "head_turn": sinusoid(0.0, 15.0, peak=0.5),
    },
    plant_feet=True,
)

_TURN = Motion(
    description="turning on the spot through 360 degrees with small steps",
    period=0.9,
    yaw=0.0,
    angles={
        **_sides(
            0.5,
            hip_flex=ease(0.0, 14.0, peak=0.25),
            knee=ease(0.0, 28.0, peak=0.25),
            shoulder_abduct=Curve(4.0),
            elbow=Curve(15.0),
        ),
        # The head and chest lead the turn.
        "head_turn": Curve(12.0),
        "spine_twist": Curve(5.0),
    },
    turns=1.0,
)

MOTIONS: dict[str, Motion] = {
    "walk": _WALK,
    "run": _RUN,
    "wave": _WAVE,
    "jumping_jack": _JUMPING_JACK,
    "squat": _SQUAT,
    "dance": _DANCE,
    "turn": _TURN,
}


def list_motions() -> list[str]:
    """Names of the registered motions, in registry order."""
    return list(MOTIONS)


def _lookup(name: str) -> Motion:
    return lookup(MOTIONS, name, "motion")


# --------------------------------------------------------------------------------------------------------
# Kinematics
# --------------------------------------------------------------------------------------------------------

# Face landmarks in the head's frame (x left, y up, z forward), in head lengths, with y measured up from
# the chin. The head turns about the neck joint.
_FACE: dict[str, tuple[float, float, float]] = {
    "nose": (0.0, 0.33, 0.55),
    "right_eye": (-0.15, 0.5, 0.42),
    "left_eye": (0.15, 0.5, 0.42),
    "right_ear": (-0.36, 0.42, 0.0),
    "left_ear": (0.36, 0.42, 0.0),
}
_CROWN = (0.0, 1.0, 0.0)

# A detector reports a face landmark only while the surface it sits on faces the camera: the landmark's
# outward direction (head frame) must point towards the camera with a cosine above the threshold. So the
# far eye goes missing in profile, the nose, which sticks out, about 20 degrees past profile (as the near
# eye does), and an ear once the head has turned about 30 degrees away from it.
_FACE_VISIBILITY: dict[str, tuple[tuple[float, float, float], float]] = {
    "nose": ((0.0, 0.0, 1.0), -0.35),
    "right_eye": ((-0.33, 0.0, 0.94), 0.0),
    "left_eye": ((0.33, 0.0, 0.94), 0.0),
    "right_ear": ((-1.0, 0.0, 0.0), -0.5),
    "left_ear": ((1.0, 0.0, 0.0), -0.5),
}

_X, _Y, _Z = 0, 1, 2


def _rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` right-handed rotations about ``axis`` (0, 1, 2 for x, y, z) by ``degrees`` (T,)."""
    radians = np.radians(degrees)
    cos, sin = np.cos(radians), np.sin(radians)
    i, j = ((1, 2), (2, 0), (0, 1))[axis]
    out = np.zeros((radians.size, 3, 3))
    out[:, axis, axis] = 1.0
    out[:, i, i] = out[:, j, j] = cos
    out[:, i, j], out[:, j, i] = -sin, sin
    return out


def _compose(*rotations: np.ndarray) -> np.ndarray:
    return reduce(np.matmul, rotations)


@dataclass(frozen=True)
class _Pose3D:
    """Solved 3D pose in the camera frame: ``joints`` (T, 18, 3) in BODY_18 order, the top of the head
    ``crown`` (T, 3) and the head's orientation ``head`` (T, 3, 3)."""

    joints: np.ndarray
    crown: np.ndarray
    head: np.ndarray


@dataclass(frozen=True)
class _Rig:
    """A motion bound to a body, a camera yaw and an amplitude, ready to be posed at any phase."""

    motion: Motion
    body: BodyProportions
    yaw: float
    angles: dict[str, Curve]
    lift: Curve

    def solve(self, clip_phase: np.ndarray, cycles: int) -> _Pose3D:
        """Pose the skeleton at ``clip_phase`` (T,) in [0, 1) of a clip holding ``cycles`` cycles."""
        phase = cycles * clip_phase
        zero = np.zeros_like(phase)

        def angle(name: str) -> np.ndarray:
            curve = self.angles.get(name)
            return zero if curve is None else curve(phase)

        b = self.body
        # 1. Pelvis and spine, with the pelvis at the origin.
        facing = _rotation(_Y, self.yaw + 360.0 * self.motion.turns * clip_phase)
        pelvis = _compose(facing, _rotation(_Y, angle("pelvis_twist")), _rotation(_Z, angle("pelvis_roll")))
        chest = _compose(
            pelvis,
            _rotation(_Y, angle("spine_twist")),
            _rotation(_X, angle("spine_bend")),
            _rotation(_Z, -angle("spine_side")),
        )
        neck = chest @ np.array([0.0, b.torso, 0.0])
        head = _compose(
            chest,
            _rotation(_Y, angle("head_turn")),
            _rotation(_X, angle("head_nod")),
            _rotation(_Z, -angle("head_tilt")),
        )
        joints = {"neck": neck}
        for name, (x, y, z) in _FACE.items():
            joints[name] = neck + head @ (np.array([x, y, z]) * b.head + [0.0, b.neck, 0.0])

        # 2. Limbs: sign +1 on the left; mirroring flips rotations about the y and z axes on the right.
        for side, sign in (("left", 1.0), ("right", -1.0)):
            shoulder = neck + chest @ np.array([sign * b.shoulder_width / 2, 0.0, 0.0])
            hip = pelvis @ np.array([sign * b.hip_width / 2, 0.0, 0.0])
            elbow, wrist = _limb(
                chest, shoulder, sign, (b.upper_arm, b.forearm),
                flex=angle(f"{side}_shoulder_flex"),
                abduct=angle(f"{side}_shoulder_abduct") + _REST_SHOULDER_ABDUCT,
                twist=angle(f"{side}_shoulder_twist"),
                bend=-angle(f"{side}_elbow"),
            )  # fmt: skip
            knee, ankle = _limb(
                pelvis, hip, sign, (b.thigh, b.shin),
                flex=angle(f"{side}_hip_flex"),
                abduct=angle(f"{side}_hip_abduct"),
                twist=angle(f"{side}_hip_twist"),
                bend=angle(f"{side}_knee"),
            )  # fmt: skip
            joints.update({
                f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
                f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
            })  # fmt: skip
        points = np.stack([joints[name] for name in BODY_18.joints], axis=1)  # (T, 18, 3)
        crown = neck + head @ (np.array(_CROWN) * b.head + [0.0, b.neck, 0.0])

        # 3. Root motion: the lower sole touches the ground unless the motion lifts the body off it (a
        #    lift below zero would push a foot through the floor).
        ankles = points[:, [BODY_18.index("right_ankle"), BODY_18.index("left_ankle")]]  # (T, 2, 3)
        offset = np.zeros_like(neck)
        offset[:, 1] = np.maximum(self.lift(phase), 0.0) + b.ankle_height - ankles[..., 1].min(axis=1)
        if self.motion.plant_feet:
            offset[:, [0, 2]] = -ankles[..., [0, 2]].mean(axis=1)
        return _Pose3D(points + offset[:, None], crown + offset, head)


def _limb(
    parent: np.ndarray,
    base: np.ndarray,
    sign: float,
    lengths: tuple[float, float],
    *,
    flex: np.ndarray,
    abduct: np.ndarray,
    twist: np.ndarray,
    bend: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joints ``(T, 3)`` of a two-bone limb hanging from ``base`` (T, 3) on a ``parent``
    frame (T, 3, 3). ``bend`` rotates the lower bone about the limb's x axis (positive = backwards)."""
    upper = _compose(parent, _swing(-flex, sign * abduct), _rotation(_Y, sign * twist))
    middle = base + upper @ np.array([0.0, -lengths[0], 0.0])
    lower = upper @ _rotation(_X, bend)
    return middle, middle + lower @ np.array([0.0, -lengths[1], 0.0])


def _swing(about_x: np.ndarray, about_z: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotations by the rotation vector ``(about_x, 0, about_z)`` in degrees.

    A limb raised this way swings straight towards the direction its flexion and abduction mix to, by the
    combined angle; applying the two one after the other would instead carry a limb raised far forward
    across the body.
    """
    x, z = np.radians(about_x), np.radians(about_z)
    angle = np.hypot(x, z)[:, None, None]
    cross = np.zeros((len(x), 3, 3))  # the matrix of v x (.) for v = (x, 0, z)
    cross[:, 0, 1], cross[:, 1, 0] = -z, z
    cross[:, 1, 2], cross[:, 2, 1] = -x, x
    # Rodrigues' formula with sin(a) / a and (1 - cos(a)) / a^2, which stay finite at a = 0.
    sinc = np.sinc(angle / np.pi)
    cosc = 0.5 * np.sinc(angle / (2 * np.pi)) ** 2
    return np.eye(3) + sinc * cross + cosc * cross @ cross


def _make_rig(
    motion: Motion,
    proportions: BodyProportions | None,
    yaw: float | None,
    amplitude: float,
    seed: int | None,
) -> _Rig:
    """Bind ``motion`` to a body (normalised to unit height), a yaw and an amplitude. A ``seed`` gives every
    joint angle its own small change of size (up to 15%) and timing (up to 2% of a cycle), as two
    performances of one motion differ; left and right change alike, so symmetric motions stay symmetric."""
    curves = {**motion.angles, "lift": motion.lift}
    curves = {name: curve.scaled(amplitude) for name, curve in curves.items()}
    if seed is not None:
        rng = np.random.default_rng(seed)
        joints = sorted({_without_side(name) for name in curves})
        style = {joint: (1.0 + rng.uniform(-0.15, 0.15), rng.uniform(-0.02, 0.02)) for joint in joints}
        curves = {
            name: curve.scaled(style[_without_side(name)][0]).shifted(style[_without_side(name)][1])
            for name, curve in curves.items()
        }
    body = (proportions or BodyProportions()).normalized()
    return _Rig(
        motion=motion,
        body=body,
        yaw=motion.yaw if yaw is None else float(yaw),
        angles={name: curves[name] for name in motion.angles},
        lift=curves["lift"],
    )


def _without_side(name: str) -> str:
    return name.removeprefix("left_").removeprefix("right_")


# --------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------


def motion_joints_3d(
    name: str,
    frames: int = 48,
    fps: float = 24.0,
    proportions: BodyProportions | None = None,
    *,
    yaw: float | None = None,
    amplitude: float = 1.0,
    cycles: int | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """3D joints of a motion in the camera frame (see the module docstring), in units of body height.

    Takes the same arguments as :func:`make_motion` and poses the same skeleton, before the camera's pitch
    and the projection to pixels.

    Returns:
        ``(frames, 18, 3)`` float64 BODY_18 joints: x to the image's right, y up with the ground at 0,
        z towards the camera. Face joints are included whether or not they face the camera.
    """
    motion = _lookup(name)
    _check_common(frames, fps, yaw, amplitude, cycles)
    rig = _make_rig(motion, proportions, yaw, amplitude, seed)
    return rig.solve(np.arange(frames) / frames, _num_cycles(motion, frames, fps, cycles)).joints


def make_motion(
    name: str,
    frames: int = 48,
    fps: float = 24.0,
    width: int = 512,
    height: int = 512,
    proportions: BodyProportions | None = None,
    *,
    yaw: float | None = None,
    pitch: float = 0.0,
    amplitude: float = 1.0,
    cycles: int | None = None,
    margin: float = 0.1,
    seed: int | None = None,
) -> PoseSequence:
    """A looping BODY_18 pose sequence of a procedural motion, with depth.

    Args:
        name: One of :func:`list_motions` (walk, run, wave, jumping_jack, squat, dance, turn).
        frames: Number of frames, >= 1. Default 48. The clip loops: frame ``frames`` would equal frame 0.
        fps: Frame rate, > 0. Default 24. With ``frames`` it sets the clip's duration, and so how many
            cycles of the motion play at their natural speed.
        width: Canvas width in pixels. Default 512.
        height: Canvas height in pixels. Default 512.
        proportions: Body segment lengths (normalised to unit height); default average adult proportions.
        yaw: Camera yaw in degrees: 0 sees the figure from the front, 90 facing the image's right, 180 from
            behind. Default per motion: 60 walk and run (a three-quarter view close to profile, where
            the legs read best), 15 wave, 0 jumping_jack, 45 squat, 20 dance, 0 turn (which then turns
            through 360 degrees over the clip).
        pitch: Camera elevation in degrees; positive looks down on the figure from above. Default 0.
        amplitude: Scale of every joint angle and hop; 0 gives the rest pose (standing, arms
            hanging), 1 the motion as designed. The turn of ``turn`` is not scaled. Default 1.
        cycles: Number of motion cycles in the clip, >= 1. Default: as many as fit the clip's duration at
            the motion's natural speed, at least one.
        margin: Fraction of the canvas height (and width) kept free on every side, in [0, 0.5). Default
            0.1, so a standing figure is 80% of the canvas height from crown to sole.
        seed: With a seed, every curve gets a small random change of size and timing (still looping);
            without, the motion is exactly as designed. Default None.

    Returns:
        A :class:`PoseSequence` of ``frames`` frames at ``fps``, keypoints ``(frames, 18, 3)`` in pixels
        and ``depth`` ``(frames, 18)`` in body heights from the camera. The projection is orthographic,
        scaled and centred so that every frame of the motion, top of the head to soles, lies inside the
        margins, with the figure's pelvis centred horizontally and the ground near the bottom. Body
        joints always have confidence 1; nose, eyes and ears have confidence 0 while they face away from
        the camera.

    Raises:
        ValueError: for an unknown motion or an out-of-range option.
    """
    motion = _lookup(name)
    _check_common(frames, fps, yaw, amplitude, cycles)
    check_count("width", width)
    check_count("height", height)
    check_number("pitch", pitch, lambda v: -90 < v < 90, "between -90 and 90 degrees")
    check_number("margin", margin, lambda v: 0 <= v < 0.5, "in [0, 0.5), a fraction of the canvas")

    rig = _make_rig(motion, proportions, yaw, amplitude, seed)
    num_cycles = _num_cycles(motion, frames, fps, cycles)
    pose = rig.solve(np.arange(frames) / frames, num_cycles)
    samples = _SAMPLES_PER_CYCLE * num_cycles
    dense = rig.solve(np.arange(samples) / samples, num_cycles)
    tilt = _rotation(_X, np.array([pitch]))[0]
    outline = np.concatenate([_outline(dense, rig.body), _outline(pose, rig.body)])  # (N, P, 3)
    to_pixels = _fit_canvas(outline @ tilt.T, width, height, margin)

    view = pose.joints @ tilt.T  # (T, 18, 3)
    keypoints = np.empty((frames, BODY_18.num_joints, 3), dtype=np.float32)
    keypoints[..., :2] = to_pixels(view)
    keypoints[..., 2] = 1.0
    for joint, (normal, threshold) in _FACE_VISIBILITY.items():
        towards_camera = (tilt @ pose.head @ np.array(normal))[:, 2]  # (T,) cosine
        keypoints[:, BODY_18.index(joint), 2] = towards_camera > threshold
    return PoseSequence(keypoints, width, height, fps=fps, depth=CAMERA_DISTANCE - view[..., 2])


def _outline(pose: _Pose3D, body: BodyProportions) -> np.ndarray:
    """``(T, 21, 3)``: the joints plus the crown and both soles, which a drawn figure also covers."""
    ankles = pose.joints[:, [BODY_18.index("right_ankle"), BODY_18.index("left_ankle")]]
    soles = ankles - np.array([0.0, body.ankle_height, 0.0])
    return np.concatenate([pose.joints, pose.crown[:, None], soles], axis=1)


def _fit_canvas(
    view: np.ndarray, width: int, height: int, margin: float
) -> Callable[[np.ndarray], np.ndarray]:
    """The orthographic map from camera-frame points to pixels that frames a motion.

    Args:
        view: ``(N, P, 3)`` points of the whole motion after the camera's pitch, P >= 18 with the BODY_18
            joints first (the pelvis is the midpoint of the hips).

    Returns:
        A function from ``(..., 3)`` points to ``(..., 2)`` pixel x, y. A body height spans ``1 - 2 margin``
        of the canvas height, less if the motion reaches higher (arms overhead, jumps) or wider than the
        canvas allows; the pelvis's mean x is centred and the lowest point sits on the bottom margin.
    """
    x, y = view[..., 0], view[..., 1]
    pelvis_x = (x[:, BODY_18.index("right_hip")] + x[:, BODY_18.index("left_hip")]).mean() / 2
    half_width = max(np.abs(x - pelvis_x).max(), 1e-6)
    bottom = y.min()
    scale = min(
        (height - 1) * (1 - 2 * margin) / max(y.max() - bottom, 1.0),
        (width - 1) * (1 - 2 * margin) / (2 * half_width),
    )

    def to_pixels(points: np.ndarray) -> np.ndarray:
        u = (width - 1) / 2 + scale * (points[..., 0] - pelvis_x)
        v = (height - 1) * (1 - margin) - scale * (points[..., 1] - bottom)
        return np.stack([u, v], axis=-1)

    return to_pixels


def _num_cycles(motion: Motion, frames: int, fps: float, cycles: int | None) -> int:
    if cycles is not None:
        return cycles
    return max(1, round(frames / fps / motion.period))


def _check_common(frames: int, fps: float, yaw: float | None, amplitude: float, cycles: int | None) -> None:
    check_count("frames", frames)
    check_number("fps", fps, lambda v: v > 0, "a positive number")
    if yaw is not None:
        check_number("yaw", yaw, lambda v: True, "a finite number of degrees")
    check_number("amplitude", amplitude, lambda v: v >= 0, "a number >= 0 (1 = as designed)")
    if cycles is not None:
        check_count("cycles", cycles)
