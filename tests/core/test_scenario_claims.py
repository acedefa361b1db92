"""Every number a scenario's text names (explanation, prediction, "look for") holds after its own steps.

Each scenario is run once (module cache): a probe before training, every step's snapshot, and
a probe after. Tolerances come from the formula or, for a measured figure, from the spread over
seeds 0-2 given in the comment; the scenarios themselves run at their own seed 0.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pytest
import torch
from torch import nn

from core import Simulator, theory
from core.diagnoses import diagnose, format_diagnoses
from core.trace import Trace
from core.scenarios import SCENARIOS, load_scenario
from core.snapshot import Snapshot
from core.stats import HIST_BINS

from tests.helpers import AUTOENCODER_SCENARIOS, CNN_SCENARIOS, TRANSFORMER_SCENARIOS
from tests.helpers import FASTAI_TOL as TOL  # the fast.ai layer's sampling tolerance
from tests.helpers import THREADS, torch_threads

LN2, LN8 = math.log(2.0), math.log(8.0)  # chance-level cross-entropy for 2 and 8 balanced classes
BAND = 100.0  # the gradient plot's vanishing/exploding bands: 1/100 and 100× the last layer's


@dataclass
class Run:
    sim: Simulator
    before: Snapshot                  # probe before training
    steps: list[Snapshot]             # one per training step (the last one is what the window shows)
    after: Snapshot                   # probe after training (== before for a probe-only scenario)
    full: dict[int, float] = field(default_factory=dict)     # whole-data-set loss after step k
    full_acc: dict[int, float] = field(default_factory=dict)

    @property
    def last(self) -> Snapshot:
        return self.steps[-1] if self.steps else self.before


def _full(sim: Simulator) -> tuple[float, float]:
    with torch.no_grad():
        logits = sim.model(sim.x)
        return float(nn.functional.cross_entropy(logits, sim.y)), float((logits.argmax(1) == sim.y).float().mean())


# scenarios whose text names the whole data set's loss after some step
FULL_AT = {"constant_init_symmetry": (20, 100), "plain_deep_stalls": (120,), "residual_trains": (120,),
           "adam_early_spike": (40,), "adam_warmup": (40,), "radam_no_spike": (40,)}


@lru_cache(maxsize=None)
def run(name: str, threads: int | None = None, **changes) -> Run:
    """Scenario `name` trained with `changes` to its config, on `threads` torch threads (None: the
    module's count, see conftest); the thread count is part of the cache key."""
    if threads is None:
        return _train(name, changes)
    with torch_threads(threads):
        return _train(name, changes)


def _train(name: str, changes: dict) -> Run:
    sc = load_scenario(name)
    sim = Simulator(sc.config.replace(device="cpu", **changes))
    before = sim.probe()
    steps, full, acc = [], {}, {}
    for k in range(1, sc.steps + 1):
        steps.append(sim.step())
        if k in FULL_AT.get(name, ()):
            full[k], acc[k] = _full(sim)
    return Run(sim, before, steps, sim.probe() if sc.steps else before, full, acc)


def ratio(snap: Snapshot) -> float:
    """‖∂L/∂z‖ of layer 1 over the last hidden layer's."""
    g = snap.layers.grad_norm
    return float(g[0] / g[-1])


def slope(values: np.ndarray) -> float:
    """Least-squares slope of log10(values) against the layer index: decades gained per layer."""
    return float(np.polyfit(np.arange(len(values)), np.log10(values), 1)[0])


def found(snap: Snapshot, name: str) -> dict[str, list[tuple[int | None, int | None]]]:
    """kind → the layer ranges the diagnoses name."""
    out: dict[str, list] = {}
    for d in diagnose(snap, load_scenario(name).config):
        out.setdefault(d.kind, []).append((d.first, d.last))
    return out


def losses(r: Run) -> np.ndarray:
    return np.array([s.loss for s in r.steps])



OVER_STEPS_PLOTS = ("loss", "updates", "grad_history", "noise")  # drawn over training steps


def test_every_scenario_has_its_claims_checked_here():
    # the cnn, transformer and autoencoder scenarios' claims are checked beside their architectures' tests
    tested = {n[len("test_"):] for n in globals() if n.startswith("test_")} | set(
        CNN_SCENARIOS + TRANSFORMER_SCENARIOS + AUTOENCODER_SCENARIOS)
    assert sorted(set(SCENARIOS) - tested) == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_quoted_diagnoses_are_the_ones_shown(name):
    """A 'quoted' phrase in a diagnoses look-for appears in the Diagnoses of the scenario's last snapshot."""
    sc = load_scenario(name)
    quoted = [q for item in sc.look_for if item.plot == "diagnoses" for q in re.findall(r"'([^']+)'", item.what)]
    if quoted:
        shown = format_diagnoses(diagnose(run(name).last, sc.config))
        assert [q for q in quoted if q not in shown] == [], shown


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_probe_only_scenario_points_at_no_over_steps_plot(name):
    sc = load_scenario(name)
    if sc.steps == 0:
        assert [item.plot for item in sc.look_for if item.plot in OVER_STEPS_PLOTS] == []


# --- 1. depth and the activation ------------------------------------------------------------------
def test_deep_sigmoid_vanishing():
    r = run("deep_sigmoid_vanishing")
    chi = theory.predict(r.sim.config).chi_mean
    assert chi == pytest.approx(0.056, abs=0.002)
    for snap in (r.before, r.last):
        # "4^−29 ≈ 3·10⁻¹⁸; measured ≈ 5·10⁻¹⁹": the texts' "18 decades"
        assert 1e-19 < ratio(snap) < 3e-18
        # a straight line of ≈ 0.6 decades (4×) per layer, the rate √χ predicts (to 5 %)
        assert slope(snap.layers.grad_norm) == pytest.approx(-0.5 * math.log10(chi), rel=0.05)
        assert found(snap, "deep_sigmoid_vanishing")["vanishing"] == [(1, 20)]
    u = r.last.layers.update_to_weight
    assert np.all(u[:17] == 0) and u[17] > 0 and u[-1] > 3e-4  # layers 1–17 exactly 0; the last near 1e-3


def test_deep_relu():
    r = run("deep_relu")
    assert theory.predict(r.sim.config).chi_mean == pytest.approx(1.0, abs=1e-9)  # χ = 2 · ½
    for snap in (r.before, r.last):
        # "about 0.4–0.7×" (0.73 at the probe, 0.42 after; seeds 0-2: 0.13-0.73, "a factor of a few")
        assert 0.3 < ratio(snap) < 0.8
        std = snap.layers.act_std
        assert 0.25 < std.min() and std.max() < 1.2  # "between about 0.3 and 1 in all 30 layers"
        assert abs(slope(std)) < 0.03  # no steady decay: 5b's is −0.15 decades per layer
        kinds = found(snap, "deep_relu")
        assert "vanishing" not in kinds and "weak_gradient" not in kinds


def test_dying_relu():
    r = run("dying_relu")
    assert r.before.layers.dead_frac.max() <= 0.25 + 1e-9  # "0–25 % at step 0"
    dead = r.last.layers.dead_frac
    # "60–90 % in layers 2–8" (measured 0.59-0.89 at seed 0; 0.67-0.89 at seeds 1-2)
    assert dead[1:].min() > 0.55 and dead[1:].max() < 0.92 and dead[0] < 0.1
    assert 0.85 < r.last.layers.saturated_frac[1:].min()  # "85–97 % of the values" at exactly 0
    assert 40 < r.steps[1].loss < 80  # "up to ≈ 57" on step 2
    assert found(r.last, "dying_relu")["dead"] == [(2, 8)]
    leaky = run("dying_relu", activation="leaky_relu")
    assert leaky.last.layers.dead_frac.max() == 0  # slope 0.01 below 0: φ′ is never 0


# --- 2. zero and constant init -----------------------------------------------------------------------
def test_zero_init():
    r = run("zero_init")
    for snap in (r.before, *r.steps):
        assert not snap.layers.grad_norm.any()
        assert snap.loss == pytest.approx(LN2, abs=0.02)  # batch imbalance of 64 examples: O(1/64)
    assert found(r.last, "zero_init")["zero_gradient"] == [(1, 6)]


def test_constant_init_symmetry():
    r = run("constant_init_symmetry")
    for snap in (r.before, *r.steps):
        # copies of one unit: only float32 round-off separates them (threshold argued in diagnoses.py)
        assert snap.layers.unit_spread.max() < 1e-6
    for snap in (r.before, r.last):
        assert found(snap, "constant_init_symmetry")["identical_units"] == [(1, 6)]
    assert not r.before.layers.grad_norm.any()  # exactly 0 at the probe: the readout's rows are equal
    g = r.last.layers.grad_norm
    assert 0.015 < g.min() and g.max() < 0.3  # "about 0.02–0.2"
    # the plateau: 0.69 → ≈ 0.62 within 20 steps, then no further (seeds 0-2: 0.605-0.625 from step 50 on)
    assert r.before.loss == pytest.approx(LN2, abs=1e-6)
    assert 0.59 < r.full[20] < 0.65 and abs(r.full[100] - r.full[20]) < 0.02


# --- 3. too-small and too-large normal init ----------------------------------------------------------
def test_small_init_collapse():
    r = run("small_init_collapse")
    ls = r.before.layers
    factor = 0.01 * math.sqrt(128)
    assert math.sqrt(theory.predict(r.sim.config).chi_mean) == pytest.approx(factor, rel=0.02)
    assert slope(ls.act_std[1:]) == pytest.approx(math.log10(factor), abs=0.05)  # "≈ 0.11× per layer"
    assert slope(ls.grad_norm) == pytest.approx(-math.log10(factor), abs=0.05)  # "0.95 decades"
    assert 5e-3 < ls.act_std[0] < 2e-2 and 1e-21 < ls.act_std[-1] < 1e-19  # "1e-2 ... 1e-20"
    assert 1e-19 < ls.act_std[-1] / ls.act_std[0] < 1e-17  # "0.11^19 ≈ 10⁻¹⁸"
    assert found(r.before, "small_init_collapse")["vanishing"] == [(1, 13)]


def input_drift(sim: Simulator) -> np.ndarray:
    """Per layer, ‖a(x + δ) − a(x)‖ / ‖a(x)‖ over 256 inputs for a random δ of 0.1 % of their size
    (two unrelated activations of equal norm would give ≈ √2)."""
    x = sim.x[:256]
    dx = 1e-3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    near, far = Trace(), Trace()
    sim.model(x, near)
    sim.model(x + dx, far)
    return np.array([float((a - b).detach().norm() / a.detach().norm()) for a, b in zip(near.a, far.a)])


def test_large_init_tanh_saturation():
    r = run("large_init_tanh_saturation")
    ls, cfg = r.before.layers, r.sim.config
    # the hidden layers' χ at the fixed point q* = 64·E[tanh²] ≈ 58: 64 · E[tanh′²] ≈ 64 · 0.070 ≈ 4.5
    q_star = theory.fixed_point("tanh", 0.0, np.array(64.0), np.array(0.0))
    assert float(q_star) == pytest.approx(58, abs=2)
    assert float(theory.table("tanh")("d2", q_star)) == pytest.approx(0.070, abs=0.003)
    assert float(theory.chi_at_fixed_point("tanh", 0.0, np.array(64.0), np.array(0.0))) == pytest.approx(4.5, abs=0.1)
    prof = theory.predict(cfg)
    assert prof.chi_mean == pytest.approx(5.0, abs=0.1) and "grow 10× every 2.9 layers" in prof.sentence
    # measured: 2.2× per layer toward the input, as √χ predicts (seeds 0-2: 2.20-2.25 against 2.24)
    growth = ratio(r.before) ** (1 / 19)
    assert growth == pytest.approx(math.sqrt(prof.chi_mean), rel=0.05)
    assert 3e5 < ls.grad_norm[0] < 1.5e6 and 0.1 < ls.grad_norm[-1] < 0.4  # "≈ 7·10⁵ ... ≈ 0.2"
    assert 2e6 < ratio(r.before) < 6e6 and 3e6 < prof.grad_ratio[0] < 7e6  # "≈ 4·10⁶", "≈ 5·10⁶"
    # "69–79 % saturated in layers 2–20, layer 1 only 11 %" (seeds 0-2: 0.59-0.79 in layers 2-20)
    assert 0.65 < ls.saturated_frac[1:].min() and ls.saturated_frac[1:].max() < 0.82
    assert 0.05 < ls.saturated_frac[0] < 0.2
    assert 0.9 < ls.act_std[1:].min()  # values piled at ±1: std near 1
    # forward, chaos: inputs 0.1 % apart drift apart layer by layer, where Xavier's (χ ≈ 1) keep their distance
    drift = input_drift(r.sim)
    assert 0.15 < drift[9] < 0.7 and drift[14:].min() > 0.8  # "≈ 35 % at layer 10, unrelated by layer 15"
    assert np.all(input_drift(run("xavier_tanh").sim) < 2e-3)
    kinds = found(r.before, "large_init_tanh_saturation")
    assert kinds["exploding"] == [(1, 1)] and kinds["strong_gradient"] == [(2, 13)]
    assert kinds["saturated"] == [(2, 20)]


def test_large_init_relu_explodes():
    r = run("large_init_relu_explodes")
    ls = r.before.layers
    assert theory.predict(r.sim.config).chi_mean == pytest.approx(32.0, rel=1e-6)
    assert slope(ls.act_std) == pytest.approx(math.log10(math.sqrt(32)), abs=0.05)  # "≈ 0.75 decades"
    assert 0.6 < ls.act_std[0] < 1.0 and 1e13 < ls.act_std[-1] < 1e15  # "≈ 0.8 ... ≈ 10¹⁴"
    assert 1e14 < r.before.loss < 1e16 and 5e14 < r.before.grad_norm_total < 5e15  # "≈ 10¹⁵ ... 2·10¹⁵"
    first, stop = r.steps  # its two steps: the update, then the overflow (same at seeds 0-2)
    assert not first.nonfinite and 1e14 < first.loss < 1e16
    assert stop.nonfinite and stop.step == 2 and stop.nonfinite_stage == "forward" and stop.nonfinite_layer == 4
    assert 1e11 < stop.layers.act_std[0] / ls.act_std[0] < 1e13  # "about 10¹² times larger"
    assert "nonfinite" in found(stop, "large_init_relu_explodes")


# --- 4. the fast.ai lesson ------------------------------------------------------------------------------
def relu_moments(preact_std: float, shift: float = 0.0) -> tuple[float, float]:
    """Mean and std of relu(z) − shift for z ~ N(0, s²): s/√(2π) − shift and s·√(½ − 1/(2π))."""
    return preact_std / math.sqrt(2 * math.pi) - shift, preact_std * math.sqrt(0.5 - 1 / (2 * math.pi))


def test_fastai_std_28():
    ls = run("fastai_std_28").before.layers
    assert ls.preact_std[0] == pytest.approx(28.0, rel=TOL)
    assert abs(ls.act_mean[0]) < 0.05 and 0.95 < ls.act_std[0] <= 1.0  # "mean ≈ 0, std ≈ 1"
    counts = ls.act_hist_counts[0]
    assert ls.saturated_frac[0] > 0.9 and (counts[0] + counts[-1]) / counts.sum() > 0.9  # "over 90 %"


def test_fastai_lecun():
    ls = run("fastai_lecun").before.layers
    assert ls.preact_std[0] == pytest.approx(1.0, rel=TOL)
    # "about 3 %": P(|z| > atanh(0.975) = 2.18) = 0.029 for z ~ N(0, 1)
    assert ls.saturated_frac[0] == pytest.approx(math.erfc(math.atanh(math.sqrt(0.95)) / math.sqrt(2)), abs=0.01)
    e_t2 = float(theory.gaussian_moments("tanh", 0.0, np.array(ls.preact_std[0] ** 2))["m2"])
    assert ls.act_std[0] == pytest.approx(math.sqrt(e_t2), rel=TOL)  # "≈ 0.63"
    counts = ls.act_hist_counts[0]
    # a nearly flat spread, not a bell: tanh(N(0,1))'s density is φ(atanh t)/(1 − t²), 0.40 at 0 and
    # 0.69 at |t| = 0.96; no bin holds more than 3× another, and the end bins hold under 10 %
    assert counts.min() > counts.max() / 3 and (counts[0] + counts[-1]) / counts.sum() < 0.1
    assert counts[:25].argmax() < 5 and counts[25:].argmax() >= 20  # fuller toward ±0.9 than at 0


def test_fastai_relu_halves():
    ls = run("fastai_relu_halves").before.layers
    mean, std = relu_moments(ls.preact_std[0])
    assert ls.act_mean[0] == pytest.approx(mean, rel=2 * TOL) and ls.act_std[0] == pytest.approx(std, rel=2 * TOL)
    assert ls.act_mean[0] ** 2 + ls.act_std[0] ** 2 == pytest.approx(0.5 * ls.preact_std[0] ** 2, rel=2 * TOL)


def test_fastai_kaiming():
    ls = run("fastai_kaiming").before.layers
    assert ls.act_mean[0] ** 2 + ls.act_std[0] ** 2 == pytest.approx(1.0, rel=2 * TOL)  # E[relu(z)²] = 1
    mean, std = relu_moments(math.sqrt(2))  # "√2 · 0.40 ≈ 0.56 and √2 · 0.58 ≈ 0.83"
    assert ls.act_mean[0] == pytest.approx(mean, rel=2 * TOL) and ls.act_std[0] == pytest.approx(std, rel=2 * TOL)


def test_fastai_shifted_relu():
    ls = run("fastai_shifted_relu").before.layers
    mean, std = relu_moments(math.sqrt(2), shift=0.5)  # 0.064 and 0.826
    assert ls.act_mean[0] == pytest.approx(mean, abs=0.03) and ls.act_std[0] == pytest.approx(std, rel=2 * TOL)


# --- 5. Xavier with tanh, and with ReLU ---------------------------------------------------------------
def test_xavier_tanh():
    r = run("xavier_tanh")
    prof = theory.predict(r.sim.config)
    assert 0.95 < prof.chi_mean < 0.99 and prof.grad_ratio[0] == pytest.approx(0.5, abs=0.05)  # "≈ 0.97", "≈ 0.5"
    ls = r.before.layers
    assert 0.15 < ratio(r.before) < 0.6  # "≈ 0.2" measured (seeds 0-2: 0.22-0.51)
    g = ls.grad_norm / ls.grad_norm[-1]
    assert g.min() > 1 / BAND and g.max() < BAND  # out of both bands
    assert ls.act_std[0] == pytest.approx(0.22, abs=0.02) and 0.04 < ls.act_std[-1] < 0.08


def test_xavier_relu_fading():
    r = run("xavier_relu_fading")
    assert theory.predict(r.sim.config).chi_mean == pytest.approx(0.5, rel=1e-6)
    ls = r.before.layers
    step = math.log10(math.sqrt(2))  # 0.15 decades per layer
    assert slope(ls.act_std) == pytest.approx(-step, abs=0.02)
    assert slope(ls.grad_norm) == pytest.approx(step, abs=0.02)
    # "(1/√2)^49 ≈ 4·10⁻⁸"; measured 2·10⁻⁸ (seeds 0-2: 2.0-4.3e-8)
    assert 1e-8 < ratio(r.before) < 8e-8


# --- 6. normalization ------------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", THREADS)
def test_batchnorm_rescue(threads):
    """Checked at 1, 2 and 3 threads: 693× at the probe at each; after the 10 steps 70×, 23× and 31×."""
    r = run("batchnorm_rescue", threads)
    assert 300 < ratio(r.before) < 1500  # "≈ 700× at the probe"
    assert 15 < ratio(r.last) < 75  # "still 20–70× after the steps", each end to its one significant digit
    kinds = found(r.before, "batchnorm_rescue")
    assert "vanishing" not in kinds and kinds["strong_gradient"] == [(1, 4)]
    assert found(r.last, "batchnorm_rescue") == {}
    assert ratio(run("deep_sigmoid_vanishing").before) < 3e-18  # 1a: "~18 decades down"


def log_spread(r: Run) -> float:
    """Std over the steps of log10 of the global gradient norm: how much it jumps from step to step."""
    return float(np.std(np.log10([s.grad_norm_total for s in r.steps])))


@pytest.mark.parametrize("threads", THREADS)
def test_batchnorm_batch_size_2(threads):
    """Checked at 1, 2 and 3 threads (3 gives 2's run): layers 2–10's std after the steps 0.738–0.761 on one
    thread, 0.758–0.995 on two; the total gradient norm 0.77 to 3.3e4 on one, 0.69 to 8.0e7 on two."""
    r = run("batchnorm_batch_size_2", threads)
    std = r.before.layers.act_std[1:]  # pinned at ±tanh(1) in layers 2–10
    assert std.max() <= math.tanh(1.0) + 1e-6 and std.min() > 0.73
    std = r.last.layers.act_std[1:]  # "between 0.74 and 1": a tanh's output std cannot exceed 1
    assert std.min() > 0.735 and std.max() <= 1.0
    assert found(r.last, "batchnorm_batch_size_2")["vanishing"] == [(1, 6)]  # "layers 1–6 below 10⁻⁶"
    totals = [s.grad_norm_total for s in r.steps]
    assert 0.5 < min(totals) < 1.5 and max(totals) > 1e4  # "from ≈ 1 to more than 10⁴"
    batch = losses(r)
    assert batch[-10:].mean() > batch[:10].mean() - 0.05  # "no progress"


def test_layernorm_batch_size_2():
    r = run("layernorm_batch_size_2")
    for snap in (r.before, r.last):
        std = snap.layers.act_std
        assert 0.55 < std.min() and std.max() < 0.72  # "std ≈ 0.6–0.7"
        g = snap.layers.grad_norm
        assert g.min() >= g[-1] / 50  # "at least 1/50 of the last layer's"
    # "less than half as much": measured 0.34 against 0.99 decades (seeds 0-2: BatchNorm 1.9-2.9× LayerNorm)
    assert log_spread(run("batchnorm_batch_size_2")) > 2 * log_spread(r)


# --- 7. the cliff and clipping ---------------------------------------------------------------------------
def test_exploding_cliff():
    r = run("exploding_cliff")
    assert theory.predict(r.sim.config).chi_mean == pytest.approx(2.25, rel=1e-6)
    assert 20 < ratio(r.before) < 50 and 200 < r.before.grad_norm_total < 500  # "≈ 30×", "≈ 300"
    loss = losses(r)
    assert 10 < loss[0] < 20 and 300 < loss[1] < 1e4 and loss[4] > 1e20  # "≈ 13, ≈ 10³, ≈ 10²²"
    assert r.steps[4].layers.grad_norm[0] / r.steps[4].layers.grad_norm[-1] > 1e18  # "≈ 10¹⁹ at step 5"
    assert r.steps[-1].nonfinite and r.steps[-1].step == 6  # "at step 6 ... the run stops"
    u = [np.median(s.layers.update_to_weight) for s in r.steps[:5]]
    assert 0.02 < u[0] < 0.08 and u[1] > 0.3 and u[4] > 1e14  # "≈ 0.04, then ≈ 1 and beyond, 10¹⁵"


def update_logs(r: Run) -> np.ndarray:
    return np.log10([s.layers.update_to_weight for s in r.steps])  # [steps, layers]


def test_clip_by_norm():
    r = run("clip_by_norm")
    assert all(s.clipped and s.grad_norm_total > 100 for s in r.steps)  # clipped each step, "in the hundreds"
    assert 1 / 500 < r.steps[0].grad_norm_clipped / r.steps[0].grad_norm_total < 1 / 200  # c/‖g‖ ≈ 1/300
    loss = losses(r)
    assert 10 < loss[0] < 16 and loss[-1] < 6 and loss.max() < 3 * loss[0]  # "≈ 13 ... ≈ 4", bounded
    u = update_logs(r)
    spread = u.max(1) - u.min(1)
    assert 0.7 < np.median(spread) < 1.6  # "spread over about a decade"
    assert np.all(u.argmin(1) == 0)  # "layer 1 lowest"
    assert np.std(np.diff(u, axis=0)) > 0.05  # they rise and fall from step to step


def test_clip_by_value():
    name = "clip_by_value"
    sc = load_scenario(name)
    sim = Simulator(sc.config.replace(device="cpu"))
    fractions, predicted = [], []
    clip, c, lr = sim._clip, sc.config.clip_threshold, sc.config.lr

    def recording(params, norm_before):  # the share of each hidden weight's components beyond ±c
        weights = sim.model.hidden_weights()
        grads = [w.grad for w in weights]
        share = np.array([float((g.abs() > c).float().mean()) for g in grads])
        fractions.append(share)
        # every clipped component moves by exactly lr·c: ‖ΔW‖ ≈ lr·c·√(n clipped) when they dominate
        counts = np.array([g.numel() for g in grads])
        norms = np.array([float(w.detach().norm()) for w in weights])
        predicted.append(lr * c * np.sqrt(share * counts) / norms)
        return clip(params, norm_before)

    sim._clip = recording
    steps = [sim.step() for _ in range(sc.steps)]
    share = np.mean(fractions, axis=0)
    assert 0.4 < share.mean() < 0.65 and share[0] > 0.95 and np.all(share[-3:] < 0.45)  # "half, 99 %, a third"
    u = np.array([s.layers.update_to_weight for s in steps])
    np.testing.assert_allclose(u, np.array(predicted), rtol=0.05)
    assert 1.4e-4 < u[:, 1:].min() and u[:, 1:].max() < 2.3e-4  # "layers 2–12 at ≈ 1.5–2.2e-4"
    assert 6e-5 < u[:, 0].min() and u[:, 0].max() < 7e-5  # "layer 1 at ≈ 7e-5"
    logs, norm_logs = np.log10(u), update_logs(run("clip_by_norm"))
    # a tight, steady bundle next to 7b's: measured 0.16 vs 0.65 decades across layers 2–12, and a
    # step-to-step jitter of 0.011 vs 0.15 decades (seeds 0-2: 0.16-0.20 vs 0.26-0.65, 0.008-0.011 vs 0.05-0.15)
    assert np.median(np.ptp(logs[:, 1:], axis=1)) < 0.25 < np.median(np.ptp(norm_logs[:, 1:], axis=1))
    assert np.std(np.diff(logs, axis=0)) < 0.03 and np.std(np.diff(norm_logs, axis=0)) > 3 * 0.03
    loss = np.array([s.loss for s in steps])
    assert 10 < loss[0] < 16 and loss[-1] < 6 and loss.max() < 3 * loss[0]


# --- 8. residual connections -------------------------------------------------------------------------------
def test_plain_deep_stalls():
    r = run("plain_deep_stalls")
    assert theory.predict(r.sim.config).chi_mean == pytest.approx(0.94, abs=0.01)
    # "≈ 0.65 ... ≈ 64 %" on the whole data (seeds 0-2: loss 0.642-0.655, accuracy 0.62-0.65)
    assert 0.62 < r.full[120] < 0.67 and 0.6 < r.full_acc[120] < 0.68
    assert 0.6 < losses(r)[-20:].mean() < 0.7 and 0.58 < np.mean([s.accuracy for s in r.steps[-20:]]) < 0.7
    before, after = r.before.layers.act_std, r.last.layers.act_std
    assert before[0] == pytest.approx(0.29, abs=0.02) and 0.05 < before[-1] < 0.09  # "≈ 0.29 ... ≈ 0.07"
    assert 0.2 < ratio(r.before) < 0.4  # "≈ 0.3×"
    # after the steps: "still narrower than layer 1 (std ≈ 0.13–0.22 against 0.30)"
    assert 0.11 < after[5:].min() and after[5:].max() < 0.24 and after[0] == pytest.approx(0.30, abs=0.02)


def test_residual_trains():
    r, plain = run("residual_trains"), run("plain_deep_stalls")
    prof = theory.predict(r.sim.config)
    assert prof.chi_mean == pytest.approx(1.4, abs=0.05) and 100 < prof.grad_ratio[0] < 170  # "≈ 1.4", "≈ 130×"
    assert r.full[120] < 0.05  # "≈ 0.01" (seeds 0-2: 0.006-0.014)
    assert ratio(r.before) > 100 and 30 < ratio(r.last) < 120  # "over 100×", "≈ 60×"
    early = np.median([s.grad_norm_total for s in r.steps[:20]])
    early_plain = np.median([s.grad_norm_total for s in plain.steps[:20]])
    assert 15 < early / early_plain < 60  # "≈ 30× larger" (measured 38)
    jitter = lambda run_: np.std(np.log10([s.layers.grad_norm[0] for s in run_.steps[:20]]))  # noqa: E731
    assert jitter(r) > 1.5 * jitter(plain)  # "jumping more" (0.36 vs 0.16; seed 1: 0.30 vs 0.16)


# --- 9. recurrent networks ---------------------------------------------------------------------------------
def reach(snap: Snapshot) -> int:
    g = snap.layers.grad_norm
    return int(np.sum(g >= g[-1] / BAND))


def test_rnn_vanishing():
    r = run("rnn_vanishing")
    assert slope(r.before.layers.grad_norm) == pytest.approx(math.log10(2), abs=0.02)  # "0.3 decades (2×)"
    assert found(r.before, "rnn_vanishing")["vanishing"] == [(1, 30)]


def test_rnn_exploding():
    r = run("rnn_exploding")
    assert 1e6 < ratio(r.before) < 3.0 ** 49  # "gains millions", below the linear bound
    assert 0.3 < r.before.layers.saturated_frac.mean() < 0.5  # "many hidden units ... saturated" (≈ 40 %)


def test_rnn_clipping():
    r = run("rnn_clipping")
    raw = run("rnn_clipping", clip_mode="none")
    cfg = r.sim.config
    for s in r.steps:
        assert s.clipped and s.grad_norm_total > 1e6  # "stays in the millions"
        bound = cfg.lr * cfg.clip_threshold / s.layers.weight_norm
        np.testing.assert_allclose(s.layers.update_to_weight, bound, rtol=0.03)  # "≈ 3·10⁻³ = 0.1 / 35"
    assert r.steps[0].layers.weight_norm[0] == pytest.approx(35, abs=1)
    assert raw.steps[0].layers.update_to_weight.min() > 1e3  # "in the thousands"
    # "jumps from about 40 % to 100 % after one step": the pass of step 2 sees the weights step 1 made
    assert raw.steps[0].layers.saturated_frac.mean() < 0.45 and raw.steps[1].layers.saturated_frac.mean() > 0.95
    assert abs(r.last.layers.saturated_frac.mean() - 0.4) < 0.05  # "stays near 40 %"
    # "the loss starts near 4 and stays there, above ln 8, with clipping and without"
    for run_ in (r, raw):
        assert 3.0 < run_.before.loss < 5.0 and np.all((losses(run_) > 3.0) & (losses(run_) < 5.5))
        assert losses(run_)[-10:].mean() > LN8 + 1


def test_lstm_long_memory():
    r = run("lstm_long_memory")
    rnn = run("lstm_long_memory", architecture="rnn")
    assert 45 <= reach(r.before) <= 55 and 20 <= reach(rnn.before) <= 30  # "about 50", "about 25"
    assert 1e-9 < ratio(rnn.before) < 1e-7 and ratio(r.before) > 1e3 * ratio(rnn.before)  # "near 10⁻⁸", "thousands"
    assert 10 <= reach(run("lstm_long_memory", forget_bias=0.0).before) <= 14  # "about 12 steps"
    assert reach(run("lstm_long_memory", forget_bias=2.0).before) == 100  # "the whole sequence"
    std = r.before.layers.act_std[9:]
    assert 0.12 < std.min() and std.max() < 0.15  # "std ≈ 0.13–0.14 from step 10 to step 100"
    assert r.before.layers.saturated_frac.max() < 0.05  # "nor saturating"


# --- 10, 11. gradient noise and Adam's first steps ------------------------------------------------------------
def test_noisy_small_batches():
    r = run("noisy_small_batches")
    noise = r.steps[0].layers.grad_noise
    assert 0.8 < noise.min() and noise.max() < 1.2  # "0.84–1.16 at step 1"
    assert 0.5 < losses(r)[-10:].mean() < 0.85  # "stalls around 0.5–0.8"


def test_accumulated_large_batch():
    r, small = run("accumulated_large_batch"), run("noisy_small_batches")
    assert np.median(r.steps[0].layers.grad_noise) == pytest.approx(0.27, abs=0.05)  # "≈ 0.27 against ≈ 0.93"
    assert np.median(small.steps[0].layers.grad_noise) == pytest.approx(0.93, abs=0.05)
    loss = losses(r)
    assert loss[-5:].mean() < 0.1  # "≈ 0.05 after 60 steps"
    smooth = np.convolve(loss, np.ones(10) / 10, mode="valid")
    assert np.all(np.diff(smooth) < 0.01)  # "almost monotone": the 10-step average never rises


def test_adam_early_spike():
    r = run("adam_early_spike")
    assert np.median(r.steps[0].layers.update_to_weight) == pytest.approx(0.08, rel=0.05)
    loss = losses(r)
    assert loss[2] == loss[:5].max() and 2.5 < loss[2] / loss[0] < 4  # "about 3× at step 3", "≈ 2.5"
    assert 0.6 < loss[-10:].mean() < 0.75  # "falls back to ≈ 0.7"


def test_adam_warmup():
    r, adam = run("adam_warmup"), run("adam_early_spike")
    u = [np.median(s.layers.update_to_weight) for s in r.steps]
    assert u[0] == pytest.approx(0.08 / 20, rel=0.05)  # "≈ 4e-3 at step 1"
    assert 0.007 < np.median(u[15:20]) < 0.015  # "rising to ≈ 1e-2" by step 20 (measured 0.010-0.014)
    assert [s.lr for s in r.steps[:2]] == pytest.approx([0.01 / 20, 0.02 / 20])
    loss = losses(r)
    assert loss.max() < 1.3 * loss[0]  # "never more than about 25 % above" (measured 1.23; seeds 0-2 1.18-1.26)
    # "no lower than plain Adam's": ≈ 0.69 against ≈ 0.66 (seeds 0-2: 0.67-0.71 against 0.66-0.69)
    assert r.full[40] == pytest.approx(0.69, abs=0.02) and adam.full[40] == pytest.approx(0.66, abs=0.02)
    assert r.full[40] > adam.full[40] - 0.01


def test_radam_no_spike():
    r = run("radam_no_spike")
    assert max(np.median(s.layers.update_to_weight) for s in r.steps[:5]) < 1e-3  # far below 8e-2
    loss = losses(r)
    assert loss.max() < 1.05 * loss[0]  # "never above its start by more than a few %" (seeds 0-2: ≤ 1.12)
    # "ends lowest: ≈ 0.61 against ≈ 0.66 and ≈ 0.69" (seeds 0-2: 0.56-0.62 against 0.66-0.71)
    assert r.full[40] == pytest.approx(0.61, abs=0.02)
    assert r.full[40] < min(run("adam_early_spike").full[40], run("adam_warmup").full[40]) - 0.03


# --- what the screen shows after the steps (the last snapshot is what the window draws) ---------------------
from tests.helpers import quoted  # noqa: E402  (a figure quoted to n significant digits)


def spike_share(snap: Snapshot, layer: int, at: float, within: float) -> float:
    """The share of layer `layer`'s (0-based) histogram counts in bins centred within `within` of ±`at`."""
    counts, edges = snap.layers.act_hist_counts[layer], snap.layers.act_hist_edges[layer]
    centres = 0.5 * (edges[:-1] + edges[1:])
    return float(counts[np.abs(np.abs(centres) - at) < within].sum() / counts.sum())


@pytest.mark.parametrize("threads", THREADS)
def test_batchnorm_batch_size_2_spikes_spread_after_training(threads):
    """Checked at 1, 2 and 3 threads (3 gives 2's run): after the steps 7 of layers 2–10 keep under half their
    values at ±0.76 on one thread, 8 of 9 on two."""
    r = run("batchnorm_batch_size_2", threads)
    at = math.tanh(1.0)  # both standardized values ±1 through tanh, at BatchNorm's initial scale 1 and shift 0
    for snap in (r.before, r.last):
        # a layer's histogram spans ±(its largest |value|) ≤ ±1 in HIST_BINS = 50 bins: at most 0.04 wide (+ float
        # rounding), so a spike at ±0.76 lies within half a bin (0.02) of a bin centre, inside the 0.03 window
        width = float(np.diff(snap.layers.act_hist_edges[1]).max())
        assert width <= 2 / HIST_BINS + 1e-9
    probe = [spike_share(r.before, k, at, 0.03) for k in range(1, 10)]
    assert min(probe) >= 0.965  # "97–100 % of the values" in layers 2–10
    after = [spike_share(r.last, k, at, 0.03) for k in range(1, 10)]
    assert sum(s < 0.5 for s in after) >= 5  # "in most layers the spikes have spread" (measured 7 and 8 of 9)
    assert max(np.abs(r.last.layers.act_hist_edges[1:]).max(1)) > 0.99  # "some reaching ±1"
    # "two broad bands, one on each side of 0": the next BatchNorm removes the batch mean of ∂L/∂a, so each
    # unit's shift β stays ≈ 0 and its two values stay ±tanh(γ): the layer's mean is ≈ 0 against a std of 0.75
    assert np.abs(r.last.layers.act_mean[1:]).max() < 0.01
    g = r.last.layers.grad_norm
    assert np.all(g[:6] < 1e-6 * g[9]) and g[6] > 1e-6 * g[9]  # "layers 1–6 are below 10⁻⁶ of layer 10"


def test_exploding_cliff_gradient_history():
    r = run("exploding_cliff")
    g = np.array([s.layers.grad_norm for s in r.steps])   # [step, layer]
    assert g[:4].max() < 3.5e3  # "steps 1–4 (norms up to ≈ 3·10³)"
    # the colour scale spans GRAD_MAP_DECADES = 12 below the largest finite value: steps 1–4 are under its floor
    assert np.log10(g[:4].max()) < np.log10(np.nanmax(g[:5])) - 12
    assert np.all((3e21 < g[4, :3]) & (g[4, :3] < 3e22))  # "≈ 10²² in layers 1–3"
    assert quoted(g[4, -1], 150, 2) and 10 ** 19.5 < g[4, 0] / g[4, -1] < 10 ** 20.5  # "≈ 150", "≈ 10²⁰"
    assert np.all(np.isnan(g[5]))  # "step 6 is magenta (NaN/Inf)"



def test_fastai_preact_std_as_quoted():
    """The fast.ai look-fors quote the pre-activation std: √(fan_in · gain²/fan_in) = gain, √2 for He
    weights and 1 for LeCun's (to the layer's sampling tolerance)."""
    for name, gain in (("fastai_kaiming", math.sqrt(2)), ("fastai_shifted_relu", math.sqrt(2)),
                       ("fastai_relu_halves", 1.0), ("fastai_lecun", 1.0)):
        assert run(name).before.layers.preact_std[0] == pytest.approx(gain, rel=TOL), name


def test_accumulated_large_batch_noise_ratio_late():
    r = run("accumulated_large_batch")
    # "median ≈ 1.0 at step 60": the ratio of a sampled spread to a shrinking mean, quoted to one decimal
    assert quoted(float(np.median(r.last.layers.grad_noise)), 1.0, 2)
    shrink = np.median(r.steps[0].layers.weight_grad_norm) / np.median(r.last.layers.weight_grad_norm)
    assert shrink > 10  # "the mean gradient ... shrinks more than 10×" (measured 16)
