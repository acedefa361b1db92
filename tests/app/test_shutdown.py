"""Closing the real application (a subprocess, offscreen) at any moment: exit status 0 within
2 s of the close, nothing on stderr."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import WINDOW, as_sets

ROOT = Path(__file__).resolve().parents[2]
SMALL = as_sets(WINDOW)
# a probe of 1000 layers takes about a second or more: closing 300 ms after start lands inside the
# worker's first build + probe, before anything is drawn
SLOW = ["--set", "depth=1000", "--set", "width=128", "--set", "batch_size=64"]
LIMIT_S = 2.0


def launch(*args: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-m", "app", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)


def finish(proc: subprocess.Popen) -> tuple[str, str, float]:
    """(stdout, stderr, time.monotonic() at exit); the exit status is in proc.returncode."""
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
    return out, err, time.monotonic()


@pytest.mark.parametrize("args,state", [
    (SMALL + ["--close-after", "1200"], "idle"),
    (SMALL + ["--run", "--close-after", "1200"], "running"),
    (SLOW + ["--close-after", "300"], "busy"),
], ids=["idle", "running", "mid-probe"])
def test_close_at_any_moment_exits_0_quickly_and_silently(args, state):
    proc = launch(*args)
    out, err, end = finish(proc)
    assert proc.returncode == 0, err
    # closing: state=<running|busy|idle> drawn=<step|none> t=<time.monotonic() at the close>
    fields = dict(part.split("=", 1) for part in out.split()[1:])
    assert out.startswith("closing: ") and fields["state"] == state, out
    if state == "busy":
        assert fields["drawn"] == "none"  # the first probe was still being computed
    elif state == "running":
        assert int(fields["drawn"]) > 0
    # CLOCK_MONOTONIC is one clock for every process of the machine
    assert end - float(fields["t"]) < LIMIT_S
    assert err == ""


def thread_names(pid: int) -> set[str]:
    names = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            names.add((task / "comm").read_text().strip())
        except OSError:
            continue
    return names


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads thread names from /proc")
def test_sigterm_while_running_closes_like_the_window_button():
    proc = launch(*SMALL, "--run")
    deadline = time.monotonic() + 120
    while "SimulationThrea" not in thread_names(proc.pid):  # the window and its worker exist
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)  # let it train a while (a step of this network takes milliseconds)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err, end = finish(proc)
    assert proc.returncode == 0 and err == "" and end - sent < LIMIT_S
