"""Zoom levels (Ctrl+= / Ctrl+− / Ctrl+0) and the sizes of text they give.

A zoom `z` multiplies every text of the window: the widgets' font (controls, scenario text,
status bar) and the plots, which are drawn magnified by z as a whole (app/canvas.py). The
presentation mode multiplies both again by its own factors (app/presentation.py).
"""
from __future__ import annotations

ZOOM_STEPS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0)


def zoom_in(zoom: float) -> float:
    """The next zoom step above `zoom` (the largest stays)."""
    return next((z for z in ZOOM_STEPS if z > zoom + 1e-9), ZOOM_STEPS[-1])


def zoom_out(zoom: float) -> float:
    """The next zoom step below `zoom` (the smallest stays)."""
    return next((z for z in reversed(ZOOM_STEPS) if z < zoom - 1e-9), ZOOM_STEPS[0])
