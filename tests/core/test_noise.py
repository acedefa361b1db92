"""Gradient accumulation and the gradient-noise statistic (core/noise.py)."""
import copy

import numpy as np
import pytest
import torch
from torch import nn

from core import SimConfig, Simulator
from core.trace import Trace

NOISE_BASE = SimConfig(depth=4, width=16, dataset="gaussian", input_dim=8, n_samples=512, batch_size=16, device="cpu")


def per_example_noise(sim: Simulator) -> np.ndarray:
    """grad_noise from an independent computation: one backward pass per example of the
    probe batch (each example is a micro-batch of one), spread taken in float64."""
    idx = sim._probe_idx
    x, y = sim.x[idx], sim.y[idx]
    weights = sim.model.hidden_weights()
    grads = []
    for i in range(len(idx)):
        sim.model.zero_grad()
        nn.functional.cross_entropy(sim.model(x[i:i + 1]), y[i:i + 1]).backward()
        grads.append([w.grad.double().clone() for w in weights])
    sim.model.zero_grad()
    n, pop = len(idx), len(sim.y)
    out = []
    for layer in range(len(weights)):
        g = torch.stack([gi[layer] for gi in grads])          # [N, out, in]
        mean = g.mean(0)
        spread = (g - mean).square().sum() / (n - 1)          # tr Σ̂
        out.append(float(torch.sqrt((1 - n / pop) * spread / n) / mean.norm()))
    return np.array(out)


@pytest.mark.parametrize("arch,accum", [("mlp", 1), ("residual", 1), ("mlp", 4), ("residual", 4)])
def test_noise_matches_per_example_gradients(arch, accum):
    sim = Simulator(NOISE_BASE.replace(architecture=arch, grad_accum=accum))
    got = sim.probe().layers.grad_noise
    # the same quantity computed two ways in float32; the closed form cancels N·P − ‖Ḡ‖² with
    # N·P ≈ ‖Ḡ‖²(1 + (N−1)·noise²) and noise ≈ 0.3..0.9 here: rounding stays ≲ 1e-6 relative
    np.testing.assert_allclose(got, per_example_noise(sim), rtol=1e-4)


def test_noise_shrinks_as_one_over_sqrt_batch():
    base = SimConfig(architecture="residual", depth=6, width=32, dataset="gaussian", input_dim=16,
                     n_samples=20000, device="cpu")
    snaps = {b: Simulator(base.replace(batch_size=b)).probe().layers for b in (128, 512, 2048)}
    # same initial network (batch size does not touch the init); the noise part alone
    # grad_noise·‖Ḡ‖ = √((1 − N/n)·tr Σ̂/N) should fall by exactly √(16·(1−128/n)/(1−2048/n)) ≈ 4.15 from
    # 128 to 2048 if tr Σ̂ is the same; its estimate from N examples has relative error ≈ 1/√(2(N−1)) for
    # Gaussian gradients (6 % at 128, 2 % at 2048): 25 % allows about 4σ with heavier-tailed gradients.
    noise = {b: s.grad_noise * s.weight_grad_norm for b, s in snaps.items()}
    expected = np.sqrt(16 * (1 - 128 / 20000) / (1 - 2048 / 20000))
    ratio = np.median(noise[128] / noise[2048])
    assert ratio == pytest.approx(expected, rel=0.25)
    # the ratio itself: noise/√(signal² + noise²); from 512 to 2048 (both signal-dominated here) ≈ √4 = 2,
    # pulled a little below 2 by the noise inside ‖Ḡ‖ at 512
    nsr = np.median(snaps[512].grad_noise / snaps[2048].grad_noise)
    assert 1.5 < nsr < 2.3
    assert np.all(snaps[128].grad_noise > snaps[2048].grad_noise)


def test_full_batch_has_no_noise():
    layers = Simulator(NOISE_BASE.replace(batch_size=512)).probe().layers
    np.testing.assert_array_equal(layers.grad_noise, 0.0)  # 1 − N/n = 0: the full-data gradient itself
    single = Simulator(NOISE_BASE.replace(batch_size=1)).probe().layers
    assert np.isnan(single.grad_noise).all()  # one example: no spread to measure


def test_accumulation_equals_the_large_batch():
    """B × A accumulated = one batch of A·B (no batchnorm): same examples, same gradient, same update."""
    accum = Simulator(NOISE_BASE.replace(batch_size=8, grad_accum=4, optimizer="momentum"))
    large = Simulator(NOISE_BASE.replace(batch_size=32, optimizer="momentum"))
    for n in (1, 3):  # instrumented step, then two bare steps and an instrumented one
        a, b = accum.step(n), large.step(n)
        assert a.loss == pytest.approx(b.loss, rel=1e-5) and a.accuracy == pytest.approx(b.accuracy)
        assert a.grad_norm_total == pytest.approx(b.grad_norm_total, rel=1e-5)
        np.testing.assert_allclose(a.layers.weight_grad_norm, b.layers.weight_grad_norm, rtol=1e-5)
        np.testing.assert_allclose(a.layers.grad_noise, b.layers.grad_noise, rtol=1e-4)
    for p, q in zip(accum.model.parameters(), large.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_accumulated_step_reports_the_last_micro_batch():
    sim = Simulator(NOISE_BASE.replace(batch_size=8, grad_accum=3))
    model = copy.deepcopy(sim.model)
    snap = sim.probe()
    last = sim._probe_idx.view(3, 8)[-1]
    trace = Trace()
    nn.functional.cross_entropy(model(sim.x[last], trace), sim.y[last]).backward()
    # ∂L/∂z of the last micro-batch's own mean loss, as in an unaccumulated step of batch 8
    want = [float(z.grad.norm()) for z in trace.z]
    np.testing.assert_allclose(snap.layers.grad_norm, want, rtol=1e-5)
    np.testing.assert_allclose(snap.layers.act_mean, [float(a.detach().mean()) for a in trace.a], rtol=1e-4, atol=1e-7)


def test_bad_accumulation_is_refused():
    from core import ConfigError
    with pytest.raises(ConfigError, match="grad_accum: effective batch"):
        NOISE_BASE.replace(batch_size=64, grad_accum=9)  # 576 > 512 examples


def test_micro_batch_spread_estimates_the_same_noise():
    """The spread of the accumulated micro-batch gradients (k = 32 micro-batches of 8, one backward
    pass each, computed here independently) estimates the same standard error as grad_noise."""
    A, B = 32, 8
    sim = Simulator(NOISE_BASE.replace(batch_size=B, grad_accum=A, n_samples=4096))
    got = sim.probe().layers.grad_noise
    micro = sim._probe_idx.view(A, B)
    weights = sim.model.hidden_weights()
    grads = []
    for mb in micro:
        sim.model.zero_grad()
        nn.functional.cross_entropy(sim.model(sim.x[mb]), sim.y[mb]).backward()
        grads.append([w.grad.double().clone() for w in weights])
    n, pop = A * B, len(sim.y)
    want = []
    for layer in range(len(weights)):
        g = torch.stack([gj[layer] for gj in grads])          # [k, out, in] micro-batch mean gradients
        mean = g.mean(0)
        s2 = (g - mean).square().sum() / (A - 1)               # spread of a micro-batch gradient
        want.append(float(torch.sqrt((1 - n / pop) * s2 / A) / mean.norm()))
    # two estimates of one quantity: the micro-batch one has k − 1 = 31 degrees of freedom (relative
    # error ≈ 1/√(2·31) ≈ 13 %), the per-example one 255 (4 %); 40 % is about 3σ of their difference
    np.testing.assert_allclose(got, want, rtol=0.4)
