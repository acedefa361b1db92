"""Painting on the GUI thread alone: Qt's GUI thread pool turned off.

Qt's raster engine hands any fill or blit of more than ~100 scan lines to a GUI thread pool, in
segments, and waits for them. The plots' paint is dozens of such small operations (each cached
axis, title and legend is a blit): waking the pool's threads for each one, on cores the
simulation's Torch threads are using, made a frame at depth 100 take 17 ms instead of 12 on two
cores (bench/bench_gui.py, alternating runs). Qt reads the variable once, at its first paint.
"""
from __future__ import annotations

import os


def paint_on_gui_thread_only() -> None:
    """Turn Qt's GUI thread pool off (QT_NO_GUI_THREADPOOL) unless the environment already says;
    call before the first paint. Qt takes any value of the variable, even 0, as 'off'."""
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
