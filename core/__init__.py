"""Vanishing Point's simulation core: PyTorch and NumPy only, never Qt."""
from .config import ConfigError, SimConfig
from .engine import Engine
from .simulator import Simulator, cpu_fallback_reason, resolve_device
from .snapshot import LayerStats, Snapshot

__all__ = ["ConfigError", "Engine", "LayerStats", "SimConfig", "Simulator", "Snapshot", "cpu_fallback_reason",
           "resolve_device"]
