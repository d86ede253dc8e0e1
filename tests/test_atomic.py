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
