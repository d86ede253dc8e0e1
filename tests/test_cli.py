import argparse
import json

import numpy as np
import pytest

from toolkit.cli import build_parser, main
from toolkit.data.media import read_image, read_video
from toolkit.pose.io import load_poses


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _all_parsers(child)


def test_help_documents_every_flag(capsys):
    for argv in (["--help"], ["poses", "make", "--help"], ["data", "synth", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    parsers = list(_all_parsers(build_parser()))
    assert len(parsers) >= 9
    for parser in parsers:
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{parser.prog} {action.option_strings or action.dest} has no help"


def test_make_render_info_convert(tmp_path, capsys):
    walk = tmp_path / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "12", "--size", "96x128", "-o", str(walk)]) == 0
    poses = load_poses(walk)
    assert len(poses) == 12 and poses.canvas == (96, 128) and poses.depth is not None

    video = tmp_path / "walk.mp4"
    assert main(["poses", "render", str(walk), "-o", str(video), "--sheet-frames", "4"]) == 0
    frames, fps = read_video(video)
    assert len(frames) == 12 and fps == pytest.approx(24) and frames[0].shape == (128, 96, 3)
    assert frames[0].max() > 200  # a skeleton is drawn
    sheet = read_image(tmp_path / "walk_sheet.png")
    assert sheet.shape[1] > 2 * 96

    capsys.readouterr()
    assert main(["poses", "info", str(walk), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 12 and summary["present"]["neck"] == 1.0

    folder = tmp_path / "openpose"
    assert main(["poses", "convert", str(walk), "-o", str(folder)]) == 0
    assert len(list(folder.glob("*_keypoints.json"))) == 12
    back = load_poses(folder)
    np.testing.assert_array_equal(back.keypoints, poses.keypoints)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "toolkit.poses/9"}')
    out = tmp_path / "out.mp4"
    assert main(["poses", "render", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.json" in err and "format" in err
    assert not out.exists()

    assert main(["poses", "info", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["poses", "make", "walk", "--size", "0x12", "-o", str(tmp_path / "w.json")])
    assert "sizes must be positive" in capsys.readouterr().err


def test_data_synth_writes_and_resumes(tmp_path, capsys):
    out = tmp_path / "synth"
    argv = [
        "data",
        "synth",
        "--subjects",
        "2",
        "--motions",
        "wave",
        "--size",
        "64",
        "--frames",
        "3",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    assert "6 frames rendered" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 frames rendered, 6 already there" in capsys.readouterr().out
    assert main([*argv[:-2], "--seed", "5", "-o", str(out)]) == 2
    assert "seed differ" in capsys.readouterr().err


def test_building_the_command_line_does_not_import_torch():
    """``toolkit --help`` and every command's ``--help`` stay quick: heavy imports wait for the command."""
    import subprocess
    import sys

    code = "import sys, toolkit.cli as c; c.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_operating_system_errors_are_one_line_with_the_path(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    poses = tmp_path / "walk.json"
    assert main(["poses", "make", "walk", "--frames", "2", "--size", "64", "-o", str(poses)]) == 0
    capsys.readouterr()
    assert main(["poses", "convert", str(poses), "-o", str(tmp_path / "afile" / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "afile" in err and "choose another path" in err


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    def reader_went_away(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("toolkit.commands.poses._info", reader_went_away)
    assert main(["poses", "info", "walk.json"]) == 141
    assert capsys.readouterr().err == ""
