import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core import ConfigError, SimConfig, Simulator
from core.config import ACTIVATION_NAMES, DATASET_NAMES, OPTIMIZERS
from core.stats import norms
from core.trace import Trace

# The fast.ai lesson (reference note 001): 10 000 inputs of 784 N(0,1) features into 50 units.
FASTAI = SimConfig(dataset="gaussian", input_dim=784, depth=1, width=50, batch_size=10000, n_samples=10000,
                   device="cpu")
# z = w·x with x ~ N(0, I): Var z = ‖w‖², averaged over 50 units whose ‖w‖²/784 have relative sd
# √(2/784) each; the layer's std is then off by ≈ √(2/784)/√50/2 ≈ 0.4 %. 3 % leaves > 5 sd.
TOL = 0.03


def probe(cfg, **changes):
    return Simulator(cfg.replace(**changes)).probe().layers


def test_fastai_standard_normal_weights_give_std_28():
    assert probe(FASTAI, init="normal", init_std=1.0, activation="linear").preact_std[0] == pytest.approx(28.0, rel=TOL)


def test_fastai_lecun_relu_kaiming_and_shifted_relu():
    # relu of N(0, σ²): mean σ/√(2π) ≈ 0.399σ, std σ·√(1/2 − 1/(2π)) ≈ 0.584σ
    lecun = probe(FASTAI, init="lecun_normal", activation="relu")
    assert lecun.preact_std[0] == pytest.approx(1.0, rel=TOL)
    assert lecun.act_mean[0] == pytest.approx(0.40, rel=TOL)
    assert lecun.act_std[0] == pytest.approx(0.58, rel=TOL)
    he = probe(FASTAI, init="kaiming_normal", activation="relu")  # σ = √2
    assert he.act_mean[0] == pytest.approx(0.56, rel=TOL)
    assert he.act_std[0] == pytest.approx(0.83, rel=TOL)
    shifted = probe(FASTAI, init="kaiming_normal", activation="shifted_relu")
    assert shifted.act_mean[0] == pytest.approx(he.act_mean[0] - 0.5, abs=1e-6)
    assert shifted.act_mean[0] == pytest.approx(0.06, abs=0.02)


def test_zero_init_blocks_every_gradient_below_the_last_layer():
    cfg = SimConfig(init="zeros", activation="sigmoid", depth=6, width=16, n_samples=256, batch_size=64, device="cpu")
    sim = Simulator(cfg)
    assert sim.probe().layers.grad_norm.tolist() == [0.0] * 6  # readout weights are 0 too
    # Update k can make at most one more weight matrix nonzero, counting back from the readout,
    # so the pass of step k reaches at most the last k−1 hidden layers: all below stay exactly 0.
    for k in range(1, 6):
        g = sim.step().layers.grad_norm
        assert g[: 6 - (k - 1)].tolist() == [0.0] * (7 - k), k
        if k == 2:
            assert g[-1] > 0


def test_deep_sigmoid_vanishes():
    layers = probe(SimConfig(activation="sigmoid", init="normal", init_std=0.01, depth=50, width=128, device="cpu"))
    assert layers.grad_norm[0] < 1e-20 * layers.grad_norm[-1]  # many decades; often exactly 0


def test_grad_norm_is_the_norm_of_dloss_dz():
    cfg = SimConfig(depth=5, width=12, n_samples=128, batch_size=32, normalization="layernorm",
                    architecture="residual", activation="gelu", device="cpu")
    sim = Simulator(cfg)
    snap = sim.probe()
    idx = sim._probe_idx
    trace = Trace()
    loss = nn.functional.cross_entropy(sim.model(sim.x[idx], trace), sim.y[idx])
    grads = torch.autograd.grad(loss, trace.z)
    expected = [float(g.norm()) for g in grads]
    np.testing.assert_allclose(snap.layers.grad_norm, expected, rtol=1e-5)
    np.testing.assert_allclose(snap.layers.preact_std, [float(z.detach().std(unbiased=False)) for z in trace.z], rtol=1e-4)
    assert snap.loss == pytest.approx(float(loss.detach()), rel=1e-6)


def test_residual_adds_input_except_first_layer():
    cfg = SimConfig(architecture="residual", depth=3, width=8, activation="linear", device="cpu", n_samples=64,
                    batch_size=8)
    model = Simulator(cfg).model
    x = torch.randn(5, 2)
    with torch.no_grad():
        h = model.linears[0](x)
        for lin in model.linears[1:]:
            h = h + lin(h)
        torch.testing.assert_close(model(x), model.readout(h))


