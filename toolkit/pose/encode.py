"""Pose encoders: what each method feeds its network instead of raw keypoints.

- :func:`gaussian_heatmaps`: one Gaussian per joint (PATN, PG2, posewarp's pose input);
- :func:`limb_maps`: one channel per limb, a line or a Gaussian of the distance to the bone (Ren et al.);
- :func:`limb_masks`: posewarp's per-limb Gaussian priors, or PATN's body mask for mask-SSIM;
- :func:`render_openpose`: the RGB skeleton ControlNet's OpenPose models are trained on.

Conventions shared by every encoder:

- Keypoints are ``(..., J, 3)``: x, y, confidence in pixels, with (0, 0) the centre of the top-left pixel.
  A joint is missing when its confidence is 0 (or its x, y are not finite); anything built on a missing
  joint is all zero.
- Canvas sizes are passed as ``width, height``, as everywhere in the toolkit (``PoseSequence``).
- Maps are evaluated at integer pixel centres, so a joint at (x, y) = (3, 5) peaks at ``map[5, 3]``.
- The map encoders take a NumPy array (and return NumPy, float32 maps) or a ``torch.Tensor`` (and return a
  tensor on the same device, in the keypoints' float dtype), so training can encode on the GPU. The maths
  is written once, in torch; NumPy input is a float32 CPU tensor underneath.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_count, check_number, lookup
from ..errors import PoseFormatError
from .skeleton import BODY_18, MPII_14, OPENPOSE_COLORS, UPPER_BODY_7

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

# A limb end is one joint or the mean of several (posewarp's torso runs from mid-shoulders to mid-hips).
LimbEnds = tuple[tuple[int, ...], tuple[int, ...]]


# ---- gaussian heatmaps --------------------------------------------------------------------------------


def gaussian_heatmaps(keypoints: ArrayT, width: int, height: int, sigma: float = 6.0) -> ArrayT:
    """One Gaussian heatmap per joint, as PATN's ``cords_to_map`` builds them.

    ``map[j, v, u] = exp(-((u - x_j)^2 + (v - y_j)^2) / (2 sigma^2))`` at every pixel centre (u, v), so an
    on-grid joint peaks at exactly 1. Computed as the outer product of two 1-D Gaussians, which is
    ``H * W / (H + W)`` times less exponentiation than the direct form.

    Args:
        keypoints: ``(..., J, 3)`` x, y, confidence in pixels, NumPy or torch.
        width: Canvas width W in pixels.
        height: Canvas height H in pixels.
        sigma: Standard deviation in pixels. Default 6, PATN's.

    Returns:
        ``(..., J, H, W)`` maps in [0, 1]; a missing joint's channel is all zero. NumPy in, float32 NumPy
        out; tensor in, tensor out on the same device and float dtype.
    """
    _check_canvas(height, width)
    _check_positive(sigma=sigma)
    points = _as_tensor(keypoints)
    xy, present = _split(points)  # (..., J, 2), (..., J)
    xs, ys = _pixel_centres(height, width, points)
    # Zeroing the x profile of a missing joint zeroes its whole outer product.
    gx = torch.exp(-((xs - xy[..., 0, None]) ** 2) / (2 * sigma**2)) * present[..., None]  # (..., J, W)
    gy = torch.exp(-((ys - xy[..., 1, None]) ** 2) / (2 * sigma**2))  # (..., J, H)
    maps = _empty_maps((*points.shape[:-1], height, width), points)
    return _like(keypoints, torch.mul(gy[..., :, None], gx[..., None, :], out=maps))


# ---- limb maps ----------------------------------------------------------------------------------------


def _line_profile(distance2: torch.Tensor, thickness: float, sigma: float) -> torch.Tensor:
    return (distance2 <= (thickness / 2) ** 2).to(distance2.dtype)


def _gaussian_profile(distance2: torch.Tensor, thickness: float, sigma: float) -> torch.Tensor:
    return torch.exp(-distance2 / (2 * sigma**2))


# Each mode turns the squared distance of a pixel centre to the bone into a value in [0, 1].
LIMB_MAP_MODES: dict[str, Callable[[torch.Tensor, float, float], torch.Tensor]] = {
    "line": _line_profile,
    "gaussian": _gaussian_profile,
}


def limb_maps(
    keypoints: ArrayT,
    width: int,
    height: int,
    limbs: Sequence[tuple[int, int]] = BODY_18.limbs,
    mode: str = "line",
    *,
    thickness: float = 4.0,
    sigma: float = 4.0,
) -> ArrayT:
    """One channel per limb, from the distance d of each pixel centre to the bone's segment.

    Modes (``LIMB_MAP_MODES``):

    - ``"line"``: 1 where ``d <= thickness / 2``, else 0: a line ``thickness`` pixels wide with round caps,
      the limb maps the two-stage pose-to-video network of Ren et al. stacks. ``thickness=1`` gives an
      8-connected one-pixel line.
    - ``"gaussian"``: ``exp(-d^2 / (2 sigma^2))``, 1 on the bone.

    Args:
        keypoints: ``(..., J, 3)`` x, y, confidence in pixels, NumPy or torch.
        width: Canvas width W in pixels.
        height: Canvas height H in pixels.
        limbs: L pairs of joint indices. Default: BODY_18's 17 OpenPose limbs.
        mode: ``"line"`` (default) or ``"gaussian"``.
        thickness: Line width in pixels for ``"line"``. Default 4.
        sigma: Standard deviation in pixels for ``"gaussian"``. Default 4.

    Returns:
        ``(..., L, H, W)`` maps in [0, 1]; a limb with a missing end is all zero. NumPy in, float32 NumPy
        out; tensor in, tensor out on the same device and float dtype.
    """
    profile = lookup(LIMB_MAP_MODES, mode, "limb map mode")
    _check_canvas(height, width)
    _check_positive(thickness=thickness, sigma=sigma)
    points = _as_tensor(keypoints)
    start, end, complete = _limb_ends(points, [((a,), (b,)) for a, b in limbs])  # (..., L, 2) x2, (..., L)
    maps = profile(_segment_distance2(start, end, height, width), thickness, sigma)  # (..., L, H, W)
    return _like(keypoints, maps * complete[..., None, None])


# ---- limb masks ---------------------------------------------------------------------------------------

# posewarp's limbs, by the number of joints of its two input layouts: (start joints, end joints, sigma
# across the limb in pixels). MPII-14 is the original: nine bones, then the torso from mid-shoulders to
# mid-hips. upper-body-7 has no neck, so its head limb ends at the mid-shoulder point, OpenPose's neck.
_POSEWARP_LIMBS: dict[int, tuple[tuple[tuple[int, ...], tuple[int, ...], float], ...]] = {
    MPII_14.num_joints: (*(((a,), (b,), 11.0) for a, b in MPII_14.limbs), ((2, 5), (8, 11), 13.0)),
    UPPER_BODY_7.num_joints: (((0,), (1, 4), 11.0), *(((a,), (b,), 11.0) for a, b in UPPER_BODY_7.limbs)),
}

# Pose-Transfer's mask segments: the 17 OpenPose limbs, then neck-ears, hip-hip, both shoulder-hip sides
# and ear-ear, which close the outline of the head and torso.
PATN_MASK_SEGMENTS: tuple[tuple[int, int], ...] = (
    *BODY_18.limbs,
    *((1, 16), (1, 17), (8, 11), (11, 5), (8, 2), (16, 17)),
)


def posewarp_limb_masks(keypoints: ArrayT, width: int, height: int) -> ArrayT:
    """posewarp's soft limb masks (Balakrishnan et al. 2018, ``make_limb_masks``), the prior its
    segmentation network refines.

    Each limb is an anisotropic Gaussian centred on the bone's midpoint: sigma along the bone
    ``max(sqrt(5), length / sqrt(1.5))``, across it 11 pixels (13 for the torso), in pixels of posewarp's
    256 x 256 crops. Each channel is then divided by its maximum over the canvas plus 1e-6, as in the
    original.

    Args:
        keypoints: ``(..., J, 3)`` in pixels with J = 14 (``mpii_14``: head, neck, 3 bones per arm and leg,
            torso; L = 10) or J = 7 (``upper_body_7``: head, 2 bones per arm; L = 5). Convert BODY_18 with
            ``convert_keypoints(kp, "body_18", "mpii_14")``.
        width: Canvas width W in pixels.
        height: Canvas height H in pixels.

    Returns:
        ``(..., L, H, W)`` masks in [0, 1); a limb with a missing joint is all zero. NumPy in, float32
        NumPy out; tensor in, tensor out on the same device and float dtype.
    """
    _check_canvas(height, width)
    points = _as_tensor(keypoints)
    table = _POSEWARP_LIMBS.get(points.shape[-2])
    if table is None:
        raise PoseFormatError(
            f"posewarp masks need mpii_14 (14 joints) or upper_body_7 (7 joints) keypoints, got "
            f"{points.shape[-2]} joints; convert with convert_keypoints(keypoints, 'body_18', 'mpii_14')",
            field="keypoints",
        )
    start, end, complete = _limb_ends(points, [(a, b) for a, b, _ in table])  # (..., L, 2) x2, (..., L)
    sigma_across = points.new_tensor([s for _, _, s in table])  # (L,)

    bone = end - start  # (..., L, 2)
    length2 = (bone**2).sum(-1)  # (..., L)
    # A zero-length bone has no direction; posewarp's arctan2(0, 0) = 0 takes the x axis.
    along_x = torch.where(length2 > 0, bone[..., 0] / length2.sqrt(), 1.0)[..., None, None]
    along_y = torch.where(length2 > 0, bone[..., 1] / length2.sqrt(), 0.0)[..., None, None]
    var_along = torch.clamp(length2 / 1.5, min=5.0)[..., None, None]

    centre = (start + end) / 2
    xs, ys = _pixel_centres(height, width, points)
    dx = (xs - centre[..., 0, None])[..., None, :]  # (..., L, 1, W)
    dy = (ys - centre[..., 1, None])[..., :, None]  # (..., L, H, 1)
    along = dx * along_x + dy * along_y  # (..., L, H, W)
    across = dy * along_x - dx * along_y
    masks = torch.exp(-(along**2 / (2 * var_along) + across**2 / (2 * sigma_across[:, None, None] ** 2)))
    masks = masks / (masks.amax(dim=(-2, -1), keepdim=True) + 1e-6)
    return _like(keypoints, masks * complete[..., None, None])


def patn_body_mask(
    keypoints: ArrayT, width: int, height: int, *, radius: float = 4.0, closing: int = 5
) -> ArrayT:
    """The binary body mask PATN evaluates mask-SSIM and mask-IS in (Pose-Transfer's ``produce_ma_mask``,
    after PG2, Ma et al. 2017).

    1. A pixel is on when its centre is closer than ``radius`` to one of ``PATN_MASK_SEGMENTS`` (both ends
       present) or to any present joint. That is PATN's union of rectangles of half-width ``radius`` along
       each segment and discs of ``radius`` at the joints; it differs only on pixel centres lying exactly
       on a rectangle's long side.
    2. A morphological closing (dilation, then erosion) with a ``closing`` x ``closing`` square fills the
       gaps between limbs. Pixels beyond the canvas are ignored, as PATN's reflecting border does.

    Args:
        keypoints: ``(..., 18, 3)`` BODY_18 x, y, confidence in pixels, NumPy or torch.
        width: Canvas width W in pixels.
        height: Canvas height H in pixels.
        radius: Half-width of the limbs and radius of the joint discs in pixels. Default 4, PATN's.
        closing: Odd side of the closing's square in pixels; 1 turns it off. Default 5, PATN's.

    Returns:
        ``(..., H, W)`` bool mask (a NumPy array or a tensor on the keypoints' device).
    """
    _check_canvas(height, width)
    _check_positive(radius=radius)
    if isinstance(closing, bool) or not isinstance(closing, int) or closing < 1 or closing % 2 == 0:
        raise ValueError(f"closing must be an odd positive integer (PATN uses 5), got {closing!r}")
    points = _as_tensor(keypoints)
    _check_joints(points, BODY_18.num_joints, "the PATN mask", "body_18")
    # A joint's disc is a zero-length segment.
    segments = [((a,), (b,)) for a, b in PATN_MASK_SEGMENTS] + [((j,), (j,)) for j in range(points.shape[-2])]
    start, end, complete = _limb_ends(points, segments)  # (..., S, 2) x2, (..., S)
    near = _segment_distance2(start, end, height, width) < radius**2  # (..., S, H, W)
    mask = (near & complete[..., None, None]).any(dim=-3)  # (..., H, W)

    if closing > 1:
        flat = mask.reshape(-1, 1, height, width).to(points.dtype)
        # max_pool2d pads with -inf, so pixels beyond the canvas never win a max (or, negated, a min).
        dilated = F.max_pool2d(flat, closing, stride=1, padding=closing // 2)
        closed = -F.max_pool2d(-dilated, closing, stride=1, padding=closing // 2)
        mask = closed.reshape(mask.shape) > 0.5
    return _like(keypoints, mask)


LIMB_MASK_STYLES: dict[str, Callable[..., np.ndarray | torch.Tensor]] = {
    "posewarp": posewarp_limb_masks,
    "patn": patn_body_mask,
}


def limb_masks(
    keypoints: ArrayT, width: int, height: int, style: str = "posewarp", **options: float
) -> ArrayT:
    """Body-part masks from keypoints, in one of ``LIMB_MASK_STYLES``:

    - ``"posewarp"``: :func:`posewarp_limb_masks`, ``(..., L, H, W)`` float in [0, 1), from mpii_14 or
      upper_body_7 keypoints;
    - ``"patn"``: :func:`patn_body_mask`, ``(..., H, W)`` bool, from BODY_18 keypoints.

    ``options`` go to the style's function (e.g. ``radius=`` for ``"patn"``).
    """
    return lookup(LIMB_MASK_STYLES, style, "limb mask style")(keypoints, width, height, **options)


# ---- OpenPose rendering -------------------------------------------------------------------------------

# OpenPose draws limb i in 60% of colour i, truncated as controlnet-aux truncates it.
_LIMB_COLORS = tuple(
    tuple(int(float(c) * 0.6) for c in OPENPOSE_COLORS[i]) for i in range(len(BODY_18.limbs))
)


def render_openpose(
    keypoints: np.ndarray | torch.Tensor,
    width: int,
    height: int,
    *,
    stick_width: int = 4,
    joint_radius: int = 4,
    scale_to_canvas: bool = False,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Draw BODY_18 poses as ControlNet's OpenPose conditioning images.

    Pixel-identical to controlnet-aux's ``draw_bodypose`` fed the same poses as normalised coordinates:
    limbs as filled ellipses (``cv2.ellipse2Poly``, one-degree steps) in 60% of their OpenPose colour, in
    OpenPose's limb order, then joints as filled circles in full colour; missing joints and the limbs
    touching them are skipped. To reproduce its integer truncations, coordinates make the same round trip:
    divided by the canvas size in the keypoints' own precision (float32 for ``PoseSequence``), then
    multiplied back in float64.

    Args:
        keypoints: ``(18, 3)`` or ``(T, 18, 3)`` BODY_18 x, y, confidence in pixels, NumPy or torch.
        width: Canvas width W in pixels.
        height: Canvas height H in pixels.
        stick_width: Half-thickness of the limb ellipses in pixels. Default 4, OpenPose's.
        joint_radius: Radius of the joint circles in pixels. Default 4, OpenPose's.
        scale_to_canvas: Grow ``stick_width`` and ``joint_radius`` with the canvas, for canvases larger than
            the 512 pixels ControlNet was trained at: each becomes ``round(value * max(W, H) / 512)``
            (halves rounded up) but never less than given. Default False.
        background: Optional ``(H, W, 3)`` or ``(T, H, W, 3)`` uint8 RGB image to draw on; it is copied,
            not modified. Default black.

    Returns:
        ``(H, W, 3)`` uint8 RGB for one pose, ``(T, H, W, 3)`` for T poses.
    """
    _check_canvas(height, width)
    points = _numpy_keypoints(keypoints)
    if points.ndim not in (2, 3) or points.shape[-2:] != (BODY_18.num_joints, 3):
        raise PoseFormatError(
            f"render_openpose draws BODY_18 poses: expected (18, 3) or (T, 18, 3) keypoints, got "
            f"{points.shape}; convert other layouts with convert_keypoints(keypoints, layout, 'body_18')",
            field="keypoints",
        )
    frames = points.reshape(-1, BODY_18.num_joints, 3)  # (T, 18, 3)
    if scale_to_canvas:
        scale = max(width, height) / 512
        stick_width = max(stick_width, math.floor(stick_width * scale + 0.5))
        joint_radius = max(joint_radius, math.floor(joint_radius * scale + 0.5))
    images = _canvases(background, len(frames), height, width)  # (T, H, W, 3)

    present = (frames[..., 2] > 0) & np.isfinite(frames[..., :2]).all(-1)  # (T, 18)
    normalised = frames[..., :2] / np.array([width, height], dtype=frames.dtype)
    pixels = normalised.astype(np.float64) * np.array([float(width), float(height)])  # (T, 18, 2)

    for image, points_t, present_t in zip(images, pixels.tolist(), present.tolist(), strict=True):
        _draw_skeleton(image, points_t, present_t, stick_width, joint_radius)
    return images if points.ndim == 3 else images[0]


def _draw_skeleton(
    image: np.ndarray, points: list[list[float]], present: list[bool], stick_width: int, joint_radius: int
) -> None:
    """Draw one pose on ``image`` in place, with draw_bodypose's float64 arithmetic and truncations."""
    for (i, j), color in zip(BODY_18.limbs, _LIMB_COLORS, strict=True):
        if not (present[i] and present[j]):
            continue
        (x1, y1), (x2, y2) = points[i], points[j]
        length = ((y1 - y2) ** 2 + (x1 - x2) ** 2) ** 0.5
        angle = math.degrees(math.atan2(y1 - y2, x1 - x2))
        centre = (int((x1 + x2) / 2), int((y1 + y2) / 2))
        polygon = cv2.ellipse2Poly(centre, (int(length / 2), stick_width), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(image, polygon, color)
    for (x, y), on, color in zip(points, present, OPENPOSE_COLORS, strict=True):
        if on:
            cv2.circle(image, (int(x), int(y)), joint_radius, color, thickness=-1)


def _canvases(background: np.ndarray | None, count: int, height: int, width: int) -> np.ndarray:
    """``(count, H, W, 3)`` uint8 images to draw on: black, or copies of ``background``."""
    if background is None:
        return np.zeros((count, height, width, 3), dtype=np.uint8)
    background = np.asarray(background)
    if background.dtype != np.uint8 or background.shape not in (
        (height, width, 3),
        (count, height, width, 3),
    ):
        raise ValueError(
            f"background must be a uint8 ({height}, {width}, 3) or ({count}, {height}, {width}, 3) image, "
            f"got {background.dtype} {background.shape}"
        )
    return np.broadcast_to(background, (count, height, width, 3)).copy()


# ---- shared helpers -----------------------------------------------------------------------------------


def _as_tensor(keypoints: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(..., J, 3)`` keypoints as a tensor to compute in: float64 stays float64, any other dtype becomes
    float32; a tensor stays on its device, an array goes to the CPU."""
    if isinstance(keypoints, torch.Tensor):
        points = keypoints.detach()
        points = points if points.dtype == torch.float64 else points.float()
    else:
        try:
            points = torch.tensor(np.asarray(keypoints, dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise PoseFormatError(f"keypoints are not a numeric array ({err})", field="keypoints") from None
    if points.ndim < 2 or points.shape[-1] != 3:
        raise PoseFormatError(
            f"keypoints must have shape (..., J, 3) holding x, y, confidence, got {tuple(points.shape)}",
            field="keypoints",
        )
    return points


def _numpy_keypoints(keypoints: np.ndarray | torch.Tensor) -> np.ndarray:
    """Keypoints as a float32 or float64 array, keeping the caller's precision where it is one of those."""
    if isinstance(keypoints, torch.Tensor):
        keypoints = keypoints.detach().cpu()
        if keypoints.dtype not in (torch.float32, torch.float64):
            keypoints = keypoints.float()
        return keypoints.numpy()
    try:
        points = np.asarray(keypoints)
        return points if points.dtype in (np.float32, np.float64) else points.astype(np.float32)
    except (TypeError, ValueError) as err:
        raise PoseFormatError(f"keypoints are not a numeric array ({err})", field="keypoints") from None


def _like(keypoints: np.ndarray | torch.Tensor, result: torch.Tensor) -> np.ndarray | torch.Tensor:
    """Return ``result`` in the caller's kind: NumPy for NumPy keypoints; for a tensor, the keypoints'
    float dtype (bool results stay bool)."""
    if not isinstance(keypoints, torch.Tensor):
        return result.numpy()
    if result.is_floating_point() and keypoints.is_floating_point():
        return result.to(keypoints.dtype)
    return result


def _empty_maps(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """An uninitialised tensor of ``shape`` on ``like``'s device, in its dtype (float32 or float64).

    On the CPU, NumPy allocates it: NumPy asks Linux for transparent huge pages and PyTorch's allocator does
    not, which makes the first write of a fresh batch of maps (256 x 18 x 256 x 176 floats are 830 MB)
    several times faster.
    """
    if like.device.type != "cpu":
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return torch.from_numpy(np.empty(shape, dtype=np.float64 if like.dtype == torch.float64 else np.float32))


def _split(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., J, 2)`` coordinates with missing joints at 0 (never NaN), and the ``(..., J)`` present mask."""
    xy = points[..., :2]
    present = (points[..., 2] > 0) & torch.isfinite(xy).all(-1)
    return torch.where(present[..., None], xy, 0.0), present


def _pixel_centres(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W,)`` and ``(H,)`` pixel-centre coordinates on ``like``'s device and dtype."""
    xs = torch.arange(width, device=like.device, dtype=like.dtype)
    ys = torch.arange(height, device=like.device, dtype=like.dtype)
    return xs, ys


def _limb_ends(
    points: torch.Tensor, limbs: Sequence[LimbEnds]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Both ends of every limb, each the mean of its joints.

    Args:
        points: ``(..., J, 3)`` keypoints.
        limbs: L pairs (start joints, end joints).

    Returns:
        ``start`` and ``end`` ``(..., L, 2)``, and ``complete`` ``(..., L)`` bool: every joint present.
    """
    num_joints = points.shape[-2]
    used = {j for ends in limbs for group in ends for j in group}
    if used and not 0 <= min(used) <= max(used) < num_joints:
        raise PoseFormatError(
            f"limbs refer to joints {min(used)}..{max(used)} but keypoints have {num_joints} joints",
            field="keypoints",
        )
    # Averaging weights, built on the host and moved once (one small copy rather than a launch per limb).
    weights = np.zeros((2, len(limbs), num_joints))
    for i, ends in enumerate(limbs):
        for side, group in enumerate(ends):
            weights[side, i, list(group)] = 1.0 / len(group)
    mean_start, mean_end = torch.from_numpy(weights).to(points)[..., None]  # (L, J, 1) each
    xy, present = _split(points)
    # Weighted sums rather than matmuls, which TF32 (often on in training) would round to ~1e-3.
    start_xy = (mean_start * xy[..., None, :, :]).sum(-2)  # (..., L, 2)
    end_xy = (mean_end * xy[..., None, :, :]).sum(-2)
    needed = torch.from_numpy(weights.any(0)).to(points.device)  # (L, J)
    complete = (present[..., None, :] | ~needed).all(-1)  # (..., L)
    return start_xy, end_xy, complete


def _segment_distance2(start: torch.Tensor, end: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Squared distance from every pixel centre to every segment: ``(..., L, 2)`` ends ->
    ``(..., L, H, W)``. A zero-length segment measures the distance to its point."""
    xs, ys = _pixel_centres(height, width, start)
    bone = end - start  # (..., L, 2)
    bx, by = bone[..., 0, None, None], bone[..., 1, None, None]
    length2 = (bone**2).sum(-1).clamp(min=1e-12)[..., None, None]
    dx = (xs - start[..., 0, None])[..., None, :]  # (..., L, 1, W)
    dy = (ys - start[..., 1, None])[..., :, None]  # (..., L, H, 1)
    # Project onto the bone, clamp to its ends, and measure to the nearest point.
    t = ((dx * bx + dy * by) / length2).clamp(0.0, 1.0)  # (..., L, H, W)
    return (dx - t * bx) ** 2 + (dy - t * by) ** 2


def _check_canvas(height: int, width: int) -> None:
    check_count("canvas height", height)
    check_count("canvas width", width)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        check_number(name, value, lambda v: v > 0, "a positive number of pixels")


def _check_joints(points: torch.Tensor, expected: int, what: str, layout: str) -> None:
    if points.shape[-2] != expected:
        raise PoseFormatError(
            f"{what} needs {layout} keypoints ({expected} joints), got {points.shape[-2]}; convert with "
            f"convert_keypoints(keypoints, layout, {layout!r})",
            field="keypoints",
        )
