import numpy as np
import pytest

from toolkit.data.media import (
    MediaError,
    contact_sheet,
    grid,
    iter_media,
    list_images,
    read_image,
    read_video,
    sheet_indices,
    side_by_side,
    write_frames,
    write_image,
    write_video,
)


def _frames(count: int = 6, height: int = 33, width: int = 47) -> list[np.ndarray]:
    # Smooth gradients compress well, so the lossy codec keeps them close.
    y, x = np.mgrid[0:height, 0:width]
    return [
        np.stack([(x * 5 + 10 * t) % 256, (y * 7) % 256, np.full_like(x, 40 * t % 256)], -1).astype(np.uint8)
        for t in range(count)
    ]


def test_png_round_trip_is_exact(tmp_path):
    frame = _frames(1)[0]
    write_image(tmp_path / "a.png", frame)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), frame)
    write_image(tmp_path / "mask.png", frame[..., 0] > 100)
    assert read_image(tmp_path / "mask.png").shape == frame.shape


def test_mp4_keeps_frame_count_and_fps_and_pads_odd_sizes(tmp_path):
    frames = _frames()
    write_video(tmp_path / "clip.mp4", frames, fps=12)
    decoded, fps = read_video(tmp_path / "clip.mp4")
    assert len(decoded) == len(frames) and fps == pytest.approx(12)
    assert decoded[0].shape == (34, 48, 3)  # padded to even sizes for yuv420p
    error = np.abs(decoded[2][:33, :47].astype(int) - frames[2].astype(int)).mean()
    assert error < 8


def test_gif_round_trip(tmp_path):
    frames = _frames(4)
    write_video(tmp_path / "clip.gif", frames, fps=10)
    decoded, _ = read_video(tmp_path / "clip.gif")
    assert len(decoded) == 4 and decoded[0].shape == frames[0].shape


def test_bad_video_requests_fail_clearly_and_write_nothing(tmp_path):
    with pytest.raises(MediaError, match="cannot write .avi"):
        write_video(tmp_path / "clip.avi", _frames(), fps=12)
    with pytest.raises(MediaError, match="differ in size"):
        write_video(tmp_path / "clip.mp4", [_frames(1)[0], _frames(1, 20, 20)[0]], fps=12)
    with pytest.raises(MediaError, match="no frames"):
        write_video(tmp_path / "clip.mp4", [], fps=12)
    assert not list(tmp_path.iterdir())
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(MediaError, match="not a readable video"):
        read_video(tmp_path / "broken.mp4")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(tmp_path / "broken.png")


def test_folders_are_read_in_natural_order(tmp_path):
    frames = _frames(12)
    write_frames(tmp_path, frames, pattern="frame_{}.png")
    assert [p.name for p in list_images(tmp_path)] == [f"frame_{i}.png" for i in range(12)]
    np.testing.assert_array_equal(list(iter_media(tmp_path))[10], frames[10])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MediaError, match="no images"):
        list_images(empty)


def test_grids_place_tiles_where_expected():
    red = np.zeros((10, 20, 3), np.uint8)
    red[..., 0] = 255
    sheet = contact_sheet([red] * 5, columns=2, gap=3)
    assert sheet.shape == (3 * (10 + 3) + 3, 2 * (20 + 3) + 3, 3)
    assert (sheet[3:13, 3:23] == red).all() and (sheet[0:3] == 255).all()
    assert (sheet[-13:-3, 26:46] == 255).all()  # the empty sixth cell
    labelled = grid([[red, red]], column_labels=["ours", "truth"], row_labels=["walk"])
    assert labelled.shape[0] > 10 + 8 and labelled.shape[1] > 40 + 12
    frames = side_by_side({"a": [red] * 3, "b": [red] * 2})
    assert len(frames) == 2 and frames[0].shape == frames[1].shape
    with pytest.raises(MediaError, match="differ in size"):
        grid([[red, red[:5]]])


def test_sheet_indices_spread_evenly_from_the_first_frame():
    assert sheet_indices(48, 8) == [0, 6, 12, 18, 24, 30, 36, 42]
    assert sheet_indices(10, 4) == [0, 2, 5, 7]
    assert sheet_indices(3, 8) == [0, 1, 2]


def test_png_text_chunks_are_written_and_other_formats_refuse_them(tmp_path):
    from PIL import Image

    image = np.zeros((4, 4, 3), np.uint8)
    write_image(tmp_path / "a.png", image, text={"parameters": "a photo, ünïcode\nSteps: 2"})
    with Image.open(tmp_path / "a.png") as png:
        assert png.info["parameters"] == "a photo, ünïcode\nSteps: 2"
    with pytest.raises(MediaError, match="PNG files only"):
        write_image(tmp_path / "a.jpg", image, text={"parameters": "x"})
    assert not (tmp_path / "a.jpg").exists()
