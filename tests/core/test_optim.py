"""Optimizers, weight decay and the warm-up schedule (core/optim.py) against torch and the formulas."""
import copy

import pytest
import torch
from torch import nn

from core import SimConfig, Simulator
from core.config import OPTIMIZERS
from core.optim import effective_lr

# full batch: every step sees all 64 examples, so a reference model can follow exactly
TINY = SimConfig(depth=2, width=6, dataset="gaussian", input_dim=3, n_samples=64, batch_size=64, lr=0.01,
                 device="cpu")
TORCH = {  # independent mapping from our names to torch's optimizers
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, weight_decay=c.weight_decay),
    "momentum": lambda p, c: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda p, c: torch.optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay),
    "radam": lambda p, c: torch.optim.RAdam(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: torch.optim.RMSprop(p, lr=c.lr, weight_decay=c.weight_decay),
}


def test_every_config_optimizer_has_a_reference():
    assert set(TORCH) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_updates_equal_torchs_own(name, decay):
    cfg = TINY.replace(optimizer=name, weight_decay=decay)
    sim = Simulator(cfg)
    ref = copy.deepcopy(sim.model)
    opt = TORCH[name](ref.parameters(), cfg)
    sim.step(1)
    sim.step(6)  # 1 instrumented + 5 bare + 1 instrumented: RAdam passes its 5-step SGD phase
    for _ in range(7):
        opt.zero_grad()
        nn.functional.cross_entropy(ref(sim.x), sim.y).backward()
        opt.step()
    # same maths on the same (permuted) full batch: only the summation order of the mean differs
    for p, q in zip(sim.model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _grads_and_params(sim):
    return [p.detach().clone() for p in sim.model.parameters()]


def test_adam_and_rmsprop_first_step_formulas():
    # Adam's first step: m̂ = g, v̂ = g², Δθ = −lr·g/(|g| + ε): about lr for every entry (ε = 1e-8)
    # RMSprop's: v = (1−α)·g² with α = 0.99, Δθ = −lr·g/(√0.01·|g| + ε) ≈ −10·lr·sign(g)
    for name, root in (("adam", 1.0), ("rmsprop", 0.1)):
        sim = Simulator(TINY.replace(optimizer=name))
        before = _grads_and_params(sim)
        sim.step()
        for p, old in zip(sim.model.parameters(), before):
            want = TINY.lr * p.grad / (root * p.grad.abs() + 1e-8)
            torch.testing.assert_close(old - p.detach(), want, rtol=1e-4, atol=1e-7)


def test_weight_decay_is_coupled_l2():
    lam, lr = 0.5, 0.01
    sim = Simulator(TINY.replace(weight_decay=lam, lr=lr))
    before = _grads_and_params(sim)
    sim.step()
    # SGD with coupled decay: θ ← θ − lr·(g + λθ); p.grad holds the loss gradient alone
    for p, old in zip(sim.model.parameters(), before):
        torch.testing.assert_close(p.detach(), old - lr * (p.grad + lam * old), rtol=1e-6, atol=1e-7)


def test_warmup_lr_sequence_is_exact():
    cfg = TINY.replace(warmup_steps=4, lr=0.1)
    assert [effective_lr(cfg, t) for t in range(1, 7)] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    assert effective_lr(cfg.replace(warmup_steps=0), 1) == 0.1
    sim = Simulator(cfg)
    assert sim.probe().lr == pytest.approx(0.025)  # a probe reports the rate of the next update
    for t in range(1, 7):
        before = _grads_and_params(sim)
        snap = sim.step()
        assert snap.lr == pytest.approx(effective_lr(cfg, t), rel=1e-12)
        for p, old in zip(sim.model.parameters(), before):  # plain SGD at that step's rate
            torch.testing.assert_close(p.detach(), old - snap.lr * p.grad, rtol=1e-6, atol=1e-7)


def test_bare_steps_follow_the_warmup_too():
    cfg = TINY.replace(warmup_steps=5, optimizer="adam")
    one_by_one, at_once = Simulator(cfg), Simulator(cfg)
    for _ in range(7):
        one_by_one.step()
    snap = at_once.step(7)
    assert snap.lr == pytest.approx(cfg.lr)
    for p, q in zip(one_by_one.model.parameters(), at_once.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
