import math

import pytest
import torch

from core import SimConfig, Simulator
from core.config import INIT_NAMES
from core.inits import INITS, expected_weight_std


def test_registry_covers_contract():
    assert tuple(INITS) == INIT_NAMES


def weights(cfg):
    sim = Simulator(cfg)
    return [lin.weight.detach().double() for lin in sim.model.linears], sim


@pytest.mark.parametrize("init", INIT_NAMES)
@pytest.mark.parametrize("gain,mode", [(1.0, "fan_in"), (1.7, "fan_out")])
def test_weight_std_matches_formula(init, gain, mode):
    # input_dim 100 -> width 300: fan_in and fan_out differ, so every formula is told apart.
    cfg = SimConfig(dataset="gaussian", input_dim=100, width=300, depth=2, init=init, init_std=0.2,
                    init_gain=gain, init_mode=mode, n_samples=64, batch_size=8, device="cpu")
    ws, _ = weights(cfg)
    for w in ws:
        fan_out, fan_in = w.shape
        expected = expected_weight_std(cfg, fan_in, fan_out)
        rms = float(w.square().mean().sqrt())
        # the sample RMS of n i.i.d. draws has relative sd ≈ 1/√(2n) (≤ 0.23 % here); allow 6 sd
        assert rms == pytest.approx(expected, rel=6 / math.sqrt(2 * w.numel()), abs=1e-12), (init, w.shape)


def test_orthogonal_rows_are_orthonormal_times_gain():
    ws, _ = weights(SimConfig(width=64, depth=3, init="orthogonal", init_gain=2.0, device="cpu"))
    w = ws[1]
    torch.testing.assert_close(w @ w.T, 4.0 * torch.eye(64, dtype=w.dtype), atol=1e-5, rtol=0)


def test_constant_makes_every_unit_identical():
    ws, _ = weights(SimConfig(width=8, depth=3, init="constant", init_std=0.3, device="cpu"))
    assert all(bool((w == w.flatten()[0]).all()) and float(w[0, 0]) == pytest.approx(0.3) for w in ws)


def test_bias_std():
    _, sim = weights(SimConfig(width=512, depth=4, bias_std=0.5, device="cpu"))
    b = torch.cat([lin.bias.detach().double() for lin in sim.model.linears])
    assert float(b.std()) == pytest.approx(0.5, rel=6 / math.sqrt(2 * b.numel()))
    _, sim0 = weights(SimConfig(width=16, depth=2, device="cpu"))
    assert all(float(lin.bias.detach().abs().max()) == 0 for lin in sim0.model.linears)
