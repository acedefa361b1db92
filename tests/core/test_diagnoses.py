"""Diagnoses fire on the scenario that shows each problem, and stay quiet on healthy networks."""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from core import SimConfig, Simulator
from core.cli import main
from core.diagnoses import (
    IDENTICAL_UNITS_SPREAD, SATURATED_TANH, UPDATE_RATIO_DECADES, Diagnosis, diagnose, format_diagnoses,
    layer_ranges,
)
from core.scenarios import load_scenario

from tests.helpers import run_scenario as run


def kinds(diagnoses: list[Diagnosis]) -> set[str]:
    return {d.kind for d in diagnoses}


def diagnose_scenario(name: str) -> list[Diagnosis]:
    sim, snap = run(name)
    return diagnose(snap, sim.config)


def test_saturation_rule_is_the_makemore_097():
    # stats counts |φ′| < 5 % of max; for tanh that is |t| > √0.95 = 0.9747, the lecture's |t| > 0.97
    assert SATURATED_TANH == pytest.approx(0.9747, abs=1e-4)


def test_layer_ranges_groups_contiguous_layers():
    mask = np.array([True, True, False, True, False, False, True, True, True])
    assert layer_ranges(mask) == [(1, 2), (4, 4), (7, 9)]
    assert layer_ranges(np.zeros(5, bool)) == []


def test_vanishing_on_deep_sigmoid():
    found = [d for d in diagnose_scenario("deep_sigmoid_vanishing") if d.kind == "vanishing"]
    assert found and found[0].first == 1 and found[0].severity == "error"
    assert found[0].message.startswith(f"layers 1–{found[0].last}: gradients below 1e-6 of the last layer's")


def test_a_recurrent_network_is_diagnosed_in_time_steps():
    """An RNN's entries are its time steps: the messages name them so, and the last one's gradient
    is the reference. A vanilla tanh RNN with small recurrent weights forgets: its first steps'
    gradients are far below the last step's."""
    cfg = SimConfig(architecture="rnn", dataset="first_token", depth=30, width=32, n_samples=128, batch_size=32,
                    init="orthogonal", init_gain=0.5)
    snap = Simulator(cfg).probe()
    found = [d for d in diagnose(snap, cfg) if d.kind == "vanishing"]
    assert found and found[0].first == 1
    assert found[0].message.startswith(f"time steps 1–{found[0].last}: gradients below 1e-6 of the last time step's")
    assert not any("layer" in d.message for d in diagnose(snap, cfg))
    # the same numbers for a feed-forward network are worded in layers
    mlp = dataclasses.replace(cfg, architecture="mlp")
    assert diagnose(snap, mlp)[0].message.startswith("layers 1–")


def test_zero_gradients_on_zero_init():
    (d,) = [d for d in diagnose_scenario("zero_init") if d.kind == "zero_gradient"]
    assert (d.first, d.last) == (1, 6) and "exactly 0" in d.message


def test_saturated_on_large_tanh():
    (d,) = [d for d in diagnose_scenario("large_init_tanh_saturation") if d.kind == "saturated"]
    assert d.first <= 2 and d.last == 20 and d.message.endswith("saturated (tanh)")


def test_dead_on_dying_relu():
    found = [d for d in diagnose_scenario("dying_relu") if d.kind == "dead"]
    assert found and found[0].message.endswith("dead units (relu)")


def test_nonfinite_names_step_and_layer():
    sim, snap = run("large_init_relu_explodes")
    found = diagnose(snap, sim.config)
    (d,) = [d for d in found if d.kind == "nonfinite"]
    assert d.message == f"non-finite activation at step {snap.step}, layer {snap.nonfinite_layer}"
    # the other findings of that snapshot still name their layers as layers
    others = [d.message for d in found if d.kind != "nonfinite" and d.first is not None]
    assert others and all(m.startswith(("layer ", "layers ")) for m in others)


def test_exploding_on_the_cliff_then_non_finite():
    # the gradient spread blows past 1e6 on the way up the cliff, and the run then overflows:
    # both must be named, the overflow as an error with its step
    sc = load_scenario("exploding_cliff")
    sim = Simulator(sc.config.replace(device="cpu"))
    found = [kinds(diagnose(sim.step(), sim.config)) for _ in range(sc.steps)]
    assert any("exploding" in k for k in found)
    assert "nonfinite" in found[-1]


def test_update_ratio_too_high_and_too_low():
    # lr 10 on a healthy net: ‖ΔW‖/‖W‖ ≈ lr·‖g‖/‖W‖ is ~200× the lr-0.05 value (≈ 1e-3) ⇒ > 10^1.5 · 1e-3;
    # lr 1e-6 puts it ~5 decades below: both outside the UPDATE_RATIO_DECADES band.
    cfg = SimConfig(depth=4, width=32, n_samples=256, batch_size=64, device="cpu")
    high = diagnose(Simulator(cfg.replace(lr=10.0)).step(), cfg)
    low = diagnose(Simulator(cfg.replace(lr=1e-6)).step(), cfg)
    assert "update_high" in kinds(high) and "learning rate too high" in format_diagnoses(high)
    assert "update_low" in kinds(low) and "(learning rate too low)" in format_diagnoses(low)
    assert UPDATE_RATIO_DECADES < math.log10(200)


