"""Weight initialization schemes, one small function each (formula in the docstring).

Every function has the signature ``fn(weight, cfg, generator)`` and fills the
``[fan_out, fan_in]`` weight, or a ``[C_out, C_in, k, k]`` convolution kernel, in place
(a kernel's fans are C_in·k·k and C_out·k·k, as torch.nn.init counts them). ``cfg`` supplies init_std, init_gain and
init_mode. Fan-scaled schemes multiply their std by ``init_gain``.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from .config import SimConfig

InitFn = Callable[[Tensor, SimConfig, torch.Generator], None]


def zeros(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W = 0."""
    nn.init.zeros_(w)


def constant(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W = init_std everywhere (every unit identical: the symmetry problem)."""
    nn.init.constant_(w, cfg.init_std)


def normal(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ N(0, init_std²)."""
    nn.init.normal_(w, 0.0, cfg.init_std, generator=g)


def uniform(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ U(−init_std, init_std); std = init_std/√3."""
    nn.init.uniform_(w, -cfg.init_std, cfg.init_std, generator=g)


def xavier_uniform(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ U(−a, a), a = gain·√(6/(fan_in+fan_out)); std = gain·√(2/(fan_in+fan_out))."""
    nn.init.xavier_uniform_(w, gain=cfg.init_gain, generator=g)


def xavier_normal(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ N(0, σ²), σ = gain·√(2/(fan_in+fan_out))."""
    nn.init.xavier_normal_(w, gain=cfg.init_gain, generator=g)


def kaiming_uniform(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ U(−a, a), a = gain·√(6/fan), fan = fan_in or fan_out; std = gain·√(2/fan)."""
    nn.init.kaiming_uniform_(w, a=0.0, mode=cfg.init_mode, nonlinearity="relu", generator=g)
    w.mul_(cfg.init_gain)


def kaiming_normal(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ N(0, σ²), σ = gain·√(2/fan), fan = fan_in or fan_out (He et al. 2015, for ReLU)."""
    nn.init.kaiming_normal_(w, a=0.0, mode=cfg.init_mode, nonlinearity="relu", generator=g)
    w.mul_(cfg.init_gain)


def lecun_normal(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W ~ N(0, σ²), σ = gain·√(1/fan_in) (LeCun 1998)."""
    fan_in = w[0].numel()  # in_features, or C_in·k·k for a convolution kernel
    nn.init.normal_(w, 0.0, cfg.init_gain / math.sqrt(fan_in), generator=g)


def orthogonal(w: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """W = gain·Q, Q with orthonormal rows or columns (Saxe et al. 2014); std = gain/√max(fan_in, fan_out)."""
    nn.init.orthogonal_(w, gain=cfg.init_gain, generator=g)


INITS: dict[str, InitFn] = {
    fn.__name__: fn
    for fn in (zeros, constant, normal, uniform, xavier_uniform, xavier_normal,
               kaiming_uniform, kaiming_normal, lecun_normal, orthogonal)
}


def expected_weight_std(cfg: SimConfig, fan_in: int, fan_out: int) -> float:
    """The std (root mean square about 0) the scheme in `cfg` gives a [fan_out, fan_in] weight."""
    gain, name = cfg.init_gain, cfg.init
    fan = fan_in if cfg.init_mode == "fan_in" else fan_out
    return {
        "zeros": 0.0,
        "constant": abs(cfg.init_std),
        "normal": cfg.init_std,
        "uniform": cfg.init_std / math.sqrt(3.0),
        "xavier_uniform": gain * math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_normal": gain * math.sqrt(2.0 / (fan_in + fan_out)),
        "kaiming_uniform": gain * math.sqrt(2.0 / fan),
        "kaiming_normal": gain * math.sqrt(2.0 / fan),
        "lecun_normal": gain / math.sqrt(fan_in),
        "orthogonal": gain / math.sqrt(max(fan_in, fan_out)),
    }[name]


def init_bias(b: Tensor, cfg: SimConfig, g: torch.Generator) -> None:
    """b ~ N(0, bias_std²); zeros when bias_std is 0."""
    if cfg.bias_std == 0:
        nn.init.zeros_(b)
    else:
        nn.init.normal_(b, 0.0, cfg.bias_std, generator=g)


def init_layers(layers: Iterable[nn.Module], cfg: SimConfig, g: torch.Generator) -> None:
    """Each layer's weight by `cfg`'s scheme (INITS[cfg.init]) and then its bias (init_bias), layer
    by layer in the given order, so the generator's draws follow that order."""
    init = INITS[cfg.init]
    with torch.no_grad():
        for layer in layers:
            init(layer.weight, cfg, g)
            init_bias(layer.bias, cfg, g)
