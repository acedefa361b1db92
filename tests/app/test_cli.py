"""`python -m app --screenshot` as a subprocess (the app entry's one real process): a PNG and exit 0.
Bad input: one error line, exit 2, checked in this process (main() returns before any Qt object)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from app.__main__ import main
from tests.helpers import WINDOW, as_sets

SMALL_SET = as_sets(WINDOW)


def run_app(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_screenshot_writes_png_and_exits_cleanly(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"activation": "sigmoid", "seed": 3}))
    out = tmp_path / "shot.png"
    proc = run_app("--screenshot", str(out), "--steps", "4", str(cfg), *SMALL_SET)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 4" in proc.stdout
    for bad in ("Fatal Python error", "QThread: Destroyed", "Traceback"):
        assert bad not in proc.stderr


def test_bad_config_exits_2_with_one_error_line(tmp_path, capsys):
    assert main(["--screenshot", str(tmp_path / "x.png"), "--set", "depth=0"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: depth:") and captured.out == ""
    assert not (tmp_path / "x.png").exists()


def test_unknown_option_exits_2(capsys):
    assert main(["--bogus"]) == 2
    assert capsys.readouterr().err.strip().startswith("error:")
