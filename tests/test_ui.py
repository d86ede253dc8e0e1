"""The web app's layer under the page (no Gradio needed): one job at a time, cancel and resume, upload
checks, and the workspace actions writing the files the command line writes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from _mannequin_photos import mannequin_photos

from toolkit.data.media import MediaError, read_image, write_image
from toolkit.progress import Cancelled, Update, Watcher, progress_bar, watching
from toolkit.ui import workspace as actions
from toolkit.ui.jobs import Finished, JobRunner, last_result
from toolkit.ui.uploads import UploadError, check_media, check_photos, check_pose_file


@pytest.fixture
def ws(tmp_path: Path) -> actions.Workspace:
    return actions.Workspace(tmp_path / "ui", base="tiny")


def _photos(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i}.png"
        write_image(path, rng.integers(0, 255, (32, 24, 3), dtype=np.uint8))
        paths.append(path)
    return paths


# --- progress and jobs ------------------------------------------------------------------------------


def test_a_watcher_sees_every_update_and_a_cancel_stops_after_the_current_unit():
    seen: list[Update] = []
    finished: list[int] = []
    watcher = Watcher(on_update=seen.append)
    with watching(watcher), pytest.raises(Cancelled):
        for item in progress_bar(range(10), desc="work", disable=True):
            finished.append(item)
            if item == 2:
                watcher.cancel()
    assert finished == [0, 1, 2]  # the unit in hand finishes; nothing after it starts
    assert [(u.desc, u.done, u.total) for u in seen] == [("work", 1, 10), ("work", 2, 10), ("work", 3, 10)]
    # Without a watcher, bars only count.
    assert list(progress_bar(range(3), disable=True)) == [0, 1, 2]


def two_steps() -> str:
    """A job of two progress updates."""
    with progress_bar(total=2, desc="two", disable=True) as bar:
        bar.update()
        bar.update()
    return "done"


def test_the_runner_streams_updates_then_the_result_and_raises_what_the_job_raised():
    events = list(JobRunner(poll=0.01).run(two_steps))
    assert [e.done for e in events if isinstance(e, Update)] == [1, 2]
    assert events[-1] == Finished("done")

    def broken() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        last_result(JobRunner(poll=0.01).run(broken))


def test_a_tab_follows_a_job_to_its_result_and_frees_the_runner():
    from toolkit.ui.common import follow

    runner = JobRunner(poll=0.01)

    def tab():  # what a tab's handler does
        result = yield from follow(runner.run(two_steps), "status", lambda: {"frames": runner.busy})
        yield {"status": result}

    shown = list(tab())
    assert shown == [
        {"status": "two: 1 / 2 (50%)", "frames": True},
        {"status": "two: 2 / 2 (100%)", "frames": True},
        {"status": "done"},
    ]
    assert not runner.busy  # the next job can start


def test_one_job_at_a_time():
    runner, release, order = JobRunner(poll=0.01), threading.Event(), []

    def first() -> None:
        order.append("first starts")
        release.wait(5)
        order.append("first ends")

    def second() -> None:
        order.append("second starts")

    thread = threading.Thread(target=lambda: last_result(runner.run(first)))
    thread.start()
    while not runner.busy:
        pass
    other = threading.Thread(target=lambda: last_result(runner.run(second)))
    other.start()
    release.set()
    thread.join(5), other.join(5)
    assert order == ["first starts", "first ends", "second starts"]
    assert not runner.cancel()  # nothing running any more


# --- cancel and resume ------------------------------------------------------------------------------


def test_cancel_from_the_page_stops_the_running_job():
    runner, units = JobRunner(poll=0.01), []

    def endless() -> None:
        with progress_bar(total=1000, desc="slow", disable=True) as bar:
            for i in range(1000):
                units.append(i)
                threading.Event().wait(0.01)
                bar.update()

    with pytest.raises(Cancelled):
        for event in runner.run(endless):
            if isinstance(event, Update) and event.done == 3:
                assert runner.cancel()
    assert 3 <= len(units) < 1000 and not runner.busy


def _cancel_at_first_update(job, desc: str) -> None:
    """Run ``job`` and cancel it at the first update of its bar ``desc``, as the page's Cancel button
    would (but without the race between the page and a fast job)."""
    watcher = Watcher()
    watcher.on_update = lambda update: watcher.cancel() if update.desc == desc else None
    with watching(watcher), pytest.raises(Cancelled):
        job()


def test_a_cancelled_generation_keeps_its_frames_and_the_rerun_resumes_to_the_same_bytes(ws, tmp_path):
    actions.make_poses(ws, "walk", "walk", frames=8, size=64)
    settings = {"steps": 2, "size": 64}
    runner = JobRunner(poll=0.01)
    _cancel_at_first_update(lambda: actions.generate(ws, None, "walk", **settings), "generate")
    out = ws.root / "generate" / "base_walk"
    kept = sorted(p.name for p in (out / "frames").iterdir())
    assert 0 < len(kept) < 8 and all(name.endswith(".png") and not name.startswith(".") for name in kept)
    assert not (out / "video.mp4").exists()

    result = last_result(runner.run(lambda: actions.generate(ws, None, "walk", **settings)))
    assert (result.frames, result.skipped, result.generated) == (8, len(kept), 8 - len(kept))
    assert (out / "video.mp4").stat().st_size > 0 and (out / "contact_sheet.png").is_file()

    whole = actions.Workspace(tmp_path / "whole", base="tiny")
    actions.make_poses(whole, "walk", "walk", frames=8, size=64)
    actions.generate(whole, None, "walk", **settings)
    for i in range(8):
        name = f"{i:04d}.png"
        assert np.array_equal(
            read_image(out / "frames" / name), read_image(whole.root / "generate/base_walk/frames" / name)
        )


def test_a_cancelled_training_checkpoints_its_step_and_the_rerun_resumes_there(ws, tmp_path):
    photos = check_photos(mannequin_photos(tmp_path, 3, size=64))
    runner = JobRunner(poll=0.01)
    train = lambda: actions.train_subject(ws, "alice", photos, steps=4, validation_steps=0)  # noqa: E731
    _cancel_at_first_update(train, "train")
    checkpoints = sorted(p.name for p in (ws.registry.folder("alice") / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-1"]
    assert "alice" not in ws.registry.names()  # not registered until it finishes

    result = last_result(runner.run(train))
    assert result.steps == 4 and result.lora.is_file()
    assert actions.subject_table(ws) == [["alice", "sks person", "tiny", "LoRA"]]
    logged = (ws.registry.folder("alice") / "logs").rglob("*.csv")
    steps = [line.split(",")[0] for path in logged for line in path.read_text().splitlines()[1:]]
    assert "1" in steps and "4" in steps  # the first run logged step 1, the resumed one went on to 4


# --- uploads ----------------------------------------------------------------------------------------


def test_uploads_are_checked_with_one_line_that_names_the_problem(tmp_path):
    good = _photos(tmp_path, 3)
    assert len(check_photos(good)) == 3
    with pytest.raises(UploadError, match="2 photos uploaded; a subject needs 3 to 20"):
        check_photos(good[:2])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UploadError, match=r"notes.txt: not an image \(.txt\)"):
        check_photos([*good[:2], text])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(MediaError, match="broken.png"):  # the reader's own one-line error
        check_photos([*good[:2], broken])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(UploadError, match="empty.png: the file is empty"):
        check_photos([*good[:2], empty])
    with pytest.raises(UploadError, match="upload a video, or one or more photos"):
        check_media(None)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not empty")
    with pytest.raises(UploadError, match="clip.mp4: upload one video alone"):
        check_media([clip, good[0]])
    assert check_media(good) == good and check_media(clip) == [clip]
    with pytest.raises(UploadError, match="not a pose file"):
        check_pose_file(text)


def test_bad_names_fail_before_any_work(ws):
    with pytest.raises(Exception, match="pose name"):
        ws.pose_path("../escape")
    with pytest.raises(Exception, match="subject name"):
        actions.train_subject(ws, "../escape", [np.zeros((8, 8, 3), np.uint8)] * 3, steps=1)


# --- the workspace writes the command line's files --------------------------------------------------


def test_poses_are_extracted_from_uploaded_photos(ws, tmp_path):
    photos = mannequin_photos(tmp_path, 3)
    path, report = actions.extract_poses(ws, photos, "photos")
    from toolkit.pose.io import load_poses

    assert len(load_poses(path)) == 3 and report.startswith("a person in 3 of 3 frames")
    assert sorted(p.name for p in (ws.root / "uploads" / "photos").iterdir()) == [
        "0000.png",
        "0001.png",
        "0002.png",
    ]


def test_pose_actions_write_pose_files_and_previews(ws):
    path = actions.make_poses(ws, "walk", "walk", frames=12, size=64)
    assert path == ws.poses_dir / "walk.json" and ws.pose_names() == ["walk"]
    edited = actions.edit_poses(ws, "walk", "short", start=2, stop=8, smooth="one-euro")
    from toolkit.pose.io import load_poses

    assert len(load_poses(edited)) == 6
    preview = actions.preview_poses(ws, "short")
    assert preview.stat().st_size > 0
    drawn = preview.stat().st_mtime_ns
    assert actions.preview_poses(ws, "short").stat().st_mtime_ns == drawn  # not drawn again
    actions.edit_poses(ws, "walk", "short", start=2, stop=8, smooth="one-euro")  # newer: drawn again
    assert actions.preview_poses(ws, "short").stat().st_mtime_ns > drawn
    with pytest.raises(Exception, match="frames 0 to 12"):
        actions.edit_poses(ws, "walk", "bad", start=10, stop=20)
    copied = actions.import_poses(ws, edited, "again")
    assert len(load_poses(copied)) == 6


def test_compare_runs_on_a_subject_s_own_held_out_photos(ws, tmp_path):
    photos = check_photos(mannequin_photos(tmp_path, 8, size=128))
    last_result(
        JobRunner(poll=0.01).run(
            lambda: actions.train_subject(ws, "bo", photos[:3], steps=1, validation_steps=0)
        )
    )
    choices = actions.benchmark_choices(ws)
    assert "demo-walk" in choices and "video-folder" not in choices  # those that need no data folder
    assert not [c for c in choices if c.startswith("subject: ")]  # 3 photos: too few to hold two out
    with pytest.raises(Exception, match="subject 'bo' has 3 photos; .* needs at least 4"):
        actions.compare_methods(ws, ["ground-truth"], "subject: bo")

    last_result(
        JobRunner(poll=0.01).run(lambda: actions.train_subject(ws, "al", photos, steps=1, validation_steps=0))
    )
    assert "subject: al" in actions.benchmark_choices(ws)
    markdown, table, chart, video = actions.compare_methods(ws, ["ground-truth", "knn"], "subject: al")
    assert chart.stat().st_size > 0 and video.stat().st_size > 0
    # The harness fitted k-NN on the first six photos and rendered the last two in their own poses.
    data = ws.root / "compare" / "subjects" / "al"
    assert len(list((data / "images").glob("*.png"))) == 8 and (data / "poses.json").is_file()

    run = ws.root / "compare" / "runs" / "subject-al" / "knn"
    record = json.loads((run / "metrics.json").read_text())["benchmark"]
    assert record["name"] == "subject-al" and record["settings"]["frames"] == 8
    (clip,) = (run / "frames" / "al").iterdir()
    assert clip.name == "frames_00006" and sorted(p.name for p in clip.glob("*.png")) == [
        "00000.png",
        "00001.png",
    ]
    rows = {row.split(",")[0]: row.split(",") for row in table.read_text().splitlines()}
    header = rows.pop(next(iter(rows)))
    ssim = header.index("ssim")
    assert float(rows["ground-truth"][ssim]) == pytest.approx(1.0)
    assert 0 < float(rows["knn"][ssim]) < 1


def test_the_generate_command_line_names_the_same_folder_and_settings(ws):
    request = actions.generate_request(ws, "alice", "walk", steps=8, seed=3, size=64, guidance=4.0)
    line = actions.command_line(request)
    assert line[:2] == ["toolkit", "generate"]
    assert line[line.index("-o") + 1] == str(ws.root / "generate" / "alice_walk")
    assert line[line.index("--size") + 1] == "64x64" and line[line.index("--steps") + 1] == "8"
    assert line[line.index("--subject") + 1] == "alice" and line[-2:] == ["--seed", "3"]
    assert "--overwrite" not in line
    again = actions.generate_request(ws, None, "walk", overwrite=True)
    assert again.overwrite and again.base == "tiny" and "--overwrite" in actions.command_line(again)


def test_toolkit_ui_without_gradio_says_how_to_install_it(monkeypatch, capsys):
    import importlib.util

    from toolkit.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a)
    )
    assert main(["ui", "--base", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[ui]'" in err
