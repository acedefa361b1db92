"""Depth sweep and Jacobian spectrum against direct probes, autograd and SVD."""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator
from core import jacobian as jac
from core.cli import main
from core.sweep import Cancelled, geometric_depths, sweep

GAUSSIAN16 = dict(width=16, n_samples=64, batch_size=16, device="cpu", dataset="gaussian", input_dim=8)


def test_geometric_depths():
    assert geometric_depths(16) == [1, 2, 3, 4, 6, 8, 11, 16]
    assert geometric_depths(1) == [1] and geometric_depths(5)[-1] == 5


def test_sweep_csv_matches_direct_probes(tmp_path):
    out = tmp_path / "sweep.csv"
    sets = [f"--set={k}={v}" for k, v in GAUSSIAN16.items()]
    assert main(["sweep", *sets, "--depths", "1,4", "--over", "activation", "--format", "csv",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 11 * 2
    base = SimConfig(**GAUSSIAN16)
    for row in rows:
        if row["name"] not in ("tanh", "relu", "sigmoid"):
            continue
        g = Simulator(base.replace(activation=row["name"], depth=int(row["depth"]))).probe().layers.grad_norm
        # same config and seed on the CPU give bit-identical probes; CSV keeps repr precision
        assert float(row["ratio"]) == pytest.approx(g[0] / g[-1], rel=1e-12)
        if row["depth"] == "1":
            assert float(row["ratio"]) == 1.0


def test_sweep_progress_and_cancel():
    calls = []
    result = sweep(SimConfig(**GAUSSIAN16), [1, 2], "init", progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 20) for i in range(1, 21)]
    assert math.isnan(result.ratio["zeros"][1])          # zero weights: no gradient at all
    # kaiming_normal with ReLU would be the classic pair; here tanh: the ratio is positive and finite
    assert np.isfinite(result.ratio["kaiming_normal"]).all()
    seen = []
    with pytest.raises(Cancelled):
        sweep(SimConfig(**GAUSSIAN16), [1, 2, 3], "init", progress=lambda d, t: seen.append(d),
              cancelled=lambda: len(seen) >= 2)
    assert seen == [1, 2]                                 # stopped before the third probe


def test_bad_sweep_input_names_the_field(capsys):
    assert main(["sweep", "--depths", "1,x"]) == 2
    assert "depths" in capsys.readouterr().err
    assert main(["sweep", "--max-depth", "5000"]) == 2
    assert "max_depth" in capsys.readouterr().err


# --- Jacobian -------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch, act", [("mlp", "tanh"), ("mlp", "relu"), ("residual", "gelu"), ("autoencoder", "tanh")])
def test_jacobian_matches_autograd_and_numpy_svd(arch, act):
    cfg = SimConfig(architecture=arch, activation=act, depth=5, bias_std=0.1, **GAUSSIAN16)
    sim = Simulator(cfg)
    model = sim.model.double()
    x = sim.x[:3].double()
    spec = jac.spectrum(model, cfg, x)
    expected = []
    for xi in x:
        h1 = model.act(model.linears[0](xi))

        def rest(h):                           # h^1 → h^L, the map whose Jacobian we want
            for i in range(1, cfg.depth):
                a = model.act(model.linears[i](h))
                h = h + a if arch in ("residual", "autoencoder") else a
            return h

        J = torch.autograd.functional.jacobian(rest, h1).numpy()
        expected.append(np.linalg.svd(J, compute_uv=False))
    expected = np.sort(np.concatenate(expected))[::-1]
    assert np.allclose(spec.singular_values, expected, rtol=1e-9, atol=1e-12)
    assert spec.exact and spec.points == 3


def test_linear_mean_squared_singular_value_is_the_product_of_chi():
    # Linear net, xavier_normal on square layers: σ_w² = 1, so E[‖J‖²_F / N] = ∏χ = 1. Each Gaussian
    # factor changes ‖·‖²_F by a relative sd of about √2/N (N² entries of variance 1/N), so over 15
    # layers the sd is ≈ √(2·15)/128 ≈ 0.043; 4 sd → 0.17.
    cfg = SimConfig(activation="linear", depth=16, **{**GAUSSIAN16, "width": 128})
    spec = jac.simulator_spectrum(Simulator(cfg), points=1)
    assert spec.mean_sq == pytest.approx(1.0, abs=0.17)


@torch.no_grad()
def test_isometry_with_orthogonal_tanh_but_not_with_relu():
    base = dict(depth=24, **{**GAUSSIAN16, "width": 128})
    ortho = SimConfig(activation="tanh", init="orthogonal", init_gain=1.0, **base)
    sim = Simulator(ortho)
    spec = jac.simulator_spectrum(sim, points=2)
    # With orthogonal W (gain 1), ‖D W v‖ lies between min φ′ and max φ′ times ‖v‖ for every layer,
    # so every singular value of J at x lies in [∏ min φ′, ∏ max φ′]: the derived bound on the spread.
    lo_hi = []
    for x in sim.probe_inputs()[:2]:
        h, lo, hi = sim.model.act(sim.model.linears[0](x)), 0.0, 0.0
        for lin in sim.model.linears[1:]:
            z = lin(h)
            d = 1 - torch.tanh(z) ** 2
            lo, hi = lo + math.log(float(d.min())), hi + math.log(float(d.max()))
            h = torch.tanh(z)
        lo_hi.append((lo, hi))
    lo = min(a for a, _ in lo_hi)
    hi = max(b for _, b in lo_hi)
    logs = np.log(spec.singular_values)
    assert logs.min() >= lo - 1e-6 and logs.max() <= hi + 1e-6
    assert spec.rank_fraction == 1.0
    # ReLU + Kaiming: D_l zeroes the inactive units, so rank J ≤ min_l (active units of layer l):
    # at least 1 − that share of the singular values are (numerically) zero. About half the units
    # are active in each layer, so at least ~40 % vanish: no isometry whatever the scale.
    relu = SimConfig(activation="relu", init="kaiming_normal", **base)
    rsim = Simulator(relu)
    rspec = jac.simulator_spectrum(rsim, points=1)
    x = rsim.probe_inputs()[:1]
    h, active = rsim.model.act(rsim.model.linears[0](x)), []
    for lin in rsim.model.linears[1:]:
        z = lin(h)
        active.append(int((z > 0).sum()))
        h = torch.relu(z)
    assert rspec.rank_fraction <= min(active) / relu.width + 1e-9
    assert rspec.rank_fraction < 0.6 and spec.rank_fraction - rspec.rank_fraction > 0.4


def test_jacobian_cli_summary(capsys):
    sets = [f"--set={k}={v}" for k, v in GAUSSIAN16.items()]
    assert main(["jacobian", *sets, "--set", "depth=4", "--points", "2", "--directions", "8"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s = np.array(doc["singular_values"])
    assert doc["summary"]["count"] == len(s) == 2 * 8 and not doc["summary"]["exact"]
    assert doc["summary"]["mean_sq"] == pytest.approx(float(np.mean(s**2)))
    assert main(["jacobian", "--set", "depth=1"]) == 2
    assert "depth" in capsys.readouterr().err


def test_jacobian_cli_after_training_is_the_trained_networks(capsys):
    sets = [f"--set={k}={v}" for k, v in GAUSSIAN16.items()] + ["--set", "depth=4", "--set", "lr=0.5"]
    assert main(["jacobian", *sets, "--points", "2", "--steps", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    sim = Simulator(SimConfig(**{**GAUSSIAN16, "depth": 4, "lr": 0.5}))
    at_init = jac.simulator_spectrum(sim, 2)
    sim.step(3)
    trained = jac.simulator_spectrum(sim, 2)
    assert doc["step"] == 3
    np.testing.assert_allclose(doc["singular_values"], trained.singular_values, rtol=1e-6)
    assert not np.allclose(doc["singular_values"], at_init.singular_values, rtol=1e-3)
    assert main(["jacobian", *sets, "--steps", "-1"]) == 2
    assert "steps: -1 is out of range" in capsys.readouterr().err


def test_theory_cli_csv_is_the_prediction(capsys):
    from core import theory

    sets = [f"--set={k}={v}" for k, v in GAUSSIAN16.items()]
    assert main(["theory", *sets, "--set", "depth=5", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    prof = theory.predict(SimConfig(**GAUSSIAN16).replace(depth=5))
    assert [float(r["q"]) for r in rows] == pytest.approx(prof.q, rel=1e-12)
    assert [float(r["grad_ratio"]) for r in rows] == pytest.approx(prof.grad_ratio, rel=1e-12)
    assert main(["theory", "--set", "normalization=batchnorm"]) == 2
    assert "normalization" in capsys.readouterr().err
