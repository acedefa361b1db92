"""Every scenario file loads, and running it headless shows the effect it teaches, in the numbers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core import ConfigError, SimConfig
from core.scenarios import (
    PLOTS, SCENARIOS, ScenarioRegistry, lesson_key, lesson_order, load_scenario, parse_scenario, read_scenario,
)

from tests.helpers import FASTAI_TOL as TOL  # the fast.ai layer's sampling tolerance
from tests.helpers import TESTED_ELSEWHERE, run_scenario as run, scenario_sim as sim_of


LN2 = math.log(2.0)  # cross-entropy of a uniform guess between two classes (the spirals)


def grad_ratio(snap) -> float:
    """‖∂L/∂z‖ of layer 1 over the last hidden layer's."""
    return float(snap.layers.grad_norm[0] / snap.layers.grad_norm[-1])


def log_slope(values: np.ndarray) -> float:
    """Least-squares slope of log10(values) against the layer index: decades gained per layer."""
    return float(np.polyfit(np.arange(len(values)), np.log10(values), 1)[0])


# --- the registry and the file format -------------------------------------------------------
def test_every_file_loads_with_text_for_the_class():
    assert len(SCENARIOS) >= 16
    for name, sc in SCENARIOS.items():
        assert sc.name == name and sc.title and sc.explanation and sc.predict and sc.look_for
        assert all(item.plot in PLOTS for item in sc.look_for)


def test_every_scenario_has_a_test_below():
    # the recurrent, noise and optimizer, cnn, transformer and autoencoder scenarios are tested in
    # their own modules (tests/helpers.py lists them)
    tested = {n for n in globals() if n.startswith("test_")}
    missing = [name for name in SCENARIOS if f"test_{name}" not in tested and name not in TESTED_ELSEWHERE]
    assert not missing, f"scenarios without their test: {missing}"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError) as err:
        load_scenario("deep_sigmoid")
    assert err.value.field == "scenario" and "did you mean 'deep_sigmoid_vanishing'" in str(err.value)


def test_every_scenario_has_a_unique_lesson_number_and_the_list_follows_it():
    names = lesson_order()
    assert names == tuple(SCENARIOS) and sorted(names) == sorted(p.stem for p in SCENARIOS.folder.glob("*.json"))
    lessons = [SCENARIOS[n].lesson for n in names]
    assert len(set(lessons)) == len(lessons), "two scenarios share a lesson number"
    keys = [lesson_key(x) for x in lessons]
    assert keys == sorted(keys)  # numerically by chapter: 9d before 10a
    assert all(SCENARIOS[n].title.startswith(SCENARIOS[n].lesson + ". ") for n in names)
    assert names[:3] == ("deep_sigmoid_vanishing", "deep_relu", "dying_relu")
    assert lesson_key("9d") < lesson_key("10a") and lesson_key("3a") < lesson_key("3b")


def test_a_damaged_file_sorts_last_and_does_not_hide_the_others(tmp_path):
    for name, lesson in (("b", "10a"), ("a", "2a"), ("c", "2b")):
        (tmp_path / f"{name}.json").write_text(json.dumps({**GOOD, "lesson": lesson, "title": f"{lesson}. t"}))
    (tmp_path / "0broken.json").write_text('{"schema": 1,')
    registry = ScenarioRegistry(tmp_path)
    assert registry.names() == ("a", "c", "b", "0broken")
    assert registry["c"].lesson == "2b"
    with pytest.raises(ConfigError, match="not valid JSON"):
        registry["0broken"]


GOOD = {"schema": 1, "lesson": "1a", "title": "1a. t", "config": {"depth": 3}, "steps": 0, "explanation": "e", "predict": "p",
        "look_for": [{"plot": "gradients", "what": "w"}]}


@pytest.mark.parametrize("change, field", [
    ({"steps": -1}, "'steps'"), ({"config": {"depth": 0}}, "'config.depth'"), ({"schema": 2}, "'schema'"),
    ({"look_for": [{"plot": "gradient", "what": "w"}]}, "'look_for[0].plot'"), ({"title": ""}, "'title'"),
    ({"colour": "red"}, "'colour'"), ({"lesson": "3"}, "'lesson'"), ({"lesson": 3}, "'lesson'"),
    ({"title": "3b. t"}, "'title'"),
])
def test_malformed_scenario_names_file_and_field(change, field):
    with pytest.raises(ConfigError) as err:
        parse_scenario("x", {**GOOD, **change}, "x.json")
    assert str(err.value).startswith("scenario: x.json: field " + field), str(err.value)