@pytest.mark.parametrize("norm", ["batchnorm", "layernorm"])
def test_normalization_standardizes_activation_inputs(norm):
    cfg = SimConfig(normalization=norm, depth=3, width=32, init="normal", init_std=3.0, n_samples=256,
                    batch_size=128, device="cpu")
    sim = Simulator(cfg)
    trace = Trace()
    sim.model(sim.x[:128], trace)
    axis = 0 if norm == "batchnorm" else 1  # per unit over the batch, or per example over units
    for z, u in zip(trace.z, trace.u):
        assert float(z.detach().std()) > 2  # large before normalization
        torch.testing.assert_close(u.mean(axis), torch.zeros(u.shape[1 - axis]), atol=1e-4, rtol=0)
        torch.testing.assert_close(u.var(axis, unbiased=False), torch.ones(u.shape[1 - axis]), atol=2e-3, rtol=0)


def test_probe_changes_nothing():
    sim = Simulator(SimConfig(normalization="batchnorm", depth=3, width=8, n_samples=64, batch_size=16, device="cpu"))
    before = {k: v.clone() for k, v in sim.model.state_dict().items()}
    a, b = sim.probe(), sim.probe()
    after = sim.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    np.testing.assert_array_equal(a.layers.grad_norm, b.layers.grad_norm)
    assert a.kind == "probe" and np.isnan(a.layers.update_to_weight).all() and sim.steps_done == 0


def test_same_seed_same_numbers():
    cfg = SimConfig(depth=4, width=16, n_samples=256, batch_size=32, device="cpu", optimizer="adam")
    s1, s2 = Simulator(cfg), Simulator(cfg)
    a, b = s1.step(3), s2.step(3)
    np.testing.assert_array_equal(a.layers.grad_norm, b.layers.grad_norm)
    assert a.loss == b.loss and a.step == b.step == 3
    c = Simulator(cfg.replace(seed=1)).step(3)
    assert c.loss != a.loss


def test_sgd_update_to_weight_is_lr_times_gradient():
    cfg = SimConfig(depth=4, width=16, n_samples=256, batch_size=32, lr=0.1, device="cpu")
    sim = Simulator(cfg)
    before = [w.detach().clone() for w in sim.model.hidden_weights()]
    snap = sim.step()
    L = snap.layers
    # ‖ΔW‖/‖W‖ with W before the step, measured from the weights themselves ...
    measured = [float((w.detach() - b).norm() / b.norm()) for w, b in zip(sim.model.hidden_weights(), before)]
    np.testing.assert_allclose(L.update_to_weight, measured, rtol=1e-5)
    # ... and for plain SGD ΔW = −lr·∇W: the ratio is lr·‖∇W‖/‖W‖ up to float32 rounding of W − lr·∇W
    np.testing.assert_allclose(L.update_to_weight, 0.1 * L.weight_grad_norm / L.weight_norm, rtol=1e-4)
    np.testing.assert_allclose(L.grad_to_weight, L.weight_grad_norm / L.weight_norm, rtol=1e-12)


@pytest.mark.parametrize("steps", [1, 3])  # a snapshot's update, and the cheap steps' records before it
def test_an_update_float32_rounds_away_is_reported_as_applied(steps):
    """lr·‖g‖/‖W‖ far below float32's 2⁻²⁴: W − lr·g rounds back to W, and the ratio says so (0), as
    W after minus W before does, not the lr·‖g‖ that was asked for."""
    cfg = SimConfig(depth=4, width=16, n_samples=256, batch_size=32, lr=1e-30, device="cpu")
    sim = Simulator(cfg)
    before = [w.detach().clone() for w in sim.model.hidden_weights()]
    snap = sim.step(steps)
    assert all(torch.equal(w.detach(), b) for w, b in zip(sim.model.hidden_weights(), before))
    assert (snap.layers.weight_grad_norm > 0).all()  # an update was asked for ...
    assert snap.layers.update_to_weight.tolist() == [0.0] * cfg.depth  # ... and none applied
    assert all(r.update_to_weight.tolist() == [0.0] * cfg.depth for r in sim.trail())


