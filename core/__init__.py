"""Vanishing Point's simulation core: PyTorch and NumPy only, never Qt."""
from .config import ConfigError, SimConfig
from .simulator import Simulator, resolve_device
from .snapshot import LayerStats, Snapshot

__all__ = ["ConfigError", "LayerStats", "SimConfig", "Simulator", "Snapshot", "resolve_device"]
