"""The Trainability map view on a real Dask cluster (its address stored in the settings)."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from app import settings as remembered
from app.panels.trainability import TrainabilityView
from core import SimConfig
from core.grid import GridSpec, connect, parse_axis, run_cell
from tests.helpers import GRID_CELL

TINY = SimConfig(**GRID_CELL)


@pytest.fixture(scope="module")
def scheduler_address():
    with connect(workers=1) as client:
        yield client.scheduler.address


@pytest.fixture
def view(qtbot, scheduler_address):
    settings = remembered.default_settings()
    remembered.remember_scheduler(settings, scheduler_address)
    v = TrainabilityView(TINY, settings)
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    yield v
    assert v.shutdown()


def test_map_fills_in_with_theory_and_click_picks_a_config(qtbot, view):
    view.x_edit.setText("sigma_w2=1:3:2")
    view.y_edit.setText("depth=2:4:2")
    view.steps.setValue(3)
    with qtbot.waitSignal(view.runningChanged, timeout=120_000, check_params_cb=lambda r: r is False):
        assert view.start()
    assert view.status.text().startswith("Done: 4 of 4 cells"), view.status.text()
    spec = GridSpec(TINY, parse_axis("sigma_w2=1:3:2"), parse_axis("depth=2:4:2"), 3)
    for c in spec.cells():   # every cell drawn is the cell's own accuracy, as computed anywhere else
        assert view.values[c.ix, c.iy] == run_cell(c.config, 3)["accuracy"]
    xs, ys = view.boundary.getData()
    assert len(xs) == 2 and np.all(ys == 1.5)   # 6·ξ_c is far above depth 4 at σ_w² 1 and 3: the top edge
    # a real click on the cell (1, 0) emits its config
    vb = view.plot.getPlotItem().vb
    scene = vb.mapViewToScene(QPointF(1, 0))
    pos = view.plot.mapFromScene(scene)
    with qtbot.waitSignal(view.configPicked, timeout=5000) as picked:
        QTest.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    assert picked.args[0] == spec.config_at(3.0, 2)
    view.metric_box.setCurrentIndex(view.metric_box.findData("loss"))
    assert math.isfinite(view.values[0, 0]) and view.values[0, 0] > 0.1   # a cross-entropy now, not an accuracy


def test_cancel_stops_the_grid_and_keeps_the_cells_done(qtbot, view):
    view.x_edit.setText("sigma_w2=1:3:4")
    view.y_edit.setText("depth=2:5:4")
    view.steps.setValue(20)
    assert view.start()
    qtbot.waitUntil(lambda: len(view.rows) >= 1, timeout=120_000)
    view.cancel()
    assert not view.busy() and view.run_button.isEnabled()
    assert view.shutdown()
    assert 1 <= len(view.rows) < 16 and view.status.text().startswith("Cancelled")
    assert np.isfinite(view.values).sum() == len(view.rows)


def test_bad_axis_and_missing_dask_are_reported_not_run(qtbot, view, monkeypatch):
    view.x_edit.setText("sigma_w2=4:1:3")
    assert not view.start() and "is above HI" in view.status.text() and not view.busy()
    view.x_edit.setText("sigma_w2=1:4:3")
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert not view.start() and "pip install -e '.[cluster]'" in view.status.text()


def test_grid_scenario_fills_the_form(view):
    view.use_scenario("tanh_depth_scale")
    assert (view.x_edit.text(), view.y_edit.text(), view.steps.value()) == ("sigma_w2=1:4:7", "depth=4:64:9:log", 300)
    assert view.base.dataset == "digits" and view.metric_box.currentData() == "accuracy"
    assert "L ≈ 3.7·ξ_c" in view.status.text()
    view.use_scenario(None)
    assert view.base == TINY


def test_window_view_menu_and_a_picked_cell_reach_the_controls(make_window, small_config, qtbot):
    window = make_window(small_config)
    dock = window.trainability
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert dock.dock.toggleViewAction() in menu.actions() and dock._view is None   # built when first shown
    dock.dock.toggleViewAction().trigger()
    view = dock._view
    assert view is not None and dock.dock.widget() is view
    view.spec = GridSpec(small_config, parse_axis("sigma_w2=1:3:2"), parse_axis("depth=2:4:2"), 3)
    picked = view.pick(1, 1)
    assert window.controls.config() == picked and picked.depth == 4
    # the worker applies it, and the applied config is the next grid's base
    qtbot.waitUntil(lambda: view.base == picked, timeout=30_000)