def test_an_update_that_zeroes_the_weights_has_ratio_one():
    """Saturated sigmoids (φ′ = 0 exactly) pass no gradient; weight decay 1 at lr 1 then sets
    W ← W − 1·(0 + W) = 0: ‖ΔW‖/‖W‖ = 1, not 1/0, and the update is not called non-finite."""
    cfg = SimConfig(depth=2, width=4, activation="sigmoid", init="constant", init_std=1000.0, lr=1.0,
                    weight_decay=1.0, dataset="gaussian", input_dim=4, n_samples=16, batch_size=8, device="cpu")
    sim = Simulator(cfg)
    snap = sim.step()
    assert (snap.layers.grad_norm[:-1] == 0).all() and not snap.nonfinite
    assert all(float(w.detach().abs().max()) == 0 for w in sim.model.hidden_weights()[:-1])
    assert snap.layers.update_to_weight[:-1].tolist() == [1.0] * (cfg.depth - 1)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_every_activation_probes_and_trains(activation):
    cfg = SimConfig(activation=activation, depth=3, width=16, n_samples=256, batch_size=32, device="cpu")
    snap = Simulator(cfg).step(2)
    assert not snap.nonfinite and snap.depth == 3
    assert np.all((snap.layers.saturated_frac >= 0) & (snap.layers.saturated_frac <= 1))


def test_saturation_and_dead_units_measured():
    tanh = probe(SimConfig(activation="tanh", init="normal", init_std=1.0, depth=5, width=64, device="cpu"))
    assert tanh.saturated_frac[-1] > 0.5  # std-1 weights at width 64: |u| ≫ 1, tanh flat
    relu = probe(SimConfig(activation="relu", bias_std=0.0, init="kaiming_normal", depth=3, width=64, device="cpu"))
    assert 0.35 < relu.saturated_frac[1] < 0.65  # half of ReLU's inputs are negative: φ′ = 0
    dead = probe(SimConfig(activation="relu", init="normal", init_std=0.001, bias_std=1.0, depth=3, width=64,
                           device="cpu"))
    # biases ~ N(0,1) dominate tiny weights: a unit is dead exactly when its bias is ≤ 0 (about half)
    assert 0.2 < dead.dead_frac[1] < 0.8


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_learns(optimizer):
    cfg = SimConfig(dataset="moons", depth=2, width=32, activation="relu", init="kaiming_normal", n_samples=512,
                    batch_size=512, optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.1, device="cpu")
    sim = Simulator(cfg)
    first = sim.probe().loss
    sim.step(150)
    assert sim.probe().loss < 0.7 * first


def test_clip_by_norm_and_by_value():
    base = SimConfig(init="normal", init_std=0.5, depth=6, width=32, activation="relu", n_samples=256,
                     batch_size=64, device="cpu")
    snap = Simulator(base.replace(clip_mode="norm", clip_threshold=0.5)).step()
    assert snap.grad_norm_total > 0.5 and snap.clipped
    assert snap.grad_norm_clipped == pytest.approx(0.5, rel=1e-4)
    sim = Simulator(base.replace(clip_mode="value", clip_threshold=1e-3))
    sim.model.zero_grad()
    snap = sim.step()
    assert snap.clipped and snap.grad_norm_clipped < snap.grad_norm_total
    # after clip_grad_value_ no gradient entry exceeds the threshold, so ‖g‖ ≤ thr·√(#params)
    n_params = sum(p.numel() for p in sim.model.parameters())
    assert snap.grad_norm_clipped <= 1e-3 * math.sqrt(n_params) * (1 + 1e-6)
    unclipped = Simulator(base.replace(clip_mode="norm", clip_threshold=1e9)).step()
    assert not unclipped.clipped and unclipped.grad_norm_clipped == unclipped.grad_norm_total


def test_exploding_network_is_flagged_not_crashing():
    cfg = SimConfig(activation="relu", init="normal", init_std=1.0, depth=50, lr=1.0, device="cpu")
    sim = Simulator(cfg)
    snap = sim.step(5)
    assert snap.nonfinite and snap.nonfinite_stage == "forward" and snap.step == 1
    # relu with weight variance 1 multiplies the signal's variance by width/2 = 64 a layer:
    # float32 (max 3.4e38) overflows after about log(3.4e38)/log(8) ≈ 43 layers
    assert 38 <= snap.nonfinite_layer <= 46
    L = snap.layers
    assert L.act_nonfinite[snap.nonfinite_layer - 1] > 0 and L.act_nonfinite[: snap.nonfinite_layer - 1].sum() == 0
    assert np.isfinite(L.act_hist_counts).all() and np.isfinite(L.act_hist_edges).all()
    assert sim.steps_done == 0  # the bad update was not applied


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_every_dataset(name):
    from core.data import DATASETS, input_dim_for
    blobs = Path(__file__).resolve().parents[2] / "resources" / "examples" / "blobs.csv"  # for 'file'
    cfg = SimConfig(dataset=name, n_samples=600, input_dim=5, data_file=str(blobs))
    ds = DATASETS[name](cfg, torch.Generator().manual_seed(0))
    assert ds.x.shape == (600, input_dim_for(cfg)) and ds.x.dtype == torch.float32
    assert set(ds.y.unique().tolist()) == set(range(ds.n_classes))
    if name != "gaussian":
        torch.testing.assert_close(ds.x.mean(0), torch.zeros(ds.input_dim), atol=1e-5, rtol=0)
    counts = torch.bincount(ds.y)
    assert counts.min() > 0.3 * 600 / ds.n_classes  # no class is nearly missing


