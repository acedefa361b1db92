"""Mean-field theory (core.theory) against independent integrals, known critical points and
measured profiles of real networks at width 512."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator
from core import theory as th
from core.activations import ACTIVATIONS
from core.config import ACTIVATION_NAMES, INIT_NAMES


def dense_expectation(name: str, slope: float, q: float, fn) -> float:
    """E[fn(φ(u), φ′(u))], u ~ N(0, q), by composite Simpson on 20 001 points per half-line
    (split at 0, where the ReLU family and selu have their kink): independent of the quadrature.
    `fn` may return a tuple of integrands (one pass, several expectations)."""
    n = 20_000
    simpson = np.ones(n + 1)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    z = np.linspace(0.0, 12.0, n + 1)
    z[0] = 1e-300                        # the one-sided limit at the kink
    z = np.concatenate([-z, z])
    u = torch.from_numpy(math.sqrt(q) * z)
    act = ACTIVATIONS[name]
    f = act.make(slope)(u).numpy()
    d = act.derivative(u, slope).numpy()
    w = np.tile(simpson * (12.0 / n) / 3.0, 2) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    out = fn(f, d)
    return tuple(v @ w for v in out) if isinstance(out, tuple) else out @ w


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_gaussian_moments_match_dense_integrals(name):
    # Simpson's error is O(h⁴·max|f⁗|) < 1e-9 here (h = 6e-4, f⁗ ≤ q²·O(100) for these smooth
    # halves); the composite Gauss–Legendre rule is more accurate still.
    for q in (0.01, 1.0, 9.0):
        got = th.gaussian_moments(name, 0.1, np.array([q]))
        refs = dense_expectation(name, 0.1, q, lambda f, d: (f, f * f, d * d, f**4, d**4))
        for key, ref in zip(("m1", "m2", "d2", "m4", "d4"), refs):
            assert got[key][0] == pytest.approx(ref, rel=1e-6, abs=1e-9), (name, q, key)


def test_table_interpolates_and_extrapolates():
    tab = th.table("relu")
    q = np.array([0.37, 123.4, 1e9])
    assert np.allclose(tab("m2", q), q / 2, rtol=1e-9)     # linear in q: interpolation is exact
    assert np.allclose(tab("d2", q), 0.5)
    # tanh: E[tanh′²] at large q ~ c/√q; the power-law tail must follow it (checked against quadrature)
    big = np.array([4e6])
    assert th.table("tanh")("d2", big)[0] == pytest.approx(th.gaussian_moments("tanh", 0, big)["d2"][0], rel=1e-3)


def test_chi_sentence():
    # √0.06 = 0.245 per layer: ten-fold every ln 10 / ln(1/0.245) = 1.63 layers
    assert th.chi_sentence(0.06) == "χ = 0.06 per layer: gradients shrink 10× every 1.6 layers"
    assert th.chi_sentence(4.0) == "χ = 4 per layer: gradients grow 10× every 3.3 layers"
    assert "preserved" in th.chi_sentence(1.0)


@pytest.mark.parametrize("name, sb2, expected", [
    # χ(q*) = σ_w² φ′(0)² when σ_b = 0 and φ(0) = 0 (q* = 0 in the ordered phase): 1/φ′(0)²
    ("tanh", 0.0, 1.0), ("elu", 0.0, 1.0), ("linear", 0.3, 1.0),
    # selu: φ′(0±) = λ, λα, so E[φ′²] → λ²(1 + α²)/2 as q → 0
    ("selu", 0.0, 2.0 / (1.0507009873554805**2 * (1 + 1.6732632423543772**2))),
    # ReLU: χ = σ_w²/2 whatever q*: critical at 2 for every σ_b² (He et al. 2015; Schoenholz et al. 2017)
    ("relu", 0.0, 2.0), ("relu", 0.2, 2.0), ("shifted_relu", 0.1, 2.0),
])
def test_critical_line_known_values(name, sb2, expected):
    assert th.critical_sigma_w2(name, 0.01, np.array([sb2]))[0] == pytest.approx(expected, rel=1e-5)


def test_tanh_critical_line_with_bias_matches_an_independent_solver():
    # Independent method: on the edge of chaos q* = σ_w² E[φ²] + σ_b² and σ_w² E[φ′²] = 1, so q*
    # solves q = E[φ(√q z)²] / E[φ′(√q z)²] + σ_b² (bisection on q, dense Simpson integrals),
    # and σ_w² = 1 / E[φ′(√q* z)²].
    sb2 = 0.05
    FG = lambda q: dense_expectation("tanh", 0, q, lambda f, d: (f * f, d * d))  # noqa: E731
    lo, hi = sb2, 2.0                    # h(sb2) > 0 > h(2) for tanh
    for _ in range(22):                  # q* to 2/2^22 ≈ 5e-7
        mid = (lo + hi) / 2
        F, G = FG(mid)
        lo, hi = (mid, hi) if F / G + sb2 - mid > 0 else (lo, mid)
    expected = 1.0 / FG((lo + hi) / 2)[1]
    assert th.critical_sigma_w2("tanh", 0, np.array([sb2]))[0] == pytest.approx(expected, abs=1e-4)


def test_phase_grid_sign_agrees_with_the_critical_line():
    grid = th.phase_grid("tanh", n=41)
    crit = th.critical_sigma_w2("tanh", 0, grid.sb2)
    step = grid.sw2[1] - grid.sw2[0]
    for row, c in zip(grid.log_chi, crit):
        ordered, chaotic = grid.sw2 < c - step, grid.sw2 > c + step
        assert (row[ordered] < 0).all() and (row[chaotic] > 0).all()


@pytest.mark.parametrize("init", INIT_NAMES)
def test_config_for_gives_the_requested_sigma_w2(init):
    cfg = SimConfig(init=init, width=64, init_mode="fan_in")
    changes = th.config_for(cfg, 1.7, 0.04)
    new = cfg.replace(**changes)
    assert th.hidden_sigma_w2(new) == pytest.approx(1.7, rel=1e-12)
    assert new.bias_std ** 2 == pytest.approx(0.04)


def test_not_applicable_reasons():
    assert "constant" in th.not_applicable(SimConfig(init="constant"))
    assert "batchnorm" in th.not_applicable(SimConfig(normalization="batchnorm"))
    assert th.not_applicable(SimConfig(architecture="residual")) is None
    with pytest.raises(ValueError, match="layernorm"):
        th.predict(SimConfig(normalization="layernorm"))


# --- measured against predicted ---------------------------------------------------------------
WIDTH, SEEDS = 512, 3


def fluctuation_sd(cfg: SimConfig, prof: th.Profile) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviation of log(measured/predicted) per layer for one network, from finite width N.

    Forward: the layer-(l+1) conditional second moment is σ_w² times an average of φ(z_j)² over
    N units, relative variance κ²/N with κ² = E[φ⁴]/E[φ²]² − 1, and earlier deviations pass
    through the log-slope λ = d log q^{l+1} / d log q^l of the map (Hanin 2018 for ReLU: 5L/N).
    The measured value adds the χ²_N/N noise of its own units (2/N). Backward: each layer's
    ‖δ‖² averages N terms φ′(z)²·g² with g Gaussian: relative variance (3(κ′² + 1) − 1)/N.
    Averaging over the batch can only reduce these, so they are upper bounds.
    """
    tab = th.table(cfg.activation, cfg.leaky_slope)
    q, sw2, sb2, N = prof.q, th.sigma_w2(cfg), cfg.bias_std**2, cfg.width
    m2, m4, d2, d4 = (tab(k, q) for k in ("m2", "m4", "d2", "d4"))
    dq = q * 1e-4
    lam = q[:-1] / (sw2[1:] * m2[:-1] + sb2) * sw2[1:] * (tab("m2", q[:-1] + dq[:-1]) - m2[:-1]) / dq[:-1]
    var_c = np.zeros(len(q))
    for i in range(1, len(q)):
        var_c[i] = lam[i - 1] ** 2 * var_c[i - 1] + (m4[i - 1] / m2[i - 1] ** 2 - 1) / N
    fwd = np.sqrt(var_c + 2 / N)
    per = (3 * (d4 / d2**2) - 1) / N
    bwd = np.sqrt(np.concatenate([np.cumsum(per[:-1][::-1])[::-1], [0.0]]))
    return fwd, bwd


