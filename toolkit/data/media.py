"""Reading and writing frames, MP4 and GIF; contact sheets and labelled side-by-side grids.

Images are ``(H, W, 3)`` uint8 RGB numpy arrays throughout. Every write is atomic.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from ..atomic import atomic_path, is_hidden
from ..errors import ToolkitError
from ..paths import natural_sorted

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# Video files the toolkit reads (through ffmpeg).
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif")


class MediaError(ToolkitError):
    """An image or video file cannot be read or written."""


# ---- images -------------------------------------------------------------------------------------------


def read_image(path: str | Path, *, mode: str = "RGB") -> np.ndarray:
    """Read an image file.

    Args:
        path: Any format PIL reads.
        mode: ``"RGB"`` (default) for ``(H, W, 3)`` uint8 (alpha dropped, greyscale expanded), or ``"L"``
            for a single-channel ``(H, W)`` uint8 image such as a mask or a part-label map.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except FileNotFoundError:
        raise MediaError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError) as err:
        raise MediaError(f"{path}: not a readable image ({err})") from None


def write_image(path: str | Path, image: np.ndarray, *, text: Mapping[str, str] | None = None) -> None:
    """Write an image atomically; the format follows the suffix.

    Args:
        path: Output file with one of ``IMAGE_SUFFIXES``.
        image: ``(H, W, 3)`` uint8 RGB, or ``(H, W)`` uint8 written as a single channel (label maps keep
            their values in PNG), or ``(H, W)`` bool written as 0/255.
        text: PNG text chunks (``tEXt``/``iTXt``), e.g. A1111's ``"parameters"``; PNG only.
    """
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim != 2:
        image = _as_rgb(image)
    elif image.dtype != np.uint8:
        raise MediaError(f"{path}: single-channel images must be uint8 or bool, got {image.dtype}")
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise MediaError(
            f"{path}: cannot write {suffix or 'a file without suffix'} images; use {IMAGE_SUFFIXES}"
        )
    options = {}
    if text:
        if suffix != ".png":
            raise MediaError(f"{path}: text chunks are written into PNG files only")
        info = PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format=Image.registered_extensions()[suffix], **options)


