"""The residual autoencoder: reconstruction shape and loss against plain torch, NaN accuracy, the
noise statistic, config and export, and the noisy-training scenarios (seed 003)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import SimConfig, Simulator
from core.architectures.autoencoder import ARCHITECTURE, build_autoencoder
from core.data import DATASETS
from core.scenarios import load_scenario
from core.trace import Trace

from tests.helpers import AUTOENCODER_SCENARIOS, EXPORT_STEPS as STEPS, quoted
from tests.helpers import exported_and_simulated_losses

# the scenarios these tests check (test_scenarios.py verifies every scenario is covered somewhere)
COVERED = AUTOENCODER_SCENARIOS



def cfg(**changes) -> SimConfig:
    base = dict(architecture="autoencoder", dataset="digits", depth=5, width=8, n_samples=128, batch_size=16,
                device="cpu")
    return SimConfig(**{**base, **changes})


def test_reconstruction_and_loss_match_plain_torch():
    c = cfg(activation="elu", bias_std=0.1, normalization="layernorm")
    data = DATASETS["digits"](c, torch.Generator().manual_seed(0))
    net = build_autoencoder(c, tuple(data.x.shape[1:]), data.n_classes, torch.Generator().manual_seed(1))
    x = data.x[:10]
    trace = Trace()
    out = net(x, trace)
    assert out.shape == x.shape == (10, 64) and len(trace.z) == 5
    F.mse_loss(out, x).backward()
    # the same maths written out: layer 1 without a skip, layers 2..5 with one, a linear decoder
    weights = [lin.weight.detach().clone().requires_grad_() for lin in net.linears]
    h = x
    for i, (w, lin) in enumerate(zip(weights, net.linears)):
        a = F.elu(F.layer_norm(F.linear(h, w, lin.bias.detach()), (c.width,)))
        h = h + a if i > 0 else a
    ref = F.linear(h, net.readout.weight.detach(), net.readout.bias.detach())
    loss = ((ref - x) ** 2).sum() / x.numel()  # the mean squared error, written out
    loss.backward()
    torch.testing.assert_close(out, ref)
    for lin, w in zip(net.linears, weights):
        torch.testing.assert_close(lin.weight.grad, w.grad)


def test_simulator_trains_on_the_reconstruction_error():
    sim = Simulator(cfg())
    snap = sim.probe()
    idx = sim._probe_idx
    with torch.no_grad():
        want = float(F.mse_loss(sim.model(sim.x[idx]), sim.x[idx]))
    assert snap.loss == pytest.approx(want, rel=1e-5)
    assert math.isnan(snap.accuracy)  # accuracy does not apply to a reconstruction
    # each layer is one Linear: the per-example gradient-noise statistic is defined
    assert np.isfinite(snap.layers.grad_noise).all() and (snap.layers.grad_noise > 0).all()
    first = sim.step(5)
    assert first.loss < snap.loss and all(math.isnan(r.accuracy) for r in sim.trail())


@pytest.mark.parametrize("dataset, features", [("gaussian", 7), ("stripes", 256), ("spirals", 2), ("adding", 10)])
def test_any_flat_data_set_is_reconstructed(dataset, features):
    sim = Simulator(cfg(dataset=dataset, input_dim=7, depth=5))
    assert sim.x.shape[1:] == (features,) and sim.model.readout.out_features == features
    assert np.isfinite(sim.step(2).loss)


def test_declared_fields():
    assert ARCHITECTURE.reconstruct and ARCHITECTURE.noun == "layer" and ARCHITECTURE.datasets is None
    assert ARCHITECTURE.why_unused("normalization") is None and ARCHITECTURE.why_unused("heads")


@pytest.mark.parametrize("overrides", [
    dict(activation="relu", optimizer="adam", lr=0.01, grad_accum=2, batch_size=16),
    dict(dataset="gaussian", input_dim=10, normalization="layernorm", clip_mode="norm", clip_threshold=0.1),
    dict(dataset="stripes", normalization="batchnorm", warmup_steps=2, optimizer="momentum"),
], ids=["digits-accum", "gaussian-ln-clip", "stripes-bn-warmup"])
def test_exported_script_matches_the_simulator(tmp_path, monkeypatch, capsys, overrides):
    """As in test_export_script: the same float32 kernels in the same order, rel 1e-5."""
    c = cfg(**{**dict(depth=4, width=12, n_samples=256, batch_size=32), **overrides})
    path = tmp_path / "ae.py"
    got, want, output = exported_and_simulated_losses(c, path, monkeypatch, capsys)
    assert "accuracy nan" in output and "mse_loss" in path.read_text()
    assert got == pytest.approx(want, rel=1e-5) and len(set(want)) == STEPS


# --- the scenarios ------------------------------------------------------------------------------
def run(name: str):
    """(every step's loss, the 10-step means, the median grad_noise of each 10th step's snapshot, the first step)."""
    sc = load_scenario(name)
    sim = Simulator(sc.config.replace(device="cpu"))
    first = sim.step()
    losses, noise = [first.loss], []
    snap = sim.step(9)
    losses += [r.loss for r in sim.trail()] + [snap.loss]
    noise.append(np.median(snap.layers.grad_noise))
    for _ in range(sc.steps // 10 - 1):
        snap = sim.step(10)
        losses += [r.loss for r in sim.trail()] + [snap.loss]
        noise.append(np.median(snap.layers.grad_noise))
    losses = np.array(losses)
    return losses, losses.reshape(-1, 10).mean(1), np.array(noise), first


@pytest.fixture(scope="module")
def noisy():
    return run("autoencoder_noisy")


@pytest.fixture(scope="module")
def accumulated():
    return run("autoencoder_accumulated")


def test_autoencoder_noisy(noisy):
    losses, means, noise, _ = noisy
    assert quoted(losses.max(), 29, 2) and losses.argmax() + 1 == 29
    assert quoted(means.min(), 0.8) and quoted(means.max(), 3.6, 2) and quoted(means[-1], 3.1, 2)
    assert np.sum(np.diff(means) > 0) >= 4  # up and down: the 10-step mean rises again at least 4 times
    assert quoted(noise.min(), 0.6) and quoted(noise.max(), 1.1, 2)


def test_autoencoder_accumulated(noisy, accumulated):
    losses, means, noise, first = accumulated
    assert quoted(losses.max(), 2.5, 2) and losses.argmax() + 1 == 4 and quoted(means[0], 1.2, 2) and quoted(means[-1], 0.72, 2)
    assert 0.625 <= means[3:].min() and means[3:].max() < 0.875  # "between 0.63 and 0.87 after step 40"
    # the first step draws the same 4 examples first, from the same initial network: the standard error
    # (grad_noise × ‖∂L/∂W‖) should shrink by √(8·(1 − 4/1797)/(1 − 32/1797)) ≈ 2.84; the 4-example estimate has
    # 3 degrees of freedom, so the median over 32 layers is quoted (2.4) and held to a band around √8
    small = noisy[3].layers
    ratio = np.median((small.grad_noise * small.weight_grad_norm) / (first.layers.grad_noise * first.layers.weight_grad_norm))
    assert quoted(ratio, 2.4, 2) and 1.8 < ratio < 4.0
    assert np.clip(np.diff(means), 0, None).sum() < np.clip(np.diff(noisy[1]), 0, None).sum() / 10


def test_session_keeps_the_new_fields_and_a_nan_accuracy(tmp_path):
    from core.session import Curve, Session, load_session, save_session
    c = cfg(depth=3)
    snap = Simulator(c).step()
    other = SimConfig(architecture="transformer", dataset="majority", norm_position="post", heads=2, seq_len=5,
                      width=8, depth=2)
    save_session(tmp_path / "s.json", Session({"a": Session.single(c, [snap], Curve((1,), (snap.loss,), (snap.accuracy,)))
                                                .main, "b": Session.single(other).main}))
    back = load_session(tmp_path / "s.json")
    assert back.entries["a"].config == c and back.entries["b"].config == other
    assert math.isnan(back.entries["a"].snapshots[0].accuracy) and math.isnan(back.entries["a"].curve.accuracy[0])
    assert back.entries["a"].snapshots[0].loss == snap.loss
