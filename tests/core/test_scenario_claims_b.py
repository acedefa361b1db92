"""More of the numbers the scenario texts name, read off the screen after each scenario's own steps.

The runs are shared with test_scenario_claims.py (its module cache): the same probe before
training, every step's snapshot and the probe after, at the scenario's own seed 0.
"""
from __future__ import annotations

import math

import numpy as np

from tests.core.test_scenario_claims import losses, ratio, run


def test_plain_deep_stalls_gradient_reaches_layer_1_before_and_after():
    r = run("plain_deep_stalls")
    # "≈ 0.3× at the probe, and about as much as layer 30 (≈ 0.8×) after the 120 steps"
    # (measured 0.27 and 0.79; seeds 0-2: 0.12-0.27 and 0.56-1.31)
    assert 0.2 < ratio(r.before) < 0.4 and 0.5 < ratio(r.last) < 1.4


def test_large_init_relu_explodes_map_caption():
    ls = run("large_init_relu_explodes").before.layers
    # "the stds span 14 decades" (≈ 0.8 → ≈ 1e14: 19 layers × log10 √32 = 14.3 decades)
    assert 13.5 < math.log10(ls.act_std[-1] / ls.act_std[0]) < 15


def test_xavier_relu_fading_map_caption():
    ls = run("xavier_relu_fading").before.layers
    # "the stds span over 7 decades ... from ≈ 0.14 at layer 1 to ≈ 4·10⁻⁹ at layer 50"
    # (49 × log10 √2 = 7.4 decades; seeds 0-2: 0.13-0.145 and 2.3e-9-4.7e-9)
    assert 7 < math.log10(ls.act_std[0] / ls.act_std[-1]) < 8
    assert 0.12 < ls.act_std[0] < 0.16 and 1.5e-9 < ls.act_std[-1] < 8e-9
    # "about half of its values at 0": ReLU zeros the negative half of a symmetric pre-activation;
    # per layer 0.37-0.64 over seeds 0-2 (64 units whose inputs grow correlated with depth)
    zero = ls.saturated_frac
    assert abs(float(np.median(zero)) - 0.5) < 0.05 and 0.3 < zero.min() and zero.max() < 0.7


def test_noisy_small_batches_noise_stays_near_1_and_the_loss_zigzags():
    r = run("noisy_small_batches")
    noise = np.array([s.layers.grad_noise for s in r.steps])  # [step, layer]
    assert 0.8 < noise[0].min() and noise[0].max() < 1.2      # "0.84–1.16 at step 1"
    assert 0.65 < noise[-1].min() and noise[-1].max() < 2.1   # "0.7–2.0 at step 60"
    median = np.median(noise, axis=1)
    assert 0.35 < median.min() and median.max() < 2.3          # "between ≈ 0.4 and ≈ 2.2 at every step"
    loss = losses(r)
    assert loss.min() < 0.15 and loss.max() > 2.2               # "from ≈ 0.1 to ≈ 2.4 over the run"
    assert abs(loss[-10:].mean() - 0.7) < 0.1                   # "the last 10 steps average ≈ 0.7"


def test_rnn_clipping_raw_gradient_is_a_few_million():
    raw = run("rnn_clipping", clip_mode="none")
    # "without clipping the first gradient has a norm of a few million" (measured 2.7e6; seeds 0-2: 2.1e6-3.3e6)
    assert 1e6 < raw.steps[0].grad_norm_total < 1e7

