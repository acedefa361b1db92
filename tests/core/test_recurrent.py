"""Recurrent architectures against independent computations: torch.nn.RNN / torch.nn.LSTM,
autograd on hand-unrolled copies, the init formulas and the sequence tasks' definitions."""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from core import SimConfig, Simulator
from core.architectures.recurrent import width_slice
from core.cli import main
from core.data import DATASETS, FIRST_TOKEN_SYMBOLS, input_dim_for
from core.trace import Trace

SEQ = dict(device="cpu", dataset="first_token", depth=12, width=10, n_samples=64, batch_size=16)
# float32 unrolled over ≤ 12 steps: the two computations differ by rounding only (≈ 1e-7 per
# operation, amplified by at most a few units per step at these gains), far inside 1e-5.
TOL = dict(rtol=1e-5, atol=1e-6)


def _torch_rnn(model, nonlinearity="tanh"):
    ref = nn.RNN(model.w_xh.shape[1], model.width, nonlinearity=nonlinearity, batch_first=True)
    return _copy(ref, model)


def _copy(ref, model):
    with torch.no_grad():
        ref.weight_ih_l0.copy_(model.w_xh)
        ref.weight_hh_l0.copy_(model.w_hh)
        ref.bias_ih_l0.copy_(model.bias)
        ref.bias_hh_l0.zero_()
    return ref


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_elman_forward_matches_torch_rnn(activation):
    sim = Simulator(SimConfig(architecture="rnn", activation=activation, init="orthogonal", init_gain=0.9,
                              bias_std=0.1, **SEQ))
    model, x = sim.model, sim.x[:16]
    trace = Trace()
    logits = model(x, trace)
    out, h_last = _torch_rnn(model, activation)(x)
    torch.testing.assert_close(torch.stack(trace.a, 1), out, **TOL)
    torch.testing.assert_close(logits, model.readout(h_last[0]), **TOL)


def test_lstm_forward_matches_torch_lstm():
    sim = Simulator(SimConfig(architecture="lstm", bias_std=0.2, forget_bias=1.5, **SEQ))
    model, x = sim.model, sim.x[:16]
    trace = Trace()
    logits = model(x, trace)
    ref = _copy(nn.LSTM(model.w_xh.shape[1], model.width, batch_first=True), model)  # gate order i, f, g, o
    out, (h_last, _) = ref(x)
    torch.testing.assert_close(torch.stack(trace.a, 1), out, **TOL)
    torch.testing.assert_close(logits, model.readout(h_last[0]), **TOL)
    assert len(trace.z) == SEQ["depth"] and trace.z[0].shape == (16, 4 * SEQ["width"])


def test_static_input_enters_at_the_first_step_only():
    # a 2-D data set on an RNN: x at step 1, no input afterwards (an MLP of tied layers)
    sim = Simulator(SimConfig(architecture="rnn", device="cpu", dataset="spirals", depth=5, width=6,
                              n_samples=64, batch_size=8, bias_std=0.1))
    m, x = sim.model, sim.x[:8]
    assert sim.x.shape == (64, 2)
    with torch.no_grad():
        h = torch.tanh(x @ m.w_xh.T + m.bias)
        for _ in range(4):
            h = torch.tanh(h @ m.w_hh.T + m.bias)
        torch.testing.assert_close(m(x), m.readout(h), **TOL)


def _unrolled_reference(model, x, y, gates):
    """Loss of an independent unroll with one untied copy of (W_hh, W_xh) per step, and the z_t."""
    T, W = model.steps, model.width
    w_hh = [model.w_hh.detach().clone().requires_grad_() for _ in range(T)]
    w_xh = [model.w_xh.detach().clone().requires_grad_() for _ in range(T)]
    b = model.bias.detach()
    h = torch.zeros(len(x), W)
    c = torch.zeros(len(x), W)
    zs = []
    for t in range(T):
        z = x[:, t] @ w_xh[t].T + h @ w_hh[t].T + b
        zs.append(z)
        if gates == 1:
            h = torch.tanh(z)
        else:
            i, f, g, o = z.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
    loss = nn.functional.cross_entropy(model.readout(h), y)
    return loss, zs, w_hh, w_xh


