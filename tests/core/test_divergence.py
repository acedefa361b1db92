"""Divergence and hostile command lines: the first bad step and layer, exit 3 with the record kept,
exit 2 with one error line and never a traceback."""
from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from core import SimConfig, Simulator
from core.stats import HIST_MAX_VALUES

# relu with N(0, 0.4²) weights, width 16: Var z grows by 16·0.4²/2 = 1.28 per layer at init, and
# lr 1.0 blows it up within a few steps (step 4, forward, with seed 0: found by the code below).
EXPLODING = dict(activation="relu", init="normal", init_std=0.4, depth=50, lr=1.0, width=16, n_samples=256,
                 batch_size=32, device="cpu")
EXPLODING_SET = [a for k, v in EXPLODING.items() for a in ("--set", f"{k}={v}")]


def reference_first_bad(cfg: SimConfig) -> tuple[int, str, int | None, list[torch.Tensor], list[torch.Tensor]]:
    """The first step whose pass holds a NaN/Inf, found without the simulator's statistics:
    train step by step, and before each step replay its batch through the layers by hand.
    Returns (step, stage, layer, activations a_i, gradients ∂L/∂z_i) of that pass."""
    sim = Simulator(cfg)
    model = sim.model
    for step in range(1, 100):
        idx = copy.deepcopy(sim._sampler).next_indices()  # the batch the next step will draw
        h, zs, acts = sim.x[idx], [], []
        for i, (linear, norm) in enumerate(zip(model.linears, model.norms)):
            z = linear(h)
            a = model.act(norm(z))
            zs.append(z)
            acts.append(a.detach())
            h = h + a if model.residual and i > 0 else a
        loss = nn.functional.cross_entropy(model.readout(h), sim.y[idx])
        grads = [g.detach() for g in torch.autograd.grad(loss, zs, allow_unused=True)]
        bad_fwd = [i for i, (z, a) in enumerate(zip(zs, acts)) if not (torch.isfinite(z).all() and torch.isfinite(a).all())]
        bad_bwd = [i for i, g in enumerate(grads) if not torch.isfinite(g).all()]
        if bad_fwd:
            return step, "forward", bad_fwd[0] + 1, acts, grads
        if not torch.isfinite(loss):
            return step, "loss", None, acts, grads
        if bad_bwd:
            return step, "backward", bad_bwd[-1] + 1, acts, grads
        snap = sim.step(1)
        assert not snap.nonfinite, "the simulator saw a NaN/Inf that the replay did not"
    raise AssertionError("did not diverge in 100 steps")


@pytest.fixture(scope="module")
def reference():
    return reference_first_bad(SimConfig(**EXPLODING))


def test_cli_names_a_recurrent_networks_entry_a_time_step(run_cli):
    """The error line locates the NaN/Inf with the architecture's own noun: a recurrent network's
    entries are time steps (a linear RNN with std-10 weights goes non-finite within 30 steps)."""
    code, _, err = run_cli("run", "--steps", "30", "--set", "architecture=rnn", "--set", "dataset=first_token",
                           "--set", "depth=6", "--set", "width=8", "--set", "n_samples=64", "--set", "batch_size=16",
                           "--set", "init=normal", "--set", "init_std=10", "--set", "activation=linear")
    assert code == 3
    assert re.fullmatch(r"error: non-finite value at step \d+, time step \d+ \(\w+\); run stopped", err.strip()), err


def test_cli_stops_at_the_first_bad_step_and_layer(reference, run_cli):
    step, stage, layer, _, _ = reference
    assert step > 1  # a few good steps come first, so the record has several entries
    code, out, err = run_cli("run", "--steps", "50", *EXPLODING_SET)
    assert code == 3
    assert err.splitlines() == [f"error: non-finite value at step {step}, layer {layer} ({stage}); run stopped"]
    doc = json.loads(out)  # stdout carries the whole record, valid JSON (no NaN literals)
    snaps = doc["snapshots"]
    assert [s["step"] for s in snaps] == list(range(1, step + 1))
    assert [s["nonfinite"] for s in snaps] == [False] * (step - 1) + [True]
    last = snaps[-1]
    assert (last["nonfinite_stage"], last["nonfinite_layer"]) == (stage, layer)
    assert len(last["layers"]) == EXPLODING["depth"] and last["loss"] is None  # NaN loss → null, flagged


def test_recording_interval_does_not_hide_the_first_bad_step(tmp_path, reference, run_cli):
    """With --every 3 the bad step falls inside a chunk: the chunk stops there and records it."""
    step, stage, layer, _, _ = reference
    out = tmp_path / "run.json"
    out.write_text("previous contents")
    code, stdout, stderr = run_cli("run", "--steps", "50", "--every", "3", "--out", str(out), *EXPLODING_SET)
    assert code == 3 and stdout == ""
    assert f"step {step}, layer {layer} ({stage})" in stderr and len(stderr.splitlines()) == 1
    snaps = json.loads(out.read_text())["snapshots"]
    assert [s["step"] for s in snaps] == [*range(3, step, 3), step]
    assert snaps[-1]["nonfinite"] and not any(s["nonfinite"] for s in snaps[:-1])


