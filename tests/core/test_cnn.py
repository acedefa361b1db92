"""The cnn and residual_cnn architectures: shapes, numbers against plain functional torch, the
conv init's fans, per-layer statistics over whole feature maps, config fields, the exported
script, and the CNN scenarios' claims."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import ConfigError, SimConfig, Simulator
from core.architectures.cnn import ARCHITECTURE, RESIDUAL_ARCHITECTURE, build_cnn, pooled_after
from core.data import DATASETS
from core.inits import expected_weight_std
from core.scenarios import load_scenario
from core.stats import HIST_MAX_VALUES
from core.trace import Trace

from tests.helpers import CNN_SCENARIOS, EXPORT_STEPS as STEPS, quoted
from tests.helpers import exported_and_simulated_losses
from tests.helpers import THREADS, torch_threads

# the scenarios these tests check (test_scenarios.py verifies every scenario is covered somewhere)
COVERED = CNN_SCENARIOS
LN4 = math.log(4.0)  # cross-entropy of a uniform guess among the 4 stripe orientations



def cfg(**changes) -> SimConfig:
    base = dict(architecture="cnn", dataset="stripes", depth=4, width=6, n_samples=64, batch_size=16, device="cpu")
    return SimConfig(**{**base, **changes})


def build(c: SimConfig):
    data = DATASETS[c.dataset](c, torch.Generator().manual_seed(c.seed))
    return build_cnn(c, tuple(data.x.shape[1:]), data.n_classes, torch.Generator().manual_seed(1)), data


# --- the network -----------------------------------------------------------------------------
def test_feature_maps_keep_their_size_and_pooling_halves_them():
    c = cfg(depth=5, pool_every=2)
    net, data = build(c)
    trace = Trace()
    assert net(data.x[:3], trace).shape == (3, 4)
    assert [tuple(t.shape) for t in trace.z] == [(3, 6, 16, 16)] * 2 + [(3, 6, 8, 8)] * 2 + [(3, 6, 4, 4)]
    assert pooled_after(c, 16) == [False, True, False, True, False]
    # an 8×8 digit pooled after every layer: 4, 2, 1, then no more pooling
    assert pooled_after(cfg(depth=5, pool_every=1), 8) == [True, True, True, False, False]


def reference_forward(net, c: SimConfig, x: torch.Tensor):
    """The same network written with torch.nn.functional and copies of its weights:
    (logits, kernels that collect gradients, the conv outputs z)."""
    kernels = [conv.weight.detach().clone().requires_grad_() for conv in net.convs]
    h, zs = x, []
    for i, (k, conv) in enumerate(zip(kernels, net.convs)):
        z = F.conv2d(h, k, conv.bias.detach(), padding=1)
        z.retain_grad()
        zs.append(z)
        if c.normalization == "batchnorm":
            u = F.batch_norm(z, None, None, training=True)  # gain 1, shift 0 at initialization
        elif c.normalization == "layernorm":
            u = F.group_norm(z, 1)                          # one group: per example over C, H, W
        else:
            u = z
        a = torch.tanh(u)
        h = h + a if c.architecture == "residual_cnn" and i > 0 else a
        if c.pool_every and (i + 1) % c.pool_every == 0 and h.shape[-1] >= 2:
            h = F.max_pool2d(h, 2)
    logits = F.linear(h.mean((2, 3)), net.readout.weight.detach(), net.readout.bias.detach())
    return logits, kernels, zs


@pytest.mark.parametrize("arch, norm, pool", [("cnn", "none", 0), ("residual_cnn", "batchnorm", 2),
                                              ("cnn", "layernorm", 1), ("residual_cnn", "layernorm", 3)])
def test_logits_and_gradients_match_plain_torch(arch, norm, pool):
    """The same float32 operations in the same order: equal to float32 rounding (assert_close's
    float32 defaults, rtol 1.3e-6 / atol 1e-5)."""
    c = cfg(architecture=arch, normalization=norm, pool_every=pool, activation="tanh", bias_std=0.1)
    net, data = build(c)
    x, y = data.x[:8], data.y[:8]
    trace = Trace()
    logits = net(x, trace)
    F.cross_entropy(logits, y).backward()
    ref, kernels, zs = reference_forward(net, c, x)
    F.cross_entropy(ref, y).backward()
    torch.testing.assert_close(logits, ref)
    for conv, k in zip(net.convs, kernels):
        torch.testing.assert_close(conv.weight.grad, k.grad)
    for t, z in zip(trace.z, zs):
        torch.testing.assert_close(t.grad, z.grad)


@pytest.mark.parametrize("init", ["kaiming_normal", "lecun_normal", "xavier_normal", "orthogonal"])
def test_kernels_are_initialized_with_the_fans_of_a_convolution(init):
    """fan_in = C_in·3·3 and fan_out = C_out·3·3 (torch's convention for a kernel)."""
    c = cfg(init=init, width=64, depth=2)
    w = build(c)[0].convs[1].weight.detach()  # [64, 64, 3, 3]
    want = expected_weight_std(c, 64 * 9, 64 * 9)
    # the std of n independent draws has a relative standard error of 1/√(2n) (0.37 % here): 5 of them
    assert float(w.double().pow(2).mean().sqrt()) == pytest.approx(want, rel=5 / math.sqrt(2 * w.numel()))


def test_layernorm_normalizes_each_example_over_channels_and_positions():
    net, data = build(cfg(normalization="layernorm"))
    trace = Trace()
    net(data.x[:5], trace)
    for u in trace.u:
        flat = u.detach().double().flatten(1)
        assert flat.mean(1).abs().max() < 1e-6
        assert flat.std(1, unbiased=False).sub(1).abs().max() < 1e-3  # eps 1e-5 against a variance ~1e-2+


def test_simulator_statistics_cover_every_value_of_the_feature_maps():
    c = cfg(depth=3, pool_every=1, normalization="batchnorm", dataset="digits")
    sim = Simulator(c)
    assert tuple(sim.x.shape[1:]) == (1, 8, 8)
    snap = sim.probe()
    idx = sim._probe_idx
    trace = Trace()
    F.cross_entropy(sim.model(sim.x[idx], trace), sim.y[idx]).backward()
    for layer, (z, a) in enumerate(zip(trace.z, trace.a)):
        z64, a64 = z.detach().double(), a.detach().double()
        assert snap.layers.preact_std[layer] == pytest.approx(float(z64.std(unbiased=False)), rel=1e-4)
        assert snap.layers.act_mean[layer] == pytest.approx(float(a64.mean()), abs=1e-6)
        assert snap.layers.grad_norm[layer] == pytest.approx(float(z.grad.double().norm()), rel=1e-4)
        # the histogram reads whole rows (examples), ⌈HIST_MAX_VALUES / values per example⌉ of them
        rows = min(len(idx), -(-HIST_MAX_VALUES // a[0].numel()))
        assert snap.layers.act_hist_counts[layer].sum() == rows * a[0].numel()
    want = [float(conv.weight.grad.double().norm()) for conv in sim.model.convs]
    assert snap.layers.weight_grad_norm == pytest.approx(want, rel=1e-4)
    assert np.isnan(snap.layers.grad_noise).all()  # not defined for a convolution (see core/architectures/cnn.py)


def test_both_clip_modes_act_on_the_cnn():
    by_norm = Simulator(cfg(clip_mode="norm", clip_threshold=1e-3)).step()
    assert by_norm.clipped and by_norm.grad_norm_clipped == pytest.approx(1e-3, rel=1e-3)
    by_value = Simulator(cfg(clip_mode="value", clip_threshold=1e-6)).step()
    assert by_value.clipped and by_value.grad_norm_clipped < by_value.grad_norm_total


# --- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize("changes, field, text", [
    (dict(dataset="spirals"), "dataset", "'cnn' allowed: 'digits' (1×8×8), 'stripes' (1×16×16) or 'file' (an .npz of images)"),
    (dict(pool_every=-1), "pool_every", "-1 is out of range; allowed 0..1000"),
    (dict(architecture="residual_cnn", dataset="first_token"), "dataset", "is not an image data set"),
])
def test_bad_fields_name_the_field_and_what_is_allowed(changes, field, text):
    with pytest.raises(ConfigError) as err:
        cfg(**changes)
    assert err.value.field == field and text in str(err.value)


def test_pool_every_round_trips_and_is_set_from_the_cli():
    c = cfg().with_overrides(["pool_every=3", "architecture=residual_cnn"])
    assert (c.pool_every, c.architecture) == (3, "residual_cnn")
    assert SimConfig.from_json(c.to_json()) == c
    with pytest.raises(ConfigError, match="pool_every: expected an integer"):
        SimConfig.from_dict({**c.to_dict(), "pool_every": "two"})


def test_declared_fields():
    assert ARCHITECTURE.noun == RESIDUAL_ARCHITECTURE.noun == "conv layer"
    assert ARCHITECTURE.datasets == ("digits", "stripes", "file") and not ARCHITECTURE.reconstruct
    assert "pool_every" in ARCHITECTURE.uses and ARCHITECTURE.why_unused("pool_every") is None
    assert "norm_position" in ARCHITECTURE.why_unused("norm_position")


@pytest.mark.parametrize("overrides", [
    dict(dataset="digits", activation="relu", init="lecun_normal"),
    dict(architecture="residual_cnn", normalization="batchnorm", pool_every=2, optimizer="adam", lr=0.01,
         clip_mode="norm", clip_threshold=0.5),
    dict(normalization="layernorm", pool_every=1, activation="shifted_relu", clip_mode="value", clip_threshold=0.01),
], ids=["digits", "residual-bn-pool", "layernorm-pool"])
def test_exported_script_matches_the_simulator(tmp_path, monkeypatch, capsys, overrides):
    """As in test_export_script: the same float32 kernels in the same order, rel 1e-5."""
    c = cfg(**{**dict(depth=4, width=12, n_samples=256, batch_size=32), **overrides})
    got, want, _ = exported_and_simulated_losses(c, tmp_path / "cnn.py", monkeypatch, capsys)
    assert got == pytest.approx(want, rel=1e-5) and len(set(want)) == STEPS


# --- the scenarios -----------------------------------------------------------------------------
def run_scenario(name: str, threads: int | None = None):
    """(probe at initialization, final snapshot, every step's batch loss), on `threads` torch threads
    (None: the module's count, see conftest)."""
    sc = load_scenario(name)
    with torch_threads(threads if threads is not None else torch.get_num_threads()):
        sim = Simulator(sc.config.replace(device="cpu"))
        probe = sim.probe()
        losses = []
        for _ in range(sc.steps // 10):
            snap = sim.step(10)
            losses += [r.loss for r in sim.trail()] + [snap.loss]
    return probe, snap, np.array(losses)


def test_cnn_plain_vanishing():
    probe, snap, losses = run_scenario("cnn_plain_vanishing")
    g, act = probe.layers.grad_norm, probe.layers.act_std
    assert quoted(g[-1], 0.11, 2) and quoted(g[0], 8e-9) and quoted(g[0] / g[-1], 7e-8)
    # each conv at gain 0.5 multiplies the variance by ≈ 0.25 (tanh ≈ identity near 0): ≈ ×0.5 per layer
    # backward, and the pooling takes a little more; quoted as "about ×0.4", between 0.35 and 0.45
    per_layer = (g[0] / g[-1]) ** (1 / (len(g) - 1))
    assert 0.35 < per_layer < 0.45 and np.all(np.diff(np.log10(g)) > 0)  # a straight line, falling every layer
    assert quoted(act[0], 0.24, 2) and quoted(act[-1], 3e-8)
    # nothing is learned: every 10-step mean of the batch loss is ln 4 to within 0.02
    assert np.abs(losses.reshape(-1, 10).mean(1) - LN4).max() < 0.02
    assert snap.layers.grad_norm[0] / snap.layers.grad_norm[-1] < 1e-6  # still vanishing at the end
    # after the 150 steps: "still 0.10 and 7e-9"; the activations "still fall to ≈ 7e-5 at layer 13" and the
    # last layers' learned biases "bring it back to ≈ 0.008 at layer 20"
    g, act = snap.layers.grad_norm, snap.layers.act_std
    assert quoted(g[-1], 0.10, 2) and quoted(g[0], 7e-9)
    assert act.argmin() + 1 == 13 and quoted(act.min(), 7e-5) and quoted(act[-1], 0.008)


@pytest.mark.parametrize("threads", THREADS)
def test_cnn_residual_trains(threads):
    """Checked at 1, 2 and 3 threads. Mean of the last 50 losses 0.0102, 0.00085 and 0.00078; after the steps
    ‖∂L/∂z‖ 2.2e-4–4.3e-3, 8.2e-5–1.1e-3 and 5.0e-5–5.8e-3, layer 1 5.7×, 7.2× and 11.6× layer 20; 3, 2 and 4
    rising 10-step means."""
    probe, snap, losses = run_scenario("cnn_residual_trains", threads)
    g = probe.layers.grad_norm
    assert quoted(g[-1], 0.11, 2) and quoted(g[0], 0.52, 2)
    assert np.all(g[:-3] > g[1:-2])  # rising toward layer 1 (the last layers are within sampling of each other)
    # "0.01 or less (mean of the last 50 steps: 0.001–0.01)", each end to its one digit
    assert quoted(probe.loss, 2.6, 2) and 0.0005 <= losses[-50:].mean() < 0.015
    bumps = np.diff(losses.reshape(-1, 10).mean(1)) > 0
    assert bumps.sum() >= 2 and snap.accuracy == 1.0
    # "3.3 on the first step's batch, then about 1.4–1.5 for some 20 steps": their mean in that band, each
    # batch's loss within ±0.25 of it (a batch of 32: measured 1.31–1.66)
    plateau = losses[1:20]
    assert quoted(losses[0], 3.3, 2) and 1.4 <= plateau.mean() < 1.5 and np.abs(plateau - plateau.mean()).max() < 0.25
    # after the 150 steps: "between 5e-5 and 6e-3, still largest at layer 1 (6–12× layer 20's)", each end to its
    # last digit
    g = snap.layers.grad_norm
    assert 4.5e-5 <= g.min() and g.max() < 6.5e-3 and g.argmax() == 0 and 5.5 <= g[0] / g[-1] < 12.5


@pytest.mark.parametrize("threads", THREADS)
def test_cnn_batchnorm_trains(threads):
    """Checked at 1, 2 and 3 threads. Mean of the last 50 losses 0.485, 0.387, 0.262; after the steps the std
    0.590–0.701, 0.586–0.712, 0.579–0.712; ‖∂L/∂z‖ 0.0085–0.041, 0.050–0.139, 0.084–0.340 (largest over smallest
    4.8, 2.8, 4.0), layer 1 0.46×, 1.7×, 1.4× layer 20."""
    probe, snap, losses = run_scenario("cnn_batchnorm_trains", threads)
    act = probe.layers.act_std
    assert 0.615 <= act.min() and act.max() < 0.655  # quoted as 0.62–0.65
    g = probe.layers.grad_norm
    assert quoted(g[-1], 0.34, 2) and quoted(g[0], 5.2, 2) and 14.5 <= g[0] / g[-1] < 15.5
    # "from 1.4 in the first 10 steps to 0.25–0.5 over the last 50", each end to its last digit
    assert quoted(losses[:10].mean(), 1.4, 2) and 0.245 <= losses[-50:].mean() < 0.55
    # after the 150 steps: activations' std "0.58–0.71"; gradients "shrinks in every layer", "within 5× from layer
    # 1 to layer 20", "between 0.008 and 0.4", "layer 1 0.5–1.7× layer 20"
    act, g = snap.layers.act_std, snap.layers.grad_norm
    assert 0.575 <= act.min() and act.max() < 0.715
    assert np.all(g < probe.layers.grad_norm) and g.max() / g.min() < 5
    assert 0.0075 <= g.min() and g.max() < 0.45 and 0.45 <= g[0] / g[-1] < 1.75


@pytest.mark.parametrize("changes", [dict(architecture="residual_cnn", dataset="stripes", normalization="batchnorm"),
                                     dict(architecture="transformer", dataset="first_token", norm_position="pre"),
                                     dict(architecture="transformer", dataset="adding", norm_position="post"),
                                     dict(architecture="autoencoder", dataset="digits")],
                         ids=["residual_cnn", "transformer-pre", "transformer-post", "autoencoder"])
def test_memory_estimate_counts_the_new_networks_parameters_and_data(changes):
    from core.memory import estimate
    c = cfg(**{**dict(depth=4, width=16), **changes})
    sim = Simulator(c)
    est = estimate(c)
    assert est.gradients == 4 * sum(p.numel() for p in sim.model.parameters())
    held = {t.data_ptr(): t for t in (sim.x, sim.y)}.values()  # a reconstruction's targets y are x itself
    assert est.data == sum(t.numel() * t.element_size() for t in held)


@pytest.mark.parametrize("arch, dataset", [("cnn", "digits"), ("residual_cnn", "stripes"),
                                           ("transformer", "majority"), ("autoencoder", "digits")])
def test_theory_and_jacobian_views_say_why_they_do_not_apply(arch, dataset):
    from core.jacobian import NO_JACOBIAN, check_supported
    from core.theory import not_applicable
    c = SimConfig(architecture=arch, dataset=dataset)
    assert not_applicable(c).startswith(f"no mean-field prediction for '{arch}': ")
    if arch == "autoencoder":  # its hidden layers are a residual MLP's: J is computed (test_sweep_jacobian)
        check_supported(c)
        return
    with pytest.raises(ConfigError) as err:
        check_supported(c)
    assert err.value.field == "architecture"
    assert str(err.value) == ("architecture: the Jacobian spectrum is computed for 'mlp', 'residual' and "
                              f"'autoencoder', not for '{arch}': {NO_JACOBIAN[arch]}")
