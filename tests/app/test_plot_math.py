"""The plots' NumPy helpers (app/plot_math.py) against independent computations, and proof that
the module needs neither Qt nor pyqtgraph."""
from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.plot_math import (auto_layers, colour_index, layer_noun, layer_prefix, layer_span, nan_min_max,
                           resample_histograms, safe_log10, short_number, step_envelope, value_grid)

QT_PACKAGES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph")


def test_plot_math_imports_with_qt_blocked(monkeypatch):
    """Re-imported while every Qt binding and pyqtgraph is unimportable (a None entry in sys.modules
    makes `import` raise ImportError), the module loads and works."""
    for name in [m for m in sys.modules if m.split(".")[0] in QT_PACKAGES] + list(QT_PACKAGES):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "app.plot_math")
    with pytest.raises(ImportError):
        importlib.import_module("PySide6.QtCore")   # (the block holds)
    fresh = importlib.import_module("app.plot_math")
    assert fresh.auto_layers(3) == [1, 2, 3] and fresh.layer_noun("rnn") == "time step"
    monkeypatch.delitem(sys.modules, "app.plot_math")   # (the test's import is not kept)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), layers=st.integers(1, 6))
def test_resample_conserves_mass_and_matches_numpy(seed, layers):
    rng = np.random.default_rng(seed)
    data = [rng.normal(rng.uniform(-3, 3), rng.uniform(0.01, 2), 500) for _ in range(layers)]
    counts, edges = zip(*(np.histogram(d, bins=50) for d in data))
    counts, edges = np.array(counts), np.array(edges)
    grid = value_grid(edges, 40)
    share = resample_histograms(counts, edges, grid)
    np.testing.assert_allclose(share.sum(1), 1.0, rtol=1e-9)
    # the common-grid histogram is the original one smoothed by at most one source bin
    for k, d in enumerate(data):
        direct = np.histogram(d, bins=grid)[0] / len(d)
        src_width = edges[k, 1] - edges[k, 0]
        tolerance = 2 * counts[k].max() / len(d) + 1e-12
        assert np.abs(share[k] - direct).max() <= tolerance or src_width > (grid[1] - grid[0])


def test_resample_narrow_layer_lands_in_one_bin():
    counts = np.array([[0, 10, 0], [5, 5, 5]])
    edges = np.array([[0.0, 0.001, 0.002, 0.003], [-1.0, 0.0, 1.0, 2.0]])
    share = resample_histograms(counts, edges, np.linspace(-1, 2, 4))
    np.testing.assert_allclose(share, [[0, 1, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_safe_log10_flags_zero_and_nonfinite():
    logs, zero, bad = safe_log10(np.array([100.0, 0.0, np.nan, np.inf, 1e-30]))
    np.testing.assert_allclose(logs[[0, 4]], [2.0, -30.0])
    assert list(zero) == [False, True, False, False, False]
    assert list(bad) == [False, False, True, True, False]


def test_auto_layers():
    assert auto_layers(1) == [1]
    assert auto_layers(1000) == [1, 251, 500, 750, 1000]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 900), groups=st.integers(1, 120), seed=st.integers(0, 10_000))
def test_step_envelope_holds_every_step_in_few_points(n, groups, seed):
    rng = np.random.default_rng(seed)
    steps = np.sort(rng.choice(np.arange(1, 5 * n + 1), n, replace=False)).astype(np.float64)
    lo = rng.normal(-5, 2, n)
    hi = lo + rng.exponential(1.0, n)
    x, band_lo, band_hi = step_envelope(steps, lo, hi, groups)
    assert len(x) <= max(n, 2 * groups) and np.all(np.diff(x) >= 0)
    assert x[0] == steps[0] and x[-1] == steps[-1]
    # at every step the band holds the step's lo..hi (and is exactly it when nothing is grouped)
    assert np.all(np.interp(steps, x, band_lo) <= lo + 1e-12) and np.all(np.interp(steps, x, band_hi) >= hi - 1e-12)
    if n <= groups:
        np.testing.assert_array_equal(band_lo, lo)
    # and it is no wider than the extremes of the steps grouped with it
    assert band_lo.min() == lo.min() and band_hi.max() == hi.max()


def test_nan_min_max_ignores_nan_and_leaves_empty_rows_nan():
    x = np.array([[1.0, np.nan, -2.0], [np.nan, np.nan, np.nan], [5.0, 5.0, 5.0]])
    lo, hi = nan_min_max(x)
    np.testing.assert_array_equal(lo[[0, 2]], [-2.0, 5.0])
    np.testing.assert_array_equal(hi[[0, 2]], [1.0, 5.0])
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_colour_index_maps_the_range_onto_1_to_254():
    index = colour_index(np.array([0.0, 10.0, 5.0, -3.0, 99.0, np.nan, np.inf, -np.inf]), 0.0, 10.0)
    assert index.dtype == np.uint8
    # 1 + 253·(v − lo)/(hi − lo), clipped; NaN and −Inf at the bottom, +Inf at the top
    assert list(index) == [1, 254, int(1 + 253 * 0.5), 1, 254, 1, 254, 1]


def test_layer_names_and_numbers():
    assert (layer_noun("mlp"), layer_noun("rnn")) == ("layer", "time step")
    assert (layer_noun("cnn"), layer_noun("transformer")) == ("conv layer", "block")
    assert (layer_prefix("layer"), layer_prefix("time step")) == ("L", "t")
    assert (layer_prefix("conv layer"), layer_prefix("block")) == ("L", "B")
    assert (layer_span("layer"), layer_span("time step")) == ("input → output", "first → last")
    assert [short_number(x) for x in (0.123456, -1.234567e-5, math.nan, -math.inf)] == ["0.123", "-1.23e-05",
                                                                                       "nan", "-inf"]


def test_isolated_marks_finite_values_without_finite_neighbours():
    from app.plot_math import isolated
    nan = float("nan")
    assert isolated(np.array([5.0, nan, nan])).tolist() == [True, False, False]
    assert isolated(np.array([1.0, 2.0, nan, 3.0, nan, 4.0])).tolist() == [False, False, False, True, False, True]
    assert isolated(np.array([math.inf, 1.0])).tolist() == [False, True]
    assert isolated(np.zeros(0)).tolist() == []


def test_least_covered_and_along():
    from app.plot_math import along, least_covered
    x, y = along(np.array([1.0, 2.0, np.nan, 3.0]), np.array([0.0, 1.0, 5.0, 3.0]), per_unit=2)
    assert x.tolist() == [1.0, 1.5, 2.0, 2.5, 3.0] and y.tolist() == [0.0, 0.5, 1.0, 2.0, 3.0]
    boxes = [(0.0, 2.0, 0.0, 1.0), (2.5, 3.0, 2.0, 3.0), (5.0, 6.0, 0.0, 1.0)]
    assert least_covered(boxes, x, y) == 2
    assert least_covered(boxes[:2], x, y) == 1