def test_broken_json_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"schema": 1,')
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON"):
        read_scenario(path)
    path.write_text(json.dumps(GOOD))
    assert read_scenario(path).config == SimConfig(depth=3)


# --- 1. depth and the activation -----------------------------------------------------------------
def test_deep_sigmoid_vanishing():
    # σ′ ≤ 1/4 with variance-preserving weights: ~4× lost per layer, 4^−29 ≈ 1e-17 over 30 layers.
    # The 1e-4 leaves over ten decades of margin; it holds after the scenario's steps too.
    _, snap = run("deep_sigmoid_vanishing")
    assert grad_ratio(snap) < 1e-4


def test_deep_relu():
    # He init keeps E[a²] and the backward gain at 1 per layer on average; the random fluctuation of
    # log‖g‖ over 30 layers of width 64 is a factor of a few, so 0.1..10 is "not vanishing" with room.
    _, snap = run("deep_relu")
    assert 0.1 < grad_ratio(snap) < 10


def test_dying_relu():
    # Large Adam steps push ReLU units into the all-negative region, where they never get a gradient:
    # the share of units dead over the batch must at least double and pass half in layers 2-8.
    sim = sim_of("dying_relu")
    before = sim.probe().layers.dead_frac[1:].mean()
    sim.step(load_scenario("dying_relu").steps)
    after = sim.probe().layers.dead_frac[1:].mean()
    assert after > 0.5 and after > 2 * before


# --- 2. zero and constant init -----------------------------------------------------------------------
def test_zero_init():
    # tanh(0) = 0: hidden layers get ∂L/∂z = Wᵀδ = 0 and the readout's weight gradient aᵀδ = 0 too.
    # Only the readout *bias* gets a gradient, so after every step all weights are still exactly 0.
    sim, snap = run("zero_init")
    assert snap.step == load_scenario("zero_init").steps
    assert snap.layers.grad_norm.tolist() == [0.0] * snap.depth
    assert snap.layers.weight_grad_norm.tolist() == [0.0] * snap.depth
    assert all(float(w.detach().abs().max()) == 0.0 for w in [*sim.model.hidden_weights(), sim.model.readout.weight])
    assert float(sim.model.readout.bias.detach().abs().max()) > 0  # the one thing that learns: the class prior
    # the prior of two balanced classes is ≈ uniform, so the loss stays at ln 2 (batch imbalance of a
    # 64-example batch moves it by O(1/64))
    assert snap.loss == pytest.approx(LN2, abs=0.02)


def test_constant_init_symmetry():
    # Equal weights ⇒ equal units ⇒ equal gradients ⇒ equal updates: after the steps every row of
    # each hidden weight matrix (one row per unit) is still the same, up to float32 rounding.
    sim, snap = run("constant_init_symmetry")
    assert snap.layers.grad_norm.min() > 0  # it is not the zero-gradient case: things do move
    for i, w in enumerate(sim.model.hidden_weights()):
        w = w.detach().numpy()
        np.testing.assert_allclose(w, np.broadcast_to(w[:1], w.shape), rtol=1e-5, atol=1e-7)
        if i > 0:  # fed by identical units, every column (input) of the matrix is the same as well
            np.testing.assert_allclose(w, np.broadcast_to(w[:, :1], w.shape), rtol=1e-5, atol=1e-7)
        assert np.abs(w - 0.05).max() > 1e-4  # ...and they did change from the initial constant


# --- 3. too-small and too-large normal init ----------------------------------------------------------
def test_small_init_collapse():
    # Factor σ_w·√fan_in = 0.01·√128 ≈ 0.113 per layer, ≈ 1e-18 over 19 layers: demand 1e-8 for both.
    _, snap = run("small_init_collapse")
    ls = snap.layers
    assert ls.act_std[-1] < 1e-8 * ls.act_std[0]
    assert grad_ratio(snap) < 1e-8
    assert log_slope(ls.act_std[1:]) == pytest.approx(math.log10(0.01 * math.sqrt(128)), abs=0.1)