@pytest.mark.parametrize("arch", ["rnn", "lstm"])
def test_per_step_gradients_match_autograd(arch):
    cfg = SimConfig(architecture=arch, init="orthogonal", init_gain=1.2, **SEQ)
    sim = Simulator(cfg)
    snap = sim.probe()
    idx = sim._probe_idx
    loss, zs, w_hh, w_xh = _unrolled_reference(sim.model, sim.x[idx], sim.y[idx], 4 if arch == "lstm" else 1)
    grads = torch.autograd.grad(loss, [*zs, *w_hh, *w_xh])
    T = cfg.depth
    g_z, g_hh, g_xh = grads[:T], grads[T:2 * T], grads[2 * T:]
    assert snap.loss == pytest.approx(float(loss.detach()), rel=1e-6)
    np.testing.assert_allclose(snap.layers.grad_norm, [float(g.norm()) for g in g_z], rtol=1e-4)
    # weight_grad_norm[t]: the gradient of step t's copy of [W_hh | W_xh]; step 1 sees h_0 = 0
    per_step = [math.hypot(float(a.norm()), float(b.norm())) for a, b in zip(g_hh, g_xh)]
    np.testing.assert_allclose(snap.layers.weight_grad_norm, per_step, rtol=1e-4)
    assert float(g_hh[0].norm()) == 0.0
    # the noise statistic reads the same per-step inputs; with accumulation it is left undefined
    assert np.isfinite(snap.layers.grad_noise).all() and (snap.layers.grad_noise > 0).all()
    assert np.isnan(Simulator(cfg.replace(grad_accum=2)).probe().layers.grad_noise).all()
    # the shared matrix' gradient is the sum of the copies' (back-propagation through time)
    sim.model.zero_grad()
    nn.functional.cross_entropy(sim.model(sim.x[idx]), sim.y[idx]).backward()
    torch.testing.assert_close(sim.model.w_hh.grad, torch.stack(g_hh).sum(0), rtol=1e-4, atol=1e-7)


def test_gram_and_direct_outer_norms_agree():
    from core.architectures.recurrent import _outer_norm_sq
    g = torch.Generator().manual_seed(0)
    d, h = torch.randn(3, 5, 7, generator=g, dtype=torch.float64), torch.randn(3, 5, 9, generator=g, dtype=torch.float64)
    direct = torch.stack([(d[t].T @ h[t]).square().sum() for t in range(3)])
    torch.testing.assert_close(_outer_norm_sq(d, h), direct)  # B(P+Q) = 80 ≥ PQ = 63: the direct product
    torch.testing.assert_close(_outer_norm_sq(d[:, :2], h[:, :2]), torch.stack(
        [(d[t, :2].T @ h[t, :2]).square().sum() for t in range(3)]))  # B(P+Q) = 32 < 63: the Gram matrices
    for limit in (1, 70, 130):  # one, one and two steps per chunk
        torch.testing.assert_close(_outer_norm_sq(d, h, max_elements=limit), direct)


def test_shared_weight_statistics_repeat_over_steps():
    cfg = SimConfig(architecture="lstm", optimizer="sgd", lr=0.1, **SEQ)
    sim = Simulator(cfg)
    m = sim.model
    before = math.hypot(float(m.w_hh.detach().norm()), float(m.w_xh.detach().norm()))
    probe = sim.probe()
    np.testing.assert_allclose(probe.layers.weight_norm, np.full(cfg.depth, before), rtol=1e-6)
    w_hh, w_xh = m.w_hh.detach().clone(), m.w_xh.detach().clone()
    snap = sim.step()
    delta = math.hypot(float((m.w_hh.detach() - w_hh).norm()), float((m.w_xh.detach() - w_xh).norm()))
    np.testing.assert_allclose(snap.layers.update_to_weight, np.full(cfg.depth, delta / before), rtol=1e-5)
    np.testing.assert_allclose(snap.layers.grad_to_weight, snap.layers.weight_grad_norm / before, rtol=1e-6)


@pytest.mark.parametrize("arch,gates", [("rnn", 1), ("lstm", 4)])
def test_init_reaches_every_recurrent_matrix(arch, gates):
    W, D = 64, FIRST_TOKEN_SYMBOLS
    cfg = SimConfig(architecture=arch, width=W, init="orthogonal", init_gain=1.7, bias_std=0.3,
                    forget_bias=2.0, **{k: v for k, v in SEQ.items() if k != "width"})
    m = Simulator(cfg).model
    for block in m.w_hh.detach().chunk(gates):  # each gate's W×W block is gain · orthogonal
        torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((W,), 1.7), rtol=1e-4, atol=1e-4)
    xavier = Simulator(cfg.replace(init="xavier_normal", init_gain=1.0)).model
    # Xavier per gate block: std √(2/(W+W)) for W_hh, √(2/(W+D)) for W_xh; W² = 4096 samples give
    # the std to ≈ 1/√(2·4096) ≈ 1.1 % relative sd, so 5 % is > 4 sd
    for block in xavier.w_hh.detach().chunk(gates):
        assert float(block.std()) == pytest.approx(math.sqrt(1 / W), rel=0.05)
    np.testing.assert_allclose(float(xavier.w_xh.detach().std()), math.sqrt(2 / (W + D)), rtol=0.1)
    b = m.bias.detach()
    if arch == "lstm":
        forget = b[width_slice(W, 1)]
        assert float(forget.mean()) == pytest.approx(2.0, abs=4 * 0.3 / math.sqrt(W))
        assert float(b[width_slice(W, 0)].mean()) == pytest.approx(0.0, abs=4 * 0.3 / math.sqrt(W))
    assert float(b.std() if arch == "rnn" else b[width_slice(W, 2)].std()) == pytest.approx(0.3, rel=0.25)


