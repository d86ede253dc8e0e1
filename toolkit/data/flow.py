"""Dense optical flow, backward warping and flow-based frame interpolation, on OpenCV.

One convention throughout: ``optical_flow(a, b)`` is the flow ``F`` with ``a(p) ~ b(p + F(p))``, measured
at the pixels of ``a`` (OpenCV's ``prev -> next`` flow). It says where to fetch each pixel of ``a`` from in
``b``, so ``warp_image(b, optical_flow(a, b))`` rebuilds ``a`` wherever ``a`` is visible in ``b``.

The k-NN baseline uses :func:`interpolate_frames` to smooth the jumps between the bank frames it retrieves
(the original k-NN baseline used Butterflow, which also interpolates with Farneback flow); the
``warp_error`` metric uses :func:`optical_flow` and :func:`warp_image`.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ..checks import lookup

# A flow method maps two (H, W) uint8 grey images to their (H, W, 2) float32 flow.
FlowMethod = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense Inverse Search (Kroeger et al. 2016) with OpenCV's medium preset: fast, and robust to large
    motions thanks to its coarse-to-fine patch search."""
    return cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a, b, None)


def _farneback_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Farneback's polynomial expansion with OpenCV's usual settings and five pyramid levels, so that
    motions of a few tens of pixels are still found."""
    return cv2.calcOpticalFlowFarneback(
        a, b, None, pyr_scale=0.5, levels=5, winsize=21, iterations=3, poly_n=7, poly_sigma=1.5, flags=0
    )


FLOW_METHODS: dict[str, FlowMethod] = {
    "dis": _dis_flow,
    "farneback": _farneback_flow,
}


def optical_flow(a: np.ndarray, b: np.ndarray, *, method: str = "dis") -> np.ndarray:
    """Dense flow from ``a`` to ``b``.

    Args:
        a: ``(H, W, 3)`` uint8 RGB image.
        b: ``(H, W, 3)`` uint8 RGB image of the same size.
        method: A key of ``FLOW_METHODS``: ``"dis"`` (default) or ``"farneback"``.

    Returns:
        ``(H, W, 2)`` float32 flow ``F`` in pixels (x, y) with ``a(p) ~ b(p + F(p))``.
    """
    compute = lookup(FLOW_METHODS, method, "flow method")
    _check_pair(a, b)
    flow = compute(_grey(a), _grey(b))
    return np.ascontiguousarray(flow, dtype=np.float32)


def warp_image(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` by ``flow``: ``out(p) = image(p + flow(p))``, bilinear, with the border
    replicated where ``p + flow(p)`` leaves the image.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` image, C <= 4, uint8 or float32 (masks and float maps warp too).
        flow: ``(H, W, 2)`` flow in pixels (x, y), e.g. ``optical_flow(target, image)``.

    Returns:
        The warped image, same shape and dtype as ``image``.
    """
    image, flow = np.asarray(image), np.asarray(flow)
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError(f"image must be (H, W) or (H, W, C) with C <= 4, got shape {image.shape}")
    if image.dtype not in (np.uint8, np.float32):
        raise ValueError(f"image must be uint8 or float32, got {image.dtype}")
    if flow.shape != (*image.shape[:2], 2) or not np.issubdtype(flow.dtype, np.floating):
        raise ValueError(
            f"flow must be a float (H, W, 2) array matching the image's {image.shape[:2]}, "
            f"got {flow.dtype} {flow.shape}"
        )
    height, width = image.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x = grid_x + flow[..., 0].astype(np.float32)
    map_y = grid_y + flow[..., 1].astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(image.shape)


def interpolate_frames(a: np.ndarray, b: np.ndarray, count: int, *, method: str = "dis") -> list[np.ndarray]:
    """In-between frames from ``a`` to ``b`` by flow-based warping and blending.

    Frame ``i`` (1-based) sits at ``t = i / (count + 1)``. Both flows are measured once, ``F_ab`` from ``a``
    to ``b`` and ``F_ba`` back. The flows from the unknown frame at ``t`` to the endpoints are
    approximated from them, as in Super SloMo (Jiang et al. 2018, eq. 4):

        ``F_ta = -(1 - t) t F_ab + t^2 F_ba``,    ``F_tb = (1 - t)^2 F_ab - t (1 - t) F_ba``,
        ``I_t = (1 - t) warp(a, F_ta) + t warp(b, F_tb)``.

    Each is a blend of the two simple scalings (``F_ta ~ -t F_ab`` or ``t F_ba``) that weights the flow
    measured on the endpoint nearer in time more: both read a flow at ``p`` instead of where the motion
    through ``p`` starts, which is exact for smooth motion and leaves a faint ghost at the edges of moving
    objects. Unlike a cross-fade, which shows both endpoints at once, moving things appear part of the way
    along their path.

    Args:
        a: ``(H, W, 3)`` uint8 RGB frame at ``t = 0``.
        b: ``(H, W, 3)`` uint8 RGB frame at ``t = 1``, same size.
        count: Number of in-between frames, >= 0.
        method: Flow method, a key of ``FLOW_METHODS``. Default ``"dis"``.

    Returns:
        ``count`` uint8 RGB frames, in order from ``a`` towards ``b`` (neither endpoint included).
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    forward = optical_flow(a, b, method=method)  # a(p) ~ b(p + forward(p))
    backward = optical_flow(b, a, method=method)  # b(p) ~ a(p + backward(p))
    frames = []
    for i in range(1, count + 1):
        t = i / (count + 1)
        to_a = t * (t * backward - (1 - t) * forward)
        to_b = (1 - t) * ((1 - t) * forward - t * backward)
        blend = (1 - t) * warp_image(a, to_a).astype(np.float32) + t * warp_image(b, to_b)
        frames.append(np.clip(np.rint(blend), 0, 255).astype(np.uint8))
    return frames


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    for name, image in (("a", a), ("b", b)):
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", type(image).__name__)
            raise ValueError(f"image {name} must be an (H, W, 3) RGB array, got {shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"image {name} must be uint8, got {image.dtype}; scale to 0-255 and convert")
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape[:2]} vs {b.shape[:2]}; resize one to the other")
