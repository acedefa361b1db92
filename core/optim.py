"""Optimizers and the learning-rate schedule.

`OPTIMIZERS` maps a name to ``fn(cfg, params) -> torch.optim.Optimizer``. Every
optimizer gets `cfg.weight_decay` as torch's own `weight_decay` argument, which is
*coupled* L2 regularization: λ·θ is added to the gradient before the optimizer's
rule, i.e. the loss gains ½λ‖θ‖² (every parameter, biases included). We chose it
over AdamW-style decoupled decay so that the one field means the same thing for all
five optimizers; for plain SGD both are the same (θ ← θ − lr·(g + λθ)). Clipping and
all gradient statistics see the loss gradient alone; the decay term is added inside
the optimizer step.

`effective_lr(cfg, t)` is the learning rate of update number t (1-based) under the
linear warm-up: lr · min(1, t / warmup_steps). Update 1 uses lr/warmup_steps rather
than 0, so no step is wasted on a zero update; update warmup_steps and later use lr.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from .config import SimConfig

Params = Iterable[torch.nn.Parameter]


def sgd(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    """θ ← θ − lr·g."""
    return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def momentum(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    """Heavy ball: p ← μ·p + g, θ ← θ − lr·p (μ = cfg.momentum)."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def adam(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    """Adam (β = 0.9, 0.999): θ ← θ − lr·m̂/(√v̂ + ε); its first step moves every weight by ≈ lr."""
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def radam(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    """Rectified Adam (Liu et al. 2020): momentum SGD while the variance of the adaptive
    step is undefined (the first 5 steps), then Adam scaled by the rectification term r_t."""
    return torch.optim.RAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def rmsprop(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    """RMSprop (α = 0.99, no momentum): v ← α·v + (1−α)·g², θ ← θ − lr·g/(√v + ε)."""
    return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


OPTIMIZERS: dict[str, Callable[[SimConfig, Params], torch.optim.Optimizer]] = {
    fn.__name__: fn for fn in (sgd, momentum, adam, radam, rmsprop)
}


def make_optimizer(cfg: SimConfig, params: Params) -> torch.optim.Optimizer:
    return OPTIMIZERS[cfg.optimizer](cfg, params)


def effective_lr(cfg: SimConfig, update: int) -> float:
    """Learning rate of update number `update` (1-based): lr · min(1, update / warmup_steps)."""
    if cfg.warmup_steps <= 0 or update >= cfg.warmup_steps:
        return cfg.lr
    return cfg.lr * max(update, 1) / cfg.warmup_steps


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def applied_update(cfg: SimConfig) -> str:
    """Which tensor the configured step moves the weights along, for ‖ΔW‖ (core.simulator):
    'gradient' (plain SGD without weight decay, clipped by norm or not: ΔW = −lr·g),
    'momentum' (heavy ball: ΔW = −lr·p, p the buffer after the step), or 'measured'
    (no tensor at hand: W before minus W after, which keeps a copy of W)."""
    if cfg.optimizer == "sgd" and cfg.weight_decay == 0 and cfg.clip_mode != "value":
        return "gradient"
    return "momentum" if cfg.optimizer == "momentum" else "measured"
