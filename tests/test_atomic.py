import json

import pytest

from toolkit.atomic import atomic_path, write_json_atomic


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out" / "result.json"
    write_json_atomic(target, {"frames": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"frames": 1}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_temp_file_keeps_the_suffix_and_lands_on_the_target(tmp_path):
    target = tmp_path / "clip.mp4"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data"


def test_json_rejects_nan(tmp_path):
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"x": float("nan")})
    assert not list(tmp_path.iterdir())


def test_readers_skip_hidden_temporaries_and_writers_sweep_them(tmp_path):
    import numpy as np

    from toolkit.atomic import is_hidden, sweep_temporaries
    from toolkit.data.media import list_images, write_image

    for name in ("0.png", "1.png"):
        write_image(tmp_path / name, np.zeros((2, 2, 3), np.uint8))
    stale = tmp_path / ".0002.3663iqhi.tmp.png"  # what a writer killed mid-write leaves
    stale.write_bytes(b"half a png")
    resource_fork = tmp_path / "._0.png"  # macOS
    resource_fork.write_bytes(b"\x00\x05\x16\x07")
    assert [p.name for p in list_images(tmp_path)] == ["0.png", "1.png"]
    assert is_hidden(stale) and is_hidden(resource_fork) and not is_hidden(tmp_path / "0.png")
    assert sweep_temporaries(tmp_path) == 1
    assert not stale.exists() and resource_fork.exists()  # only the writer's own temporaries go