@pytest.mark.parametrize("name", ["deep_relu", "xavier_tanh", "batchnorm_rescue", "fastai_lecun"])
def test_healthy_scenarios_give_no_warning(name):
    # one thread: the summation order, hence the exact run, is fixed. batchnorm_rescue is near two
    # limits (its first layers update at ~10^-1.2 per step, and BatchNorm lets gradients grow toward
    # the input): a second thread's rounding changes ten steps of training enough to cross one
    assert diagnose_scenario(name) == []


def test_default_config_is_healthy_after_training():
    cfg = SimConfig(device="cpu")
    assert diagnose(Simulator(cfg).step(20), cfg) == []


def test_cheap_at_depth_1000():
    # Pure NumPy over [depth] arrays: well under a millisecond per call even with every check firing.
    snap = Simulator(SimConfig(depth=3, width=8, n_samples=64, batch_size=16, device="cpu")).step()
    rng = np.random.default_rng(0)
    big = {f.name: np.resize(getattr(snap.layers, f.name), (1000, *getattr(snap.layers, f.name).shape[1:]))
           for f in dataclasses.fields(snap.layers)}
    big["grad_norm"] = 10.0 ** rng.uniform(-12, 12, 1000)
    big["saturated_frac"] = rng.uniform(0, 1, 1000)
    big["dead_frac"] = rng.uniform(0, 1, 1000)
    big["update_to_weight"] = 10.0 ** rng.uniform(-8, 0, 1000)
    snap = dataclasses.replace(snap, layers=dataclasses.replace(snap.layers, **big))
    cfg = SimConfig(depth=1000)
    diagnose(snap, cfg)
    t0 = time.perf_counter()
    for _ in range(20):
        diagnose(snap, cfg)
    per_call = (time.perf_counter() - t0) / 20
    assert per_call < 0.01  # measured ≈ 0.9 ms on a loaded 2-core machine (README); 10× headroom


def test_cli_diagnose_prints_one_line_each(capsys):
    assert main(["diagnose", "--scenario", "zero_init", "--set", "device=cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["error: layers 1–6: gradients exactly 0 (no update can reach these weights)"]
    assert main(["diagnose", "--set", "depth=3", "--set", "width=8", "--set", "device=cpu"]) == 0
    assert capsys.readouterr().out == "ok: no problems found\n"


def test_cli_scenario_and_set_and_steps(capsys):
    import json

    steps = load_scenario("zero_init").steps
    assert main(["run", "--scenario", "zero_init", "--set", "depth=2", "--set", "device=cpu", "--every", "100"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["init"] == "zeros" and doc["config"]["depth"] == 2  # --set on top of the scenario
    assert doc["snapshots"][-1]["step"] == steps  # --steps defaults to the scenario's
    assert main(["probe", "--scenario", "nope"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: scenario: unknown scenario 'nope'")
    assert main(["scenarios"]) == 0
    listing = capsys.readouterr().out
    assert "zero_init" in listing and load_scenario("zero_init").title in listing


def test_a_tiny_update_under_a_vanishing_gradient_is_not_blamed_on_the_learning_rate():
    cfg = SimConfig(depth=30, width=32, activation="sigmoid", init="normal", init_std=0.15, lr=0.1,
                    n_samples=256, batch_size=64, device="cpu")
    found = diagnose(Simulator(cfg).step(), cfg)
    (first,) = [d for d in found if d.kind == "update_low" and d.first == 1]
    assert first.message.endswith("(small gradients there, not the learning rate)") and first.last > 10
    assert "vanishing" in kinds(found)
    # a healthy network at a tiny learning rate: that one is the learning rate
    healthy = SimConfig(depth=4, width=32, n_samples=256, batch_size=64, lr=1e-6, device="cpu")
    (only,) = [d for d in diagnose(Simulator(healthy).step(), healthy) if d.kind == "update_low"]
    assert only.message.endswith("(learning rate too low)") and (only.first, only.last) == (1, 4)


def test_identical_units_on_constant_init_and_not_on_random_init():
    # constant init: every unit of a layer is a copy of one unit, before and after training
    sc = load_scenario("constant_init_symmetry")
    sim = Simulator(sc.config.replace(device="cpu"))
    for snap in (sim.probe(), sim.step(5)):
        (d,) = [d for d in diagnose(snap, sim.config) if d.kind == "identical_units"]
        assert d.severity == "error" and (d.first, d.last) == (1, 6)
        assert d.message == "layers 1–6: all units identical (symmetry not broken)"
    # the same network with random weights: the units differ (spread ≈ 1, far above the threshold)
    normal = sc.config.replace(device="cpu", init="normal", init_std=0.3)
    for snap in (Simulator(normal).probe(), Simulator(normal).step(5)):
        assert snap.layers.unit_spread.min() > 100 * IDENTICAL_UNITS_SPREAD
        assert "identical_units" not in kinds(diagnose(snap, normal))


def test_identical_units_threshold_sits_between_round_off_and_random_units():
    assert 1e-6 < IDENTICAL_UNITS_SPREAD < 0.1
    # a recurrent network's entries are time steps; one unit identical to itself is not reported
    cfg = SimConfig(architecture="rnn", dataset="first_token", depth=4, width=8, n_samples=64, batch_size=16,
                    init="constant", init_std=0.1, device="cpu")
    found = [d for d in diagnose(Simulator(cfg).probe(), cfg) if d.kind == "identical_units"]
    assert found and found[0].message.startswith("time steps 1–4: all units identical")
    assert "identical_units" not in kinds(diagnose(Simulator(cfg.replace(width=1)).probe(), cfg.replace(width=1)))
