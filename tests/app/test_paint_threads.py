"""The plots paint on the GUI thread alone: Qt's GUI thread pool stays off (app/workarounds/gui_thread_pool.py,
`paint_on_gui_thread_only`). Each case is a fresh interpreter, since Qt reads the setting once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POOL_THREAD = "Thread (pooled)"   # the OS name of a QThreadPool thread

# Paints the panel once and prints how many pool threads the process has. With "qt-default" the
# app's setting is removed again before Qt starts: that case shows the paint would use the pool.
SCRIPT = """
import os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import app
if sys.argv[2] == "qt-default":
    del os.environ["QT_NO_GUI_THREADPOOL"]
from PySide6.QtWidgets import QApplication
qapp = QApplication([])
from app.history import History
from app.panels.plot_panel import PlotPanel
from core import SimConfig, Simulator
snap = Simulator(SimConfig(depth=20, width=16, n_samples=128, batch_size=16)).step()
history = History()
history.add(snap)
panel = PlotPanel()
panel.resize(1400, 900)
panel.show()
panel.show_snapshot(snap, history)
qapp.processEvents()
names = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
print(names.count(%r), flush=True)
os._exit(0)
""" % POOL_THREAD


def pool_threads_after_a_paint(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), mode], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads thread names from /proc")
def test_the_plots_paint_without_qts_thread_pool():
    assert pool_threads_after_a_paint("qt-default") > 0   # Qt's default: the paint uses its pool
    assert pool_threads_after_a_paint("app") == 0