def list_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` in natural order, hidden ones (temporaries of a killed writer, macOS
    ``._`` files) left out; raises ``MediaError`` for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MediaError(f"{folder}: not a folder")
    files = natural_sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(p)
    )
    if not files:
        raise MediaError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


class FrameFiles(Sequence[np.ndarray]):
    """Image files as a sequence of ``(H, W, 3)`` uint8 frames, each read when it is indexed: a clip of
    any length for :func:`write_video` or a contact sheet without holding it in memory."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(path) for path in paths]

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice) -> FrameFiles: ...
    def __getitem__(self, index: int | slice) -> np.ndarray | FrameFiles:
        if isinstance(index, slice):
            return FrameFiles(self.paths[index])
        return read_image(self.paths[index])


def write_frames(
    folder: str | Path, frames: Iterable[np.ndarray], *, pattern: str = "{:05d}.png"
) -> list[Path]:
    """Write frames as numbered images (``pattern.format(i)``) in ``folder``; returns the paths."""
    paths = []
    for i, frame in enumerate(frames):
        path = Path(folder) / pattern.format(i)
        write_image(path, frame)
        paths.append(path)
    return paths


# ---- video --------------------------------------------------------------------------------------------


Sampler = Callable[[], list[np.ndarray]]  # the frames a palette is fitted to, read when asked for


def _write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, sample: Sampler) -> None:
    import imageio_ffmpeg

    stream = iter(frames)
    first = next(stream)
    height, width = first.shape[:2]
    # H.264 in yuv420p needs even sizes; pad by one black row/column rather than resample.
    pad_h, pad_w = height % 2, width % 2
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (width + pad_w, height + pad_h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        macro_block_size=1,
        quality=8,
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)
    try:
        for frame in itertools.chain([first], stream):
            writer.send(np.ascontiguousarray(np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)))))
    finally:
        writer.close()


PALETTE_FRAMES = 8  # a GIF's one palette is fitted to this many frames of the clip


def _write_gif(path: Path, frames: Iterable[np.ndarray], fps: float, sample: Sampler) -> None:
    """Stream frames into a looping GIF with one 256-colour palette fitted to the ``sample()`` frames, so
    that memory does not grow with the clip as it does with PIL's ``save_all``."""
    from PIL import GifImagePlugin

    palette = Image.fromarray(np.concatenate(sample(), axis=0)).quantize(256, method=Image.Quantize.MEDIANCUT)
    with path.open("wb") as file:
        for n, frame in enumerate(frames):
            image = Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
            if n == 0:
                header, _ = GifImagePlugin.getheader(image, info={"loop": 0, "optimize": False})
                file.writelines(header)
            # GIF stores delays in centiseconds.
            file.writelines(GifImagePlugin.getdata(image, duration=1000 / fps))
        file.write(b";")


_VIDEO_WRITERS: dict[str, Callable[[Path, Iterable[np.ndarray], float, Sampler], None]] = {
    ".mp4": _write_mp4,
    ".gif": _write_gif,
}


def check_video_path(path: str | Path) -> Path:
    """Raise ``MediaError`` unless ``path`` has a suffix :func:`write_video` can write; call it before long
    work so a typo fails at once."""
    path = Path(path)
    if path.suffix.lower() not in _VIDEO_WRITERS:
        kind = path.suffix or "a file without suffix"
        raise MediaError(f"{path}: cannot write {kind}; use one of {', '.join(_VIDEO_WRITERS)}")
    return path


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], fps: float, *, progress: bool = False
) -> Path:
    """Write frames as an MP4 (H.264, yuv420p) or GIF chosen by the suffix; returns the path.

    Frames are encoded as they arrive, so memory does not grow with the clip. A GIF has one palette,
    fitted to frames spread over the clip when ``frames`` is a sequence (which may read its frames
    lazily, as :class:`FrameFiles` does), else to the first ones.

    Args:
        path: Output file, ``.mp4`` or ``.gif``.
        frames: ``(H, W, 3)`` uint8 RGB images, all the same size: a sequence or any iterable.
        fps: Frames per second, > 0.
        progress: Show a progress bar on stderr. Default False.
    """
    from ..progress import progress_bar

    path = check_video_path(path)
    writer = _VIDEO_WRITERS[path.suffix.lower()]
    if not fps > 0:
        raise MediaError(f"{path}: fps must be positive, got {fps}")
    stream = iter(frames)
    head = list(itertools.islice(stream, PALETTE_FRAMES))
    if not head:
        raise MediaError(f"{path}: no frames to write")
    first = _as_rgb(head[0])

    def sample() -> list[np.ndarray]:
        """Frames spread over the clip when it is a sequence, else its first ones (read only by a writer
        that needs them: a GIF's palette)."""
        picked = head
        if isinstance(frames, Sequence) and len(frames) > len(head):
            picked = [frames[i] for i in sheet_indices(len(frames), PALETTE_FRAMES)]
        picked = [_as_rgb(frame) for frame in picked]
        if any(frame.shape != first.shape for frame in picked):
            raise MediaError(f"{path}: frames differ in size: {sorted({frame.shape for frame in picked})}")
        return picked

    def checked() -> Iterator[np.ndarray]:
        total = len(frames) if isinstance(frames, Sequence) else None
        chained = itertools.chain(head, stream)
        for frame in progress_bar(
            chained, desc=path.name, total=total, leave=False, disable=not progress, unit="frame"
        ):
            frame = _as_rgb(frame)
            if frame.shape != first.shape:
                raise MediaError(f"{path}: frames differ in size: {first.shape} and {frame.shape}")
            yield frame

    with atomic_path(path) as tmp:
        writer(tmp, checked(), fps, sample)
    return path


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its header without decoding it.

    Args:
        width: Frame width in pixels.
        height: Frame height in pixels.
        fps: Frames per second.
        frames: Frame count estimated from the stated duration (containers do not always store the exact
            count); good for a progress bar, not for indexing.
    """

    width: int
    height: int
    fps: float
    frames: int


def _open_video(path: str | Path) -> tuple[Generator[bytes, None, None], VideoInfo]:
    """Start decoding ``path`` with ffmpeg; returns the raw RGB frame buffers and the header."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as err:
        raise _unreadable(path, err) from None
    width, height = meta["size"]
    fps = float(meta["fps"])
    return reader, VideoInfo(width, height, fps, round(float(meta.get("duration") or 0) * fps))


def _unreadable(path: Path, err: BaseException) -> MediaError:
    return MediaError(f"{path}: not a readable video ({str(err).splitlines()[0] if str(err) else err})")


def probe_video(path: str | Path) -> VideoInfo:
    """Size, frame rate and estimated frame count of a video (any format ffmpeg reads); raises
    ``MediaError`` for a missing or unreadable file."""
    reader, info = _open_video(path)
    reader.close()
    return info


def iter_video(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time, as ``(H, W, 3)`` uint8 RGB, so that a long clip never sits in
    memory whole. The file is opened on the first ``next()``; ffmpeg stops when the iterator is closed."""
    reader, info = _open_video(path)
    yield from _decoded(Path(path), reader, info)


def read_video(path: str | Path) -> tuple[list[np.ndarray], float]:
    """Read every frame of a video (any format ffmpeg reads) as ``(H, W, 3)`` uint8 RGB; returns
    ``(frames, fps)``. Use :func:`iter_video` for clips too long to hold in memory."""
    reader, info = _open_video(path)
    return list(_decoded(Path(path), reader, info)), info.fps


def _decoded(path: Path, reader: Generator[bytes, None, None], info: VideoInfo) -> Iterator[np.ndarray]:
    try:
        for buffer in reader:
            yield np.frombuffer(buffer, np.uint8).reshape(info.height, info.width, 3).copy()
    except (OSError, RuntimeError) as err:
        raise _unreadable(path, err) from None
    finally:
        reader.close()


def iter_media(path: str | Path) -> Iterator[np.ndarray]:
    """Frames of a video file, a folder of images, or a single image, as ``(H, W, 3)`` uint8 RGB, read one
    at a time."""
    path = Path(path)
    if path.is_dir():
        yield from (read_image(p) for p in list_images(path))
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        yield read_image(path)
    else:
        yield from iter_video(path)


# ---- sheets and grids ---------------------------------------------------------------------------------


def sheet_indices(length: int, count: int) -> list[int]:
    """``min(count, length)`` frame indices spread evenly over ``[0, length)``, starting at 0.

    The end is left out on purpose: the toolkit's clips loop, so the last frame is nearly the first.
    For 48 frames and a count of 8 this gives 0, 6, ..., 42.
    """
    count = min(count, length)
    return [i * length // count for i in range(count)]


def contact_sheet(
    images: Sequence[np.ndarray],
    *,
    columns: int | None = None,
    labels: Sequence[str] | None = None,
    gap: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Tile same-size images in a grid, row-major.

    Args:
        images: ``N`` images ``(H, W, 3)`` uint8.
        columns: Images per row; default ``ceil(sqrt(N))``.
        labels: Optional caption per image, drawn in a strip under it.
        gap: Pixels between tiles and around the border.
        background: RGB of the gaps and empty cells.

    Returns:
        ``(rows * (H + caption + gap) + gap, columns * (W + gap) + gap, 3)`` uint8.
    """
    if not images:
        raise MediaError("contact sheet needs at least one image")
    images = [_as_rgb(image) for image in images]
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    if labels is not None:
        images = [_caption(image, text, background) for image, text in zip(images, labels, strict=True)]
    cells = [list(images[r : r + columns]) for r in range(0, len(images), columns)]
    return grid(cells, gap=gap, background=background)


def grid(
    rows: Sequence[Sequence[np.ndarray]],
    *,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    gap: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Lay out images in rows and columns with optional row and column headers.

    Every image must have the same size ``(H, W, 3)``; a short row is padded with background.
    Returns one ``uint8`` RGB image.
    """
    tiles = [_as_rgb(image) for row in rows for image in row]
    if not tiles:
        raise MediaError("grid needs at least one image")
    height, width = tiles[0].shape[:2]
    if any(tile.shape[:2] != (height, width) for tile in tiles):
        raise MediaError(f"grid images differ in size: {sorted({t.shape for t in tiles})}")
    num_columns = max(len(row) for row in rows)
    header_h = _text_height(height) + 2 * gap if column_labels else 0
    label_w = max((_text_width(t, height) for t in row_labels), default=0) + 2 * gap if row_labels else 0
    canvas = np.full(
        (gap + header_h + len(rows) * (height + gap), gap + label_w + num_columns * (width + gap), 3),
        background,
        dtype=np.uint8,
    )
    for c, text in enumerate(column_labels or []):
        x = gap + label_w + c * (width + gap)
        _put_text(canvas, text, x, gap + header_h - gap, height, max_width=width)
    for r, row in enumerate(rows):
        y = gap + header_h + r * (height + gap)
        if row_labels:
            _put_text(canvas, row_labels[r], gap, y + height // 2 + _text_height(height) // 2, height)
        for c, image in enumerate(row):
            x = gap + label_w + c * (width + gap)
            canvas[y : y + height, x : x + width] = _as_rgb(image)
    return canvas


def side_by_side(
    columns: dict[str, Sequence[np.ndarray]],
    *,
    gap: int = 4,
    background: tuple[int, int, int] = (255, 255, 255),
) -> list[np.ndarray]:
    """Per-frame labelled grids: frame t shows ``columns[label][t]`` for each label, left to right.

    Returns ``T`` images (T = the shortest column) suitable for :func:`write_video`.
    """
    labels = list(columns)
    length = min(len(frames) for frames in columns.values())
    return [
        grid([[columns[label][t] for label in labels]], column_labels=labels, gap=gap, background=background)
        for t in range(length)
    ]


# ---- helpers ------------------------------------------------------------------------------------------


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from an RGB image, a greyscale ``(H, W)`` image or a bool mask."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        raise MediaError(f"images must be uint8 (or bool masks), got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise MediaError(f"images must have shape (H, W, 3) or (H, W), got {image.shape}")
    return image


def _font_scale(tile_height: int) -> float:
    return float(np.clip(tile_height / 256, 0.35, 1.0))


def _text_height(tile_height: int) -> int:
    (_, h), baseline = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, _font_scale(tile_height), 1)
    return h + baseline


def _text_width(text: str, tile_height: int) -> int:
    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, _font_scale(tile_height), 1)
    return w


def _put_text(
    canvas: np.ndarray, text: str, x: int, baseline_y: int, tile_height: int, max_width: int | None = None
) -> None:
    """Draw ``text`` in black; shrink it to ``max_width`` pixels if it would be wider."""
    scale = _font_scale(tile_height)
    if max_width is not None:
        scale *= min(1.0, max_width / max(_text_width(text, tile_height), 1))
    cv2.putText(canvas, text, (x, baseline_y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _caption(image: np.ndarray, text: str, background: tuple[int, int, int]) -> np.ndarray:
    strip_h = _text_height(image.shape[0]) + 6
    strip = np.full((strip_h, image.shape[1], 3), background, np.uint8)
    _put_text(strip, text, 2, strip_h - 4, image.shape[0], max_width=image.shape[1] - 4)
    return np.concatenate([image, strip], axis=0)