def test_digits_are_the_real_uci_set():
    from core.data import load_digits_array
    x, y = load_digits_array()
    assert x.shape == (1797, 64) and x.min() == 0 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    snap = Simulator(SimConfig(dataset="digits", depth=2, width=32, device="cpu")).probe()
    assert snap.loss == pytest.approx(math.log(10), rel=0.25)  # untrained: near chance over 10 classes
    assert snap.accuracy < 0.3


def test_device_choice():
    from core import resolve_device
    dev, why = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu") and why
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device: 'cuda' was requested"):
            Simulator(SimConfig(device="cuda", depth=1, width=2))


def test_snapshot_is_immutable_numpy():
    snap = Simulator(SimConfig(depth=2, width=4, n_samples=64, batch_size=8, device="cpu")).step()
    with pytest.raises(ValueError):
        snap.layers.grad_norm[0] = 1.0
    with pytest.raises(AttributeError):
        snap.loss = 0.0
    assert all(isinstance(getattr(snap.layers, f), np.ndarray) for f in snap.layers.__dataclass_fields__)


def test_clip_by_norm_matches_torch_clip_grad_norm():
    cfg = SimConfig(depth=4, width=16, n_samples=64, batch_size=32, clip_mode="norm", clip_threshold=0.05, device="cpu")
    sim = Simulator(cfg)
    reference = Simulator(cfg.replace(clip_mode="none"))
    sim.step(), reference.step()
    # both took one step on the same batch from the same weights, one clipped and one not
    before = [p.detach().clone() for p in Simulator(cfg).model.parameters()]
    moved = [float((p.detach() - b).norm()) for p, b in zip(sim.model.parameters(), before)]
    free = [float((p.detach() - b).norm()) for p, b in zip(reference.model.parameters(), before)]
    # SGD: every parameter's step shrinks by the same factor threshold/‖g‖ (torch's rule), to float32 rounding
    ratios = np.array(moved) / np.array(free)
    assert np.allclose(ratios, ratios[0], rtol=1e-4) and ratios[0] < 1


def test_norm_overflowing_float32_is_computed_in_float64():
    big = torch.full((4, 4), 1e38)  # every entry finite; ‖·‖ = 4e38 > float32's 3.4e38
    assert np.isinf(float(torch.linalg.vector_norm(big)))
    assert norms([big, torch.ones(3)]).tolist() == pytest.approx([4e38, math.sqrt(3)], rel=1e-6)


def test_step_n_keeps_the_scalars_of_the_steps_it_does_not_instrument():
    cfg = SimConfig(depth=4, width=16, n_samples=256, batch_size=32, clip_mode="norm", clip_threshold=0.3,
                    device="cpu")
    chunked, single = Simulator(cfg), Simulator(cfg)
    snap = chunked.step(5)
    trail = chunked.trail()
    singles = [single.step() for _ in range(5)]
    assert [r.step for r in trail] == [1, 2, 3, 4] and snap.step == 5
    # the same forward and backward, with and without the statistics: the same numbers
    assert [r.loss for r in trail] == pytest.approx([s.loss for s in singles[:4]], rel=1e-6)
    assert [r.accuracy for r in trail] == [s.accuracy for s in singles[:4]]
    assert [r.clipped for r in trail] == [s.clipped for s in singles[:4]]
    assert any(r.clipped for r in trail) and not all(r.clipped for r in trail)
    chunked.step()
    assert chunked.trail() == ()  # only the last call's steps


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_step_n_records_every_steps_layer_gradients_and_update_ratio(optimizer):
    """The per-step records between snapshots hold the same ‖∂L/∂z‖ and ‖ΔW‖/‖W‖ per layer as a
    snapshot of that step (SGD and momentum from the applied update, Adam from W before and after)."""
    cfg = SimConfig(depth=4, width=16, n_samples=256, batch_size=32, optimizer=optimizer, lr=0.05,
                    clip_mode="norm", clip_threshold=0.3, device="cpu")
    chunked, single = Simulator(cfg), Simulator(cfg)
    chunked.step(5)
    trail = chunked.trail()
    singles = [single.step() for _ in range(4)]
    for record, snap in zip(trail, singles):
        assert record.step == snap.step
        np.testing.assert_allclose(record.grad_norm, snap.layers.grad_norm, rtol=1e-5)
        np.testing.assert_allclose(record.update_to_weight, snap.layers.update_to_weight, rtol=1e-4)
    assert all((r.update_to_weight > 0).all() for r in trail)