def test_large_init_tanh_saturation():
    # Pre-activations of std ≈ √64·0.96 ≈ 7.7; |tanh′| < 5 % beyond |x| = atanh(0.975) ≈ 2.18, i.e.
    # P(|N(0, 7.7²)| > 2.18) ≈ 0.78 of the values: demand > 0.6 in every layer after the first.
    _, snap = run("large_init_tanh_saturation")
    assert snap.layers.saturated_frac[1:].min() > 0.6


def test_large_init_relu_explodes():
    # Each ReLU layer multiplies the std by √(64/2) ≈ 5.66 (0.75 decades); the steps then overflow.
    sim = sim_of("large_init_relu_explodes")
    ls = sim.probe().layers
    assert log_slope(ls.act_std) == pytest.approx(math.log10(math.sqrt(32)), abs=0.1)
    assert ls.act_std[-1] > 1e10 * ls.act_std[0]
    snap = sim.step(load_scenario("large_init_relu_explodes").steps)
    assert snap.nonfinite and snap.step <= 3


# --- 4. the fast.ai lesson (figures derived in test_simulator.py) -------------------------------
def test_fastai_std_28():
    # √784 = 28; then P(|N(0, 28²)| > 2.18) ≈ 0.94 of the tanh outputs saturated.
    _, snap = run("fastai_std_28")
    assert snap.layers.preact_std[0] == pytest.approx(28.0, rel=TOL)
    assert snap.layers.saturated_frac[0] > 0.9


def test_fastai_lecun():
    # std 1 before the tanh; P(|N(0,1)| > 2.18) ≈ 0.03 saturated.
    _, snap = run("fastai_lecun")
    assert snap.layers.preact_std[0] == pytest.approx(1.0, rel=TOL)
    assert snap.layers.saturated_frac[0] < 0.05


def second_moment(ls) -> float:
    return float(ls.act_mean[0] ** 2 + ls.act_std[0] ** 2)


def test_fastai_relu_halves():
    # E[relu(z)²] = ½·E[z²] for symmetric z.
    _, snap = run("fastai_relu_halves")
    assert second_moment(snap.layers) == pytest.approx(0.5 * snap.layers.preact_std[0] ** 2, rel=2 * TOL)


def test_fastai_kaiming():
    # He's std √(2/fan_in): E[z²] = 2, so E[relu(z)²] = 1.
    _, snap = run("fastai_kaiming")
    assert second_moment(snap.layers) == pytest.approx(1.0, rel=2 * TOL)


def test_fastai_shifted_relu():
    # mean √2/√(2π) − 0.5 ≈ 0.064, std unchanged at √2·0.584 ≈ 0.826.
    _, snap = run("fastai_shifted_relu")
    assert abs(snap.layers.act_mean[0]) < 0.1
    assert snap.layers.act_std[0] == pytest.approx(0.826, rel=TOL)


# --- 5. Xavier with tanh, and with ReLU ------------------------------------------------------------
def test_xavier_tanh():
    # Balanced variance, tanh ≈ identity near 0: gradients within 10× across 50 layers.
    _, snap = run("xavier_tanh")
    assert 0.1 < grad_ratio(snap) < 10


def test_xavier_relu_fading():
    # Var halves per layer: log10(1/√2) = −0.15 decades per layer for the activations' std, and
    # (1/√2)^49 ≈ 4e-8 for the gradient ratio: demand < 1e-5.
    _, snap = run("xavier_relu_fading")
    assert log_slope(snap.layers.preact_std) == pytest.approx(-0.15, abs=0.04)
    assert grad_ratio(snap) < 1e-5


# --- 6. normalization ------------------------------------------------------------------------------
def test_batchnorm_rescue():
    # Without BatchNorm the same network's ratio is ~1e-17 (test_deep_sigmoid_vanishing); with it the
    # gradient reaches layer 1 undiminished: demand more than 1/100 of the last layer's.
    _, plain = run("deep_sigmoid_vanishing")
    _, snap = run("batchnorm_rescue")
    assert grad_ratio(snap) > 1e-2 > 1e12 * grad_ratio(plain)


def log_grad_spread(name: str) -> float:
    """Std over the scenario's steps of log10 of the global gradient norm: how much it jumps."""
    sim = sim_of(name)
    return float(np.std([math.log10(sim.step().grad_norm_total) for _ in range(load_scenario(name).steps)]))


