"""The architecture registry, the instrumented-network contract, the Engine protocol and the
Simulator's architecture hooks (reconstruction, CPU fallback, probe inputs)."""
import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from core import ConfigError, Engine, SimConfig, Simulator, cpu_fallback_reason
from core import config as core_config
from core.architectures import ARCHITECTURES, Architecture, get_architecture
from core.architectures.mlp import build_mlp
from core.compare import Comparer, ConfigPair
from core.trace import InstrumentedNetwork, Trace

SEQ = dict(dataset="first_token", depth=4, width=8, n_samples=64, batch_size=8, device="cpu")
CONFIGS = {
    "mlp": SimConfig(architecture="mlp", depth=3, width=8, n_samples=64, batch_size=8, device="cpu"),
    "residual": SimConfig(architecture="residual", depth=3, width=8, n_samples=64, batch_size=8, device="cpu"),
    "rnn": SimConfig(architecture="rnn", **SEQ),
    "lstm": SimConfig(architecture="lstm", **SEQ),
}


def test_the_config_validation_list_is_the_registry():
    assert core_config.ARCHITECTURES == tuple(ARCHITECTURES)
    assert all(arch.name == name for name, arch in ARCHITECTURES.items())
    assert tuple(n for n, a in ARCHITECTURES.items() if a.recurrent) == core_config.RECURRENT_ARCHITECTURES


def test_nouns_and_fields():
    assert {n: a.noun for n, a in ARCHITECTURES.items()} == {
        "mlp": "layer", "residual": "layer", "rnn": "time step", "lstm": "time step",
        "cnn": "conv layer", "residual_cnn": "conv layer", "transformer": "block", "autoencoder": "layer",
        "user": "layer", "user_autoencoder": "layer"}
    names = {f.name for f in dataclasses.fields(SimConfig)}
    for arch in ARCHITECTURES.values():
        assert arch.uses <= names, arch.name
        assert arch.reconstruct == (arch.name in ("autoencoder", "user_autoencoder"))
        for field in arch.uses:
            assert arch.why_unused(field) is None
    assert get_architecture("lstm").why_unused("forget_bias") is None
    for name in ("mlp", "residual", "rnn"):
        reason = get_architecture(name).why_unused("forget_bias")
        assert "forget" in reason and "no gates" in reason


def test_unknown_architecture_names_the_field_and_the_valid_names():
    with pytest.raises(ConfigError, match="^architecture: unknown value 'gru'; allowed: mlp, residual, rnn, lstm, "
                                         "cnn, residual_cnn, transformer, autoencoder, user, user_autoencoder$"):
        get_architecture("gru")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_build_gives_an_instrumented_network_with_one_probe_point_per_layer(name):
    cfg = CONFIGS[name]
    sim = Simulator(cfg)
    net = sim.model
    assert isinstance(net, InstrumentedNetwork) and isinstance(net, nn.Module)
    x = sim.probe_inputs()
    trace = Trace()
    out = net(x, trace)
    assert out.shape == (len(x), sim.n_classes)
    assert len(trace.z) == len(trace.u) == len(trace.a) == len(trace.h) == cfg.depth
    derivative = net.abs_derivative(trace)
    if name == "lstm":  # sigmoid gates beside φ: [T, B, 4·W]
        assert derivative.shape == (cfg.depth, len(x), 4 * cfg.width)
    else:  # the configured activation: the Simulator's own path
        assert derivative is None


def test_probe_inputs_are_the_probe_batch():
    sim = Simulator(CONFIGS["mlp"])
    x = sim.probe_inputs()
    torch.testing.assert_close(x, sim.x[sim._probe_idx], rtol=0, atol=0)
    assert x.shape == (CONFIGS["mlp"].batch_size, sim.x.shape[1])
    snap = sim.probe()
    loss = nn.functional.cross_entropy(sim.model(x), sim.y[sim._probe_idx]).item()
    assert snap.loss == pytest.approx(loss, rel=1e-6)


def _build_autoencoder(cfg, input_shape, n_classes, generator):
    """A throwaway reconstruction network: an MLP whose readout has as many outputs as inputs."""
    (d,) = input_shape
    return build_mlp(cfg, d, d, generator)


def test_a_reconstruct_architecture_trains_on_the_mse_to_its_input_and_has_no_accuracy(monkeypatch):
    mlp = get_architecture("mlp")
    monkeypatch.setitem(ARCHITECTURES, "mlp", Architecture("mlp", "layer", mlp.uses, _build_autoencoder,
                                                           reconstruct=True))
    cfg = SimConfig(dataset="digits", depth=3, width=16, n_samples=128, batch_size=16, lr=0.01, device="cpu")
    sim = Simulator(cfg)
    x = sim.probe_inputs()
    assert sim.model.readout.out_features == x.shape[1] == 64
    snap = sim.probe()
    expected = nn.functional.mse_loss(sim.model(x), x)  # independent: torch's MSE of the output to the input
    assert snap.loss == pytest.approx(expected.item(), rel=1e-6)
    assert math.isnan(snap.accuracy)
    # ∂L/∂z of the last hidden layer against autograd of the same MSE
    trace = Trace()
    nn.functional.mse_loss(sim.model(x, trace), x).backward()
    np.testing.assert_allclose(snap.layers.grad_norm[-1], float(trace.z[-1].grad.norm()), rtol=1e-5)
    sim.model.zero_grad(set_to_none=True)
    step = sim.step(3)
    assert step.step == 3 and not step.nonfinite and math.isnan(step.accuracy)
    assert all(math.isnan(r.accuracy) and math.isfinite(r.loss) for r in sim.trail())


def test_the_simulator_builds_what_the_registry_says(monkeypatch):
    built = []
    lstm = get_architecture("lstm")

    def spy(cfg, input_shape, n_classes, generator):
        built.append(input_shape)
        return lstm.build(cfg, input_shape, n_classes, generator)

    monkeypatch.setitem(ARCHITECTURES, "lstm", dataclasses.replace(lstm, build=spy))
    Simulator(CONFIGS["lstm"])
    assert built == [(SEQ["depth"], 8)]  # one example of first_token: [T, 8 one-hot symbols]


def test_simulator_and_comparer_are_engines():
    sim = Simulator(CONFIGS["mlp"])
    pair = Comparer(ConfigPair(CONFIGS["mlp"], CONFIGS["mlp"].replace(activation="relu")))
    assert isinstance(sim, Engine) and isinstance(pair, Engine)
    a, b = pair.probe_inputs()
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # shared data and probe batch
    torch.testing.assert_close(a, sim.probe_inputs(), rtol=0, atol=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where 'cuda' is refused")
def test_an_engine_falls_back_to_the_cpu_and_says_why():
    cfg = CONFIGS["mlp"].replace(device="cuda")
    with pytest.raises(ConfigError) as info:
        Simulator(cfg)
    exc = info.value
    sim = Simulator(cfg, cpu_after=exc)
    assert sim.device.type == "cpu" and sim.config == cfg.replace(device="cpu")
    why = "this PyTorch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
    assert sim.device_reason == cpu_fallback_reason(exc) == f"CPU (fallback: 'cuda' was requested but {why})"
    # the same numbers as a Simulator configured for the CPU
    assert sim.probe().loss == Simulator(cfg.replace(device="cpu")).probe().loss
    pair = Comparer(ConfigPair(cfg, cfg.replace(seed=1)), cpu_after=exc)
    assert pair.device == "cpu" and pair.device_reason == sim.device_reason
    assert pair.pair.a.device == pair.pair.b.device == "cpu"