def test_lstm_saturation_treats_gates_and_candidate_alike():
    sim = Simulator(SimConfig(architecture="lstm", **SEQ))
    trace = Trace(u=[torch.full((4, 4 * SEQ["width"]), 3.0)] * 2)
    # σ′(3)/σ′(0) = 0.18 ≥ 5 %: gates not saturated; tanh′(3)/tanh′(0) = 0.0099 < 5 %: candidate is
    from core.stats import saturation
    sat, dead = saturation(sim.model.abs_derivative(trace), 1.0)
    np.testing.assert_allclose(sat, [0.25, 0.25])
    assert sim.probe().layers.saturated_frac.max() < 0.05  # tanh/xavier at init: units near 0


def test_first_token_and_adding_data():
    cfg = SimConfig(dataset="first_token", architecture="rnn", depth=7, n_samples=500)
    ds = DATASETS["first_token"](cfg, torch.Generator().manual_seed(0))
    assert ds.x.shape == (500, 7, FIRST_TOKEN_SYMBOLS) and ds.input_dim == input_dim_for(cfg) == 8
    # standardized one-hot: the symbol present is the only positive entry of its step
    assert torch.equal(ds.x[:, 0].argmax(1), ds.y) and ds.n_classes == 8
    torch.testing.assert_close(ds.x.mean(0), torch.zeros(7, 8), atol=1e-5, rtol=0)
    flat = DATASETS["first_token"](cfg.replace(architecture="mlp"), torch.Generator().manual_seed(0))
    assert flat.x.shape == (500, 56) and input_dim_for(cfg.replace(architecture="mlp")) == 56
    torch.testing.assert_close(flat.x, ds.x.flatten(1))

    add = DATASETS["adding"](SimConfig(dataset="adding", architecture="lstm", depth=40, n_samples=4000),
                             torch.Generator().manual_seed(1))
    assert add.x.shape == (4000, 40, 2)
    marks = add.x[..., 1] > 0  # standardized marker: positive exactly where marked
    assert torch.equal(marks.sum(1), torch.full((4000,), 2))
    first, second = marks.float().argmax(1), 39 - marks.flip(1).float().argmax(1)
    assert int(first.max()) < 4 and int(second.min()) >= 20  # first within ⌈40/10⌉ steps, second in 2nd half
    # P(v₁ + v₂ > 1) = 1/2 for independent U(0, 1); 4 sd of a share over 4000 draws is 0.032
    assert abs(float(add.y.float().mean()) - 0.5) < 0.032


def test_adding_label_is_the_marked_sum():
    g = torch.Generator().manual_seed(3)
    cfg = SimConfig(dataset="adding", architecture="rnn", depth=40, n_samples=200)
    values = torch.rand(200, 40, generator=torch.Generator().manual_seed(3))
    ds = DATASETS["adding"](cfg, g)
    marks = ds.x[..., 1] > 0  # (at depth < 20 step 1 is always marked: a constant column, standardized to 0)
    assert torch.equal(marks.sum(1), torch.full((200,), 2))
    total = (values * marks).sum(1)  # same generator, same first draw: the raw values
    assert torch.equal(ds.y, (total > 1).long())


def test_cli_json_and_csv_have_one_entry_per_time_step(capsys):
    args = ["probe", "--set", "architecture=lstm", "--set", "dataset=adding", "--set", "depth=6", "--set", "width=8",
            "--set", "n_samples=64", "--set", "batch_size=16", "--set", "device=cpu"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    layers = doc["snapshots"][0]["layers"]
    assert [entry["layer"] for entry in layers] == [1, 2, 3, 4, 5, 6]
    assert all(entry["grad_norm"] > 0 for entry in layers)
    assert sum(layers[0]["act_hist"]["counts"]) == 16 * 8  # h_t: batch × width
    assert sum(layers[0]["grad_hist"]["counts"]) == 16 * 32  # ∂L/∂z_t: batch × 4·width
    assert main([*args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6 and float(rows[0]["weight_norm"]) == pytest.approx(layers[0]["weight_norm"])


def test_mlp_only_tools_refuse_recurrent_networks_with_a_reason(capsys):
    from core import theory
    from core.jacobian import check_supported
    cfg = SimConfig(architecture="rnn", dataset="first_token", depth=5, width=8)
    assert "reuses W_hh" in theory.not_applicable(cfg)
    with pytest.raises(Exception, match="^architecture: the Jacobian spectrum is computed for 'mlp'"):
        check_supported(cfg)
    assert main(["jacobian", "--set", "architecture=lstm", "--set", "depth=4", "--set", "width=8"]) == 2
    assert capsys.readouterr().err.startswith("error: architecture:")
