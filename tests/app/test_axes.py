"""Axes that fit what they show: the accuracy axis drawn where the accuracy is."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

SIZES = ((1024, 768), (1280, 720), (1366, 768), (1600, 1000))


def axis_y(axis, value: float) -> float:
    """Scene y of `value`'s tick on a vertical AxisItem (ticks span the axis' height over its range)."""
    lo, hi = axis.range
    return axis.mapToScene(QPointF(0, axis.size().height() * (hi - value) / (hi - lo))).y()


def test_accuracy_curve_is_drawn_against_its_axis_at_every_window_size(make_window, small_config, qtbot):
    w = make_window(small_config)
    for _ in range(3):
        w.step()
    qtbot.waitUntil(lambda: w.plots.drawn_step == 3, timeout=15000)
    loss = w.plots.loss
    right = loss.plot.getAxis("right")
    for width, height in SIZES:
        w.resize(width, height)
        qtbot.waitUntil(lambda: w.size().height() == height or w.size().height() > height, timeout=5000)
        qtbot.wait(1)  # let the layouts run
        w.plots.scene().prepareForPaint()
        steps, acc = loss.acc_curve.getData()
        for x, value in ((steps[-1], acc[-1]), (steps[0], 0.0), (steps[0], 1.0)):
            drawn = loss.acc_view.mapViewToScene(QPointF(x, value)).y()
            assert drawn == pytest.approx(axis_y(right, value), abs=1.5), (width, height, value)