def test_histograms_of_the_bad_step_count_exactly_the_finite_values(reference):
    """Counts per layer = finite values among the histogrammed rows of the replayed pass."""
    step, _, _, acts, grads = reference
    sim = Simulator(SimConfig(**EXPLODING))
    snap = sim.step(step)  # stops at the bad step
    assert snap.nonfinite and snap.step == step
    ls = snap.layers
    rows = max(1, min(EXPLODING["batch_size"], -(-HIST_MAX_VALUES // EXPLODING["width"])))
    finite_a = [int(torch.isfinite(a[:rows]).sum()) for a in acts]
    finite_g = [int(torch.isfinite(g[:rows]).sum()) for g in grads]
    assert ls.act_hist_counts.sum(axis=1).tolist() == finite_a
    assert ls.grad_hist_counts.sum(axis=1).tolist() == finite_g
    assert min(finite_a) < rows * EXPLODING["width"]  # some layer really held NaN/Inf
    assert np.isfinite(ls.act_hist_edges).all() and np.isfinite(ls.grad_hist_edges).all()


def test_snapshot_json_of_a_bad_step_has_no_nan_literals():
    sim = Simulator(SimConfig(**EXPLODING))
    snap = sim.step(50)
    assert snap.nonfinite
    json.dumps(snap.to_dict(), allow_nan=False)  # raises on NaN/Inf


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the missing-CUDA error")
def test_cli_cuda_without_a_device_is_a_clear_error(run_cli):
    code, out, err = run_cli("probe", "--set", "device=cuda")
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: device: 'cuda' was requested but ") and "use 'auto' or 'cpu'" in line


HOSTILE_FILES = {
    "empty.json": b"",
    "null.json": b"null",
    "string.json": b'"depth=3"',
    "binary.json": b"\x89PNG\r\n\x1a\n\x00\xff",
    "nested.json": b"[" * 100_000,
    "nan.json": b'{"lr": NaN}',
    "huge_int.json": b'{"depth": 1e400}',
    "bool.json": b'{"depth": true}',
    "nested_value.json": b'{"activation": {"name": "relu"}}',
}


@pytest.mark.parametrize("args,fragment", [
    (["probe", "empty.json"], "is not valid JSON"),
    (["probe", "null.json"], "must hold a JSON object of config fields, not a NoneType"),
    (["probe", "string.json"], "must hold a JSON object"),
    (["probe", "binary.json"], "cannot read"),
    (["probe", "nested.json"], "nested too deeply"),
    (["probe", "nan.json"], "lr: nan is not a finite number"),
    (["probe", "huge_int.json"], "depth: expected an integer, got inf"),
    (["probe", "bool.json"], "depth: expected an integer, got True"),
    (["probe", "nested_value.json"], "activation: expected a string"),
    (["probe", "--set", "lr=1e400"], "lr: inf is not a finite number"),
    (["probe", "--set", "seed=99999999999999999999"], "seed: 99999999999999999999 is out of range"),
    (["probe", "--set", "=3"], ": unknown field"),
    (["probe", "--memory-budget", "lots"], "invalid float value"),
    (["probe", "--memory-budget", "nan"], "--memory-budget: expected a positive number"),
    (["probe", "--set", "depth=3", "--out", "missing_dir/out.json"], "cannot write"),
])
def test_hostile_input_is_one_error_line_exit_2(tmp_path, monkeypatch, run_cli, args, fragment):
    """In-process: main() is exactly what `python -m core` runs, and any uncaught exception would
    fail the test; test_cli.py runs each verb once as a real process."""
    for name, data in HOSTILE_FILES.items():
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(*args)
    lines = err.splitlines()
    assert code == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert "Traceback" not in err


def test_nested_json_is_one_exact_error_line(tmp_path, run_cli):
    path = tmp_path / "nested.json"
    path.write_bytes(b"[" * 100_000)
    code, _, err = run_cli("probe", str(path))
    assert code == 2 and err.splitlines() == [f"error: {path} is nested too deeply to be a config file"]


def test_a_divergence_between_snapshots_is_caught_at_its_step_and_layer(reference):
    """One long step(n) (the window's chunk): the cheap per-step checks stop it at the bad step, whose
    pass then names the layer, as step-by-step training does; the steps before it are all recorded."""
    step, stage, layer, _, _ = reference
    sim = Simulator(SimConfig(**EXPLODING))
    snap = sim.step(50)
    assert (snap.step, snap.nonfinite_stage, snap.nonfinite_layer) == (step, stage, layer)
    trail = sim.trail()
    assert [r.step for r in trail] == list(range(1, step))
    assert all(np.isfinite(r.grad_norm).all() and len(r.grad_norm) == EXPLODING["depth"] for r in trail)


def test_steps_without_a_trail_catch_the_divergence_at_its_step_and_layer(reference):
    """trail=False (the CLI between its records) keeps the per-step checks: the same step and layer."""
    step, stage, layer, _, _ = reference
    snap = Simulator(SimConfig(**EXPLODING)).step(50, trail=False)
    assert (snap.step, snap.nonfinite_stage, snap.nonfinite_layer) == (step, stage, layer)


@pytest.mark.parametrize("trail", [True, False])
def test_an_inf_that_a_saturating_activation_hides_is_caught_at_its_layer(trail):
    """sigmoid(+inf) = 1 and sigmoid′ = 0 there: the loss and every gradient stay finite, so only the
    forward check of z (Σz per layer) sees layer 2's overflow, at the step it happens."""
    cfg = SimConfig(depth=4, width=16, activation="sigmoid", n_samples=256, batch_size=32, device="cpu")
    sim = Simulator(cfg)
    with torch.no_grad():
        sim.model.linears[1].weight.fill_(3e38)  # layer 1's outputs are all > 0: Σ_j 3e38·a_j overflows
    snap = sim.step(5, trail=trail)
    assert np.isfinite(snap.loss)
    assert (snap.step, snap.nonfinite_stage, snap.nonfinite_layer) == (1, "forward", 2)