def test_batchnorm_batch_size_2():
    # Two standardized values are always ±1/√(1 + ε/σ²) ≈ ±1 (ε = 1e-5 ≪ σ²), or both 0 when a unit
    # sees the two examples alike. So every tanh output of layers 2.. is ±tanh(1) = ±0.7616 or 0: at
    # std of at most tanh(1), within a few % of it, and nearly all values in the two end bins.
    snap = sim_of("batchnorm_batch_size_2").probe()
    std = snap.layers.act_std[1:]
    assert std.max() <= math.tanh(1.0) + 1e-6 and std.min() > 0.95 * math.tanh(1.0)
    counts = snap.layers.act_hist_counts[1:]
    assert ((counts[:, 0] + counts[:, -1]) / counts.sum(axis=1)).min() > 0.9


def test_layernorm_batch_size_2():
    # LayerNorm standardizes over the 64 units, not over the 2 examples: nothing is pinned at tanh(1),
    # and the gradient norm jumps less from step to step than with BatchNorm at the same batch size:
    # measured 1.15 vs 0.34 decades of spread over 40 steps (BatchNorm 2.5-3.4x LayerNorm over seeds
    # 0-2); demand 2x.
    snap = sim_of("layernorm_batch_size_2").probe()
    assert np.abs(snap.layers.act_std[1:] - math.tanh(1.0)).max() > 0.02
    assert log_grad_spread("batchnorm_batch_size_2") > 2 * log_grad_spread("layernorm_batch_size_2")


# --- 7. the cliff and clipping -------------------------------------------------------------------
def losses(name: str, steps: int | None = None) -> list[float]:
    sim = sim_of(name)
    return [sim.step().loss for _ in range(steps or load_scenario(name).steps)]


def test_exploding_cliff():
    # Gain 1.5 per layer: the loss leaps by orders of magnitude (or overflows) within the scenario's steps.
    seen = losses("exploding_cliff")
    assert not all(math.isfinite(x) for x in seen) or max(seen) > 100 * seen[0]


def shrink_factors(name: str) -> tuple[np.ndarray, float, float]:
    """After one step: per layer ‖ΔW‖/(lr·‖∂L/∂W‖), i.e. how much clipping shortened each layer's step."""
    sim = sim_of(name)
    snap = sim.step()
    new_norm = sim.probe().layers.weight_norm
    delta = snap.layers.update_to_weight * new_norm  # update_to_weight = ‖ΔW‖ / ‖W after‖
    return delta / (snap.lr * snap.layers.weight_grad_norm), snap.grad_norm_total, snap.grad_norm_clipped


def test_clip_by_norm():
    # g ← g·c/‖g‖: every layer shrinks by the same c/‖g‖ (direction kept; float32 rounding only) and the
    # clipped norm is c. Over the run the loss stays below 3× its start where 7a leapt 100×.
    factors, before, after = shrink_factors("clip_by_norm")
    c = load_scenario("clip_by_norm").config.clip_threshold
    assert after == pytest.approx(c, rel=1e-5)
    np.testing.assert_allclose(factors, c / before, rtol=1e-3)
    seen = losses("clip_by_norm")
    assert all(math.isfinite(x) for x in seen) and max(seen) < 3 * seen[0]


def test_clip_by_value():
    # Each component capped at ±c: layers with large gradients are cut far more than others, so the
    # per-layer shrink factors differ (measured: 6x between layers 1 and 12); the loss stays bounded like 7b's.
    factors, before, after = shrink_factors("clip_by_value")
    assert after < before / 10
    assert factors.max() > 2 * factors.min()
    seen = losses("clip_by_value")
    assert all(math.isfinite(x) for x in seen) and max(seen) < 3 * seen[0]


# --- 8. residual connections -----------------------------------------------------------------------
def final_loss(name: str) -> float:
    sim, _ = run(name)
    return sim.probe().loss


def test_plain_deep_stalls():
    # Chance level is ln 2 ≈ 0.69; after 120 steps the plain net is still within 0.15 of it
    # (measured ≈ 0.65) while the residual one is far below (test_residual_trains).
    assert final_loss("plain_deep_stalls") > LN2 - 0.15


def test_residual_trains():
    # measured ≈ 0.03 after 120 steps; 0.3 is well under the plain network's ≈ 0.65.
    assert final_loss("residual_trains") < 0.3
    # ∂h_out/∂h_in = I + J per layer: the gradient grows toward the input, more with more layers.
    deep = grad_ratio(sim_of("residual_trains").probe())
    shallow = grad_ratio(sim_of("residual_trains", depth=10).probe())
    assert deep > 3 * shallow > 3
