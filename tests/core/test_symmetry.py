"""core.symmetry.unit_spread: 0 for copies of one unit, about 1 for independent units."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator
from core.snapshot import Snapshot
from core.symmetry import UNIT_SPREAD_MAX_VALUES, unit_spread


def test_copies_of_one_unit_measure_zero_and_independent_units_about_one():
    gen = torch.Generator().manual_seed(0)
    per_example = torch.randn(1, 256, 1, generator=gen)
    copies = per_example.expand(1, 256, 32).contiguous() * 3.0 + 1.0
    independent = torch.randn(1, 256, 32, generator=gen)
    assert unit_spread(copies)[0] == 0.0
    # i.i.d. units: E_b[Var_i] = (1 − 1/W)·σ² of a total σ²: √(31/32) ≈ 0.984 (sampling error ≈ 1 %)
    assert unit_spread(independent)[0] == pytest.approx(math.sqrt(31 / 32), abs=0.02)


def test_law_of_total_variance_against_numpy():
    gen = torch.Generator().manual_seed(1)
    # units = a shared per-example signal plus unit-specific parts: the share is the formula's
    a = torch.randn(3, 64, 16, generator=gen) + 2.0 * torch.randn(3, 64, 1, generator=gen)
    x = a.double().numpy()
    expected = np.sqrt(x.var(axis=2).mean(axis=1) / x.reshape(3, -1).var(axis=1))
    np.testing.assert_allclose(unit_spread(a), expected, rtol=1e-6)  # float32 sums of 16 values


def test_undefined_cases_are_nan():
    assert np.isnan(unit_spread(torch.randn(2, 8, 1))).all()  # one unit: nothing to compare
    assert np.isnan(unit_spread(torch.zeros(2, 8, 4))).all()  # no variance to split
    bad = torch.randn(1, 8, 4)
    bad[0, 0, 0] = float("nan")
    assert np.isnan(unit_spread(bad)).all()


def test_reads_only_the_first_rows_of_a_large_batch():
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(1, 1024, 64, generator=gen)
    rows = UNIT_SPREAD_MAX_VALUES // 64
    a[:, rows:] = a[:, rows:, :1]  # rows past the first max_values/W are copies: not read
    assert unit_spread(a)[0] == pytest.approx(unit_spread(a[:, :rows])[0], rel=1e-12)
    assert unit_spread(a, max_values=1024 * 64)[0] < 0.5  # all rows read: mostly copies


def test_in_every_snapshot_and_its_json():
    cfg = SimConfig(depth=3, width=8, n_samples=64, batch_size=16, device="cpu", init="constant", init_std=0.1)
    snap = Simulator(cfg).probe()
    assert snap.layers.unit_spread.shape == (3,) and snap.layers.unit_spread.max() < 1e-6
    doc = snap.to_dict()
    assert [layer["unit_spread"] for layer in doc["layers"]] == snap.layers.unit_spread.tolist()
    assert "unit_spread" in snap.csv_rows()[0]
    np.testing.assert_array_equal(Snapshot.from_dict(doc).layers.unit_spread, snap.layers.unit_spread)
    for layer in doc["layers"]:  # a file written before the field existed reads it as NaN
        del layer["unit_spread"]
    assert np.isnan(Snapshot.from_dict(doc).layers.unit_spread).all()
