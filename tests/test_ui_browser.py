"""The web app in a real browser: ``toolkit ui`` started cold, driven by Playwright in headless Chromium.

The flow: a bad upload shows its one-line message; 5 mannequin photos train a subject on the packaged
``mini`` model for a few steps; a procedural walk of 8 frames is made; the subject is generated in it,
and the page then shows a playing video while the files lie in the output folder.

Needs the ``ui`` and ``browser`` extras and Debian's ``chromium`` (``make test-ui`` installs the first two).
Skipped without them, unless ``TOOLKIT_REQUIRE_BROWSER=1`` (as ``.ci/run`` sets) turns the skip into a
failure. ``TOOLKIT_UI_SCREENSHOTS=DIR`` keeps a screenshot of each tab in DIR (docs/images holds them).
The run's timings are printed (``pytest -s``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from _mannequin_photos import mannequin_photos

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No background traffic: this machine's closed network refuses it, many connections at a time.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
TRAIN_STEPS, FRAMES, STEPS = 10, 8, 10
VIDEO_PLAYS = "() => { const v = document.querySelector('#generate-video video'); return v?.duration > 0; }"


def _missing() -> str | None:
    for module in ("gradio", "playwright"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (make test-ui installs it)"
    if not Path(CHROMIUM).is_file():
        return "chromium is not installed (apt-get install -y chromium)"
    return None


if (reason := _missing()) is not None:
    if os.environ.get("TOOLKIT_REQUIRE_BROWSER"):
        raise RuntimeError(f"the browser test cannot run: {reason}")
    pytest.skip(reason, allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``toolkit ui`` in a subprocess, from a cold start."""

    def __init__(self, out: Path) -> None:
        self.out, self.port = out, _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = (out.parent / "ui.log").open("w")
        self.started = time.monotonic()
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        command = [sys.executable, "-m", "toolkit.cli", "ui", "-o", str(out), "--base", "mini"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )

    def wait(self, timeout: float = 120) -> float:
        """Seconds from the start until the page answers."""
        while time.monotonic() - self.started < timeout:
            assert self.process.poll() is None, (self.out.parent / "ui.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return time.monotonic() - self.started
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"toolkit ui did not answer at {self.url} in {timeout} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _first_file(path: Path, since: float, found: dict[str, float]) -> threading.Thread:
    """Note the monotonic time ``path`` first exists (seconds after ``since``) as ``found["s"]``."""

    def watch() -> None:
        deadline = time.monotonic() + 900
        while "s" not in found and time.monotonic() < deadline:
            if path.is_file():
                found["s"] = time.monotonic() - since
            time.sleep(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def _pick(page, dropdown: str, option: str) -> None:
    """Choose ``option`` in the Gradio dropdown with element id ``dropdown``."""
    page.click(f"#{dropdown} input")
    page.get_by_role("option", name=option, exact=True).click()


def _fill(page, element: str, value: str) -> None:
    box = page.locator(f"#{element} input, #{element} textarea").first
    box.fill(value)
    box.press("Tab")  # Gradio takes a number field's value on change


def _status(page, element: str, text: str, timeout_s: float) -> None:
    """Wait until element ``element`` (a status box) shows ``text``; fail early on an error line."""
    page.wait_for_function(
        "([id, text]) => { const t = document.getElementById(id)?.innerText || '';"
        " return t.includes(text) || t.includes('error:'); }",
        arg=[element, text],
        timeout=timeout_s * 1000,
    )
    shown = page.locator(f"#{element}").inner_text()
    assert text in shown, shown


def test_photos_in_video_out_in_a_real_browser(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("TOOLKIT_UI_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    photos = mannequin_photos(tmp_path / "photos", 5)
    out = tmp_path / "ui"
    server = Server(out)
    timings: dict[str, float] = {}
    try:
        timings["page_ready_s"] = server.wait()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url)
            page.wait_for_selector("#train-button")

            # A bad upload gets the CLI's one-line message, and nothing is trained.
            page.set_input_files("#train-photos input[type=file]", [str(p) for p in photos[:2]])
            page.wait_for_timeout(1500)
            page.click("#train-button")
            _status(page, "train-status", "2 photos uploaded; a subject needs 3 to 20", 60)
            assert not (out / "subjects").exists() or not any((out / "subjects").iterdir())
            page.reload()
            page.wait_for_selector("#train-button")

            # Subjects: 5 photos, a few DreamBooth-LoRA steps on mini.
            page.set_input_files("#train-photos input[type=file]", [str(p) for p in photos])
            page.wait_for_timeout(1500)
            _fill(page, "train-name", "mannequin")
            _fill(page, "train-steps", str(TRAIN_STEPS))
            page.click("#train-button")
            _status(page, "train-status", "trained 'mannequin'", 600)
            _status(page, "subjects-table", "mannequin", 30)
            page.click("#subjects-show")
            _status(page, "subjects-record", 'token = "sks"', 30)
            page.screenshot(path=shots / "ui_subjects.png", full_page=True)

            # Poses: a procedural walk of 8 frames.
            page.get_by_role("tab", name="Poses").first.click()
            _fill(page, "poses-name", "walk8")
            _fill(page, "poses-frames", str(FRAMES))
            page.click("#poses-make")
            _status(page, "poses-status", f"{FRAMES} frames", 120)
            page.wait_for_selector("#poses-preview video")
            page.screenshot(path=shots / "ui_poses.png", full_page=True)

            # Generate: the subject in the walk.
            page.get_by_role("tab", name="Generate").first.click()
            page.wait_for_timeout(1000)
            _pick(page, "generate-subject", "mannequin")
            _pick(page, "generate-poses", "walk8")
            _fill(page, "generate-steps", str(STEPS))
            folder = out / "generate" / "mannequin_walk8"
            clicked = time.monotonic()
            first: dict[str, float] = {}
            _first_file(folder / "frames" / "0000.png", server.started, first)
            page.click("#generate-button")
            page.wait_for_function(VIDEO_PLAYS, timeout=600_000)
            timings["generate_s"] = time.monotonic() - clicked
            duration = page.eval_on_selector("#generate-video video", "v => v.duration")
            page.screenshot(path=shots / "ui_generate.png", full_page=True)

            # Compare: the two quick methods of the harness on the subject's own photos (3 to fit on,
            # 2 held out), a choice the tab lists once the subject exists.
            page.get_by_role("tab", name="Compare").first.click()
            page.wait_for_timeout(1000)
            _pick(page, "compare-benchmark", "subject: mannequin")
            page.click("#compare-button")
            _status(page, "compare-status", "compared", 600)
            page.screenshot(path=shots / "ui_compare.png", full_page=True)
            browser.close()
    finally:
        server.stop()

    assert duration > 0
    frames = sorted(p.name for p in (folder / "frames").iterdir())
    assert frames == [f"{i:04d}.png" for i in range(FRAMES)]
    for name in ("video.mp4", "video.gif", "contact_sheet.png", "manifest.json"):
        assert (folder / name).stat().st_size > 0, name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["outputs"]["complete"] and manifest["outputs"]["frames"] == FRAMES
    assert (out / "subjects" / "mannequin" / "pytorch_lora_weights.safetensors").is_file()
    assert (out / "poses" / "walk8.json").is_file()
    table = (out / "compare" / "comparison" / "comparison.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == ["ground-truth", "knn"]
    assert (out / "compare" / "runs" / "subject-mannequin" / "knn" / "metrics.json").is_file()
    timings["first_frame_from_cold_start_s"] = first.get("s", float("nan"))
    timings["video_duration_s"] = duration
    print("ui timings:", json.dumps(timings))  # docs/ui.md quotes them
