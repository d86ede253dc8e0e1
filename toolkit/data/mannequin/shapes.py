"""Shapes the mannequin is built from, each evaluated on a pixel grid as a signed distance field.

A signed distance (negative inside, in pixels) gives the three things the renderer needs from one
evaluation: the exact part label at each pixel centre (``sdf < 0``), anti-aliased coverage
(``clip(0.5 - sdf, 0, 1)``) and a soft shading term. Every shape also carries a frame (origin and axis)
that gives each pixel coordinates along and across the part, so patterns stick to the part.

Grids are passed as ``xs`` ``(1, w)`` and ``ys`` ``(h, 1)`` float32 pixel centres; results are ``(h, w)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

Point = tuple[float, float]
Bounds = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max


@dataclass(frozen=True)
class Surface:
    """One shape evaluated on a grid; every array is ``(h, w)`` float32.

    Attributes:
        sdf: Signed distance to the outline in pixels, negative inside.
        u: Pixels along the shape's axis from its origin.
        v: Pixels across the axis, along the axis turned a quarter turn from image x towards image y.
        n: 0 on the shape's core, rising to 1 at its outline; drives the edge darkening.
    """

    sdf: np.ndarray
    u: np.ndarray
    v: np.ndarray
    n: np.ndarray


class Shape(Protocol):
    def bounds(self) -> Bounds: ...

    def surface(self, xs: np.ndarray, ys: np.ndarray) -> Surface: ...


def unit(dx: float, dy: float, default: Point = (0.0, 1.0)) -> Point:
    """``(dx, dy)`` scaled to length 1, or ``default`` when it is (almost) zero."""
    length = float(np.hypot(dx, dy))
    return (float(dx) / length, float(dy) / length) if length > 1e-6 else default


def _frame(xs: np.ndarray, ys: np.ndarray, origin: Point, axis: Point) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along and across ``axis`` (a unit vector) from ``origin``: ``(h, w)`` each."""
    px, py = xs - origin[0], ys - origin[1]
    return px * axis[0] + py * axis[1], py * axis[0] - px * axis[1]


@dataclass(frozen=True)
class Capsule:
    """A tapered capsule: the segment ``a -> b`` swept by a disc whose radius goes from ``radius_a`` to
    ``radius_b``. Its frame starts at ``a`` and runs along the segment. Radii are in pixels, > 0."""

    a: Point
    b: Point
    radius_a: float
    radius_b: float

    def bounds(self) -> Bounds:
        (ax, ay), (bx, by), ra, rb = self.a, self.b, self.radius_a, self.radius_b
        return min(ax - ra, bx - rb), min(ay - ra, by - rb), max(ax + ra, bx + rb), max(ay + ra, by + rb)

    def surface(self, xs: np.ndarray, ys: np.ndarray) -> Surface:
        dx, dy = self.b[0] - self.a[0], self.b[1] - self.a[1]
        length = float(np.hypot(dx, dy))
        u, v = _frame(xs, ys, self.a, unit(dx, dy))
        # The radius is taken at the nearest point of the segment: exact for an even capsule and within a
        # small fraction of a pixel for the gentle tapers of limbs.
        t = np.clip(u * (1.0 / max(length, 1e-6)), 0.0, 1.0)
        beyond = u - t * length
        distance = np.sqrt(beyond * beyond + v * v)
        radius = self.radius_a + (self.radius_b - self.radius_a) * t
        return Surface(distance - radius, u, v, np.minimum(distance / radius, 1.0))


@dataclass(frozen=True)
class Ellipse:
    """An ellipse centred at ``center`` with semi-axis ``semi_up`` along the unit vector ``up`` and
    ``semi_across`` across it (pixels, > 0). Its frame starts at the centre and runs along ``up``."""

    center: Point
    up: Point
    semi_up: float
    semi_across: float

    def bounds(self) -> Bounds:
        r = max(self.semi_up, self.semi_across)
        return self.center[0] - r, self.center[1] - r, self.center[0] + r, self.center[1] + r

    def surface(self, xs: np.ndarray, ys: np.ndarray) -> Surface:
        u, v = _frame(xs, ys, self.center, self.up)
        a, c = u * (1.0 / self.semi_up), v * (1.0 / self.semi_across)
        rho = np.sqrt(a * a + c * c)
        # Scaling the normalised radius by the mean semi-axis is a distance to within a few per cent for
        # head-like aspect ratios, which is all the one-pixel edge ramp needs.
        sdf = (rho - 1.0) * float(np.sqrt(self.semi_up * self.semi_across))
        return Surface(sdf, u, v, np.minimum(rho, 1.0))


@dataclass(frozen=True)
class Hull:
    """A convex polygon given by its edges; build one with :meth:`around_discs`.

    Args:
        vertices: ``(E, 2)`` corners in pixels.
        normals: ``(E, 2)`` float32 outward unit normals of the edges.
        offsets: ``(E,)`` float32: a point ``p`` is inside edge ``e`` when ``normals[e] . p < offsets[e]``.
        origin: Start of the frame.
        axis: Unit vector of the frame.
        half_width: Half the polygon's extent across the axis, in pixels; scales the shading.
    """

    vertices: np.ndarray
    normals: np.ndarray
    offsets: np.ndarray
    origin: Point
    axis: Point
    half_width: float

    @classmethod
    def around_discs(cls, centers: np.ndarray, radii: np.ndarray, origin: Point, axis: Point) -> Hull:
        """The convex hull of discs with ``(K, 2)`` ``centers`` and ``(K,)`` ``radii`` (pixels), each
        approximated by a 16-gon, with its frame at ``origin`` along the unit vector ``axis``."""
        angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
        ring = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # (16, 2)
        points = (centers[:, None, :] + radii[:, None, None] * ring).reshape(-1, 2)
        vertices = cv2.convexHull(points.astype(np.float32))[:, 0, :].astype(np.float64)  # (E, 2)
        edges = np.roll(vertices, -1, axis=0) - vertices
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=-1)
        normals /= np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-9)
        # Orient every normal away from the interior, whichever winding OpenCV returned.
        outward = np.sum(normals * (vertices - vertices.mean(axis=0)), axis=-1, keepdims=True)
        normals *= np.where(outward < 0, -1.0, 1.0)
        across = (vertices - np.asarray(origin)) @ np.array([-axis[1], axis[0]])
        return cls(
            vertices=vertices,
            normals=normals.astype(np.float32),
            offsets=np.sum(normals * vertices, axis=-1).astype(np.float32),
            origin=origin,
            axis=axis,
            half_width=max(0.5 * float(np.ptp(across)), 1.0),
        )

    def bounds(self) -> Bounds:
        lo, hi = self.vertices.min(axis=0), self.vertices.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def surface(self, xs: np.ndarray, ys: np.ndarray) -> Surface:
        nx, ny = self.normals[:, 0], self.normals[:, 1]
        # Inside a convex polygon the distance to the outline is the largest signed distance to its edge
        # lines; outside, that is a close under-estimate, good enough for a one-pixel edge ramp.
        sdf = ((xs[..., None] * nx - self.offsets) + ys[..., None] * ny).max(axis=-1)  # (h, w)
        u, v = _frame(xs, ys, self.origin, self.axis)
        return Surface(sdf, u, v, np.clip(1.0 + sdf * (1.0 / self.half_width), 0.0, 1.0))