@pytest.mark.parametrize("label, changes", [
    ("tanh xavier", dict(activation="tanh", init="xavier_normal")),
    ("relu kaiming", dict(activation="relu", init="kaiming_normal")),
    ("tanh chaotic", dict(activation="tanh", init="lecun_normal", init_gain=2.0, bias_std=0.3)),
    ("tanh ordered", dict(activation="tanh", init="lecun_normal", init_gain=0.6, bias_std=0.3)),
    # residual: q^{l+1} = σ_w² E[h²] + σ_b² with E[h²] growing by 2E[h]E[φ] + E[φ²] per layer
    ("relu residual", dict(activation="relu", init="kaiming_normal", init_gain=0.5, architecture="residual")),
    ("tanh residual", dict(activation="tanh", init="xavier_normal", bias_std=0.2, architecture="residual")),
])
def test_measured_profiles_match_the_prediction(label, changes):
    base = SimConfig(depth=10, width=WIDTH, dataset="gaussian", input_dim=64, n_samples=256, batch_size=128,
                     device="cpu", **changes)
    logs_q, logs_g, logs_a = [], [], []
    for seed in range(SEEDS):
        cfg = base.replace(seed=seed)
        snap = Simulator(cfg).probe()
        ls = snap.layers
        prof = th.predict(cfg)
        logs_q.append(np.log((ls.preact_std**2 + ls.preact_mean**2) / prof.q))
        logs_a.append(np.log(ls.act_std / prof.act_std))
        logs_g.append(np.log(ls.grad_norm / ls.grad_norm[-1] / prof.grad_ratio))
    fwd, bwd = fluctuation_sd(base.replace(architecture="mlp"), th.predict(base))
    # (for residual nets the MLP bound is used: each layer adds its branch to h, whose relative
    # fluctuation is at most that of the branch alone, and the q-map's log-slope is below 1)
    # 4 standard deviations of the mean over SEEDS independent networks, plus the Jensen bias of a
    # mean of logs (E[log X] ≈ log E[X] − var/2), plus 2% for the 32-quantile input summary. The
    # gradient sd is for log ‖δ‖², so for the norm both terms are halved.
    tol_q = 4 * fwd / math.sqrt(SEEDS) + fwd**2 / 2 + 0.02
    tol_g = 0.5 * (4 * bwd / math.sqrt(SEEDS) + bwd**2 / 2) + 0.02
    mean_q, mean_g, mean_a = (np.mean(v, axis=0) for v in (logs_q, logs_g, logs_a))
    assert (np.abs(mean_q) <= tol_q).all(), (label, mean_q, tol_q)
    assert (np.abs(mean_a) <= 0.5 * tol_q + 0.02).all(), (label, mean_a)
    assert (np.abs(mean_g) <= tol_g).all(), (label, mean_g, tol_g)


def test_predict_at_depth_1000_is_fast_enough_for_a_background_job():
    import time

    cfg = SimConfig(depth=1000, width=4096)
    th.predict(cfg)
    t0 = time.perf_counter()
    prof = th.predict(cfg)
    assert time.perf_counter() - t0 < 0.5 and len(prof.q) == 1000 and np.isfinite(prof.q).all()
