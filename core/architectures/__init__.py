"""The architecture registry: a name → `Architecture` (how to build the network, the config
fields it reads, its layer noun). Adding an architecture is one module and one line here."""
from __future__ import annotations

from ..config import ConfigError
from . import autoencoder, cnn, transformer
from .base import Architecture
from .mlp import MLP, RESIDUAL
from .recurrent import LSTM, RNN
from .user_model import USER, USER_AUTOENCODER

ARCHITECTURES: dict[str, Architecture] = {
    "mlp": MLP,
    "residual": RESIDUAL,
    "rnn": RNN,
    "lstm": LSTM,
    "cnn": cnn.ARCHITECTURE,
    "residual_cnn": cnn.RESIDUAL_ARCHITECTURE,
    "transformer": transformer.ARCHITECTURE,
    "autoencoder": autoencoder.ARCHITECTURE,
    "user": USER,
    "user_autoencoder": USER_AUTOENCODER,
}


def get_architecture(name: str) -> Architecture:
    """The registered architecture `name`; ConfigError('architecture', …) listing the valid names."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        raise ConfigError("architecture", f"unknown value {name!r}; allowed: {', '.join(ARCHITECTURES)}") from None


def layer_noun(name: str) -> str:
    """What one entry of a snapshot's per-layer arrays is for architecture `name`, as its registry
    entry declares: 'layer', 'time step', 'conv layer', 'block'. The one place anything asks."""
    return get_architecture(name).noun


__all__ = ["ARCHITECTURES", "Architecture", "get_architecture", "layer_noun"]
