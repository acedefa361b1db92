"""Recording a run: one GIF frame per drawn snapshot, from the window and headless; bad
paths and formats refused with one line, nothing left behind."""
from __future__ import annotations

import os
import subprocess
import sys

import imageio.v3 as iio
import pytest

from app.__main__ import main
from app.recording import RecordError, check_target, mp4_available

SMALL_SET = ["--set", "depth=5", "--set", "width=16", "--set", "n_samples=128", "--set", "batch_size=16"]


def run_app(*args, timeout=180):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_window_records_one_frame_per_drawn_snapshot(make_window, small_config, qtbot, tmp_path):
    w = make_window(small_config)
    w.resize(1024, 768)
    out = tmp_path / "run.gif"
    assert w.start_recording(str(out))
    drawn = []
    w.redrawn.connect(drawn.append)
    for _ in range(3):
        before = len(drawn)
        w.step()
        qtbot.waitUntil(lambda: len(drawn) > before, timeout=10000)
    assert w.stop_recording(), w.message_label.text()
    frames = iio.imread(out, index=None)
    assert len(frames) >= len(drawn) >= 3
    assert frames.shape[1:3] == (w.height(), w.width())
    assert [p.name for p in tmp_path.iterdir()] == ["run.gif"]


def test_headless_record_writes_a_gif(tmp_path):
    out = tmp_path / "run.gif"
    proc = run_app("--steps", "4", "--record", str(out), "--size", "1024x768", *SMALL_SET)
    assert proc.returncode == 0, proc.stderr
    frames = iio.imread(out, index=None)
    said = int(proc.stdout.split("(")[1].split(" frames")[0])   # "wrote … (N frames: one per drawn snapshot)"
    assert len(frames) == said >= 1
    assert frames.shape[1:3] == (768, 1024)


@pytest.mark.parametrize("name,reason", [("run.avi", ".gif or .mp4"), ("missing/run.gif", "does not exist")])
def test_bad_record_target_exits_2_with_one_line(tmp_path, name, reason, capsys):
    # (in this process: main() refuses bad input before it makes any Qt object)
    assert main(["--steps", "2", "--record", str(tmp_path / name), *SMALL_SET]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --record:") and reason in lines[0]
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_mp4_needs_the_ffmpeg_plugin(tmp_path):
    if mp4_available():
        assert check_target(tmp_path / "run.mp4") == tmp_path / "run.mp4"
    else:
        with pytest.raises(RecordError, match="imageio-ffmpeg"):
            check_target(tmp_path / "run.mp4")