_EXAMPLE_MODEL = Path(__file__).resolve().parents[2] / "resources" / "examples" / "small_cnn.py"
_SEQUENCES = dict(dataset="first_token", seq_len=6, n_samples=64, batch_size=16)


@pytest.mark.parametrize("changes", [
    dict(optimizer="sgd"), dict(optimizer="momentum", clip_mode="norm", clip_threshold=0.3),
    dict(optimizer="adam", normalization="batchnorm"), dict(grad_accum=2, warmup_steps=3),
    dict(architecture="residual", clip_mode="value", clip_threshold=0.01),
    dict(architecture="rnn", **_SEQUENCES), dict(architecture="lstm", grad_accum=2, **_SEQUENCES),
    dict(architecture="transformer", heads=4, **_SEQUENCES),
    dict(architecture="cnn", dataset="stripes", width=6, n_samples=64, batch_size=16),
    dict(architecture="autoencoder", dataset="digits", width=8, n_samples=128, batch_size=16),
    dict(architecture="user", model=f"{_EXAMPLE_MODEL}:make", dataset="digits", activation="relu", n_samples=128),
])
def test_step_n_without_a_trail_trains_exactly_as_with_it(changes):
    """trail=False (the CLI's and the grid's steps) skips what only the trail reads, not the training:
    the same parameters and the same final snapshot, bit for bit, for every architecture; it records
    nothing."""
    cfg = SimConfig(**{**dict(depth=4, width=16, n_samples=256, batch_size=32, lr=0.05, device="cpu"), **changes})
    with_trail, without = Simulator(cfg), Simulator(cfg)
    a, b = with_trail.step(6), without.step(6, trail=False)
    assert len(with_trail.trail()) == 5 and without.trail() == ()
    assert a.step == b.step == 6 and not b.nonfinite
    np.testing.assert_array_equal([a.loss, a.accuracy], [b.loss, b.accuracy])  # (NaN accuracy: a reconstruction)
    for name in ("grad_norm", "weight_norm", "update_to_weight", "act_std", "preact_mean"):
        np.testing.assert_array_equal(getattr(a.layers, name), getattr(b.layers, name))
    for p, q in zip(with_trail.model.parameters(), without.model.parameters()):
        assert torch.equal(p, q)
    assert without.timing.cheap_step is not None and without.timing.cheap_step > 0


def test_sgd_and_momentum_update_ratio_is_the_measured_weight_change():
    """lr·‖g‖ (SGD) and lr·‖p‖ (momentum) against W after minus W before, measured here."""
    for optimizer in ("sgd", "momentum"):
        cfg = SimConfig(depth=3, width=16, n_samples=256, batch_size=32, optimizer=optimizer, lr=0.1, device="cpu")
        sim = Simulator(cfg)
        sim.step(3)
        before = [w.detach().clone() for w in sim.model.hidden_weights()]
        snap = sim.step()
        measured = [float((w.detach() - b).norm() / b.norm()) for w, b in zip(sim.model.hidden_weights(), before)]
        np.testing.assert_allclose(snap.layers.update_to_weight, measured, rtol=1e-4)


def test_step_n_ends_early_when_asked_to_stop():
    cfg = SimConfig(depth=3, width=8, n_samples=128, batch_size=16, device="cpu")
    sim, asked = Simulator(cfg), []

    def stop() -> bool:  # say "stop" at the third question
        asked.append(sim.steps_done)
        return len(asked) == 3

    snap = sim.step(100, stop)
    # asked before each uninstrumented step; after the "stop", one last (instrumented) step
    assert asked == [0, 1, 2] and snap.step == sim.steps_done == 3 and len(sim.trail()) == 2
    assert Simulator(cfg).step(3).loss == snap.loss  # the same three steps as an uninterrupted step(3)
