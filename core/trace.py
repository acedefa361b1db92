"""The per-probe-point tensors of an instrumented pass (TEMPORARY: re-exported from core.model
until the shared core/trace.py replaces this file at merge)."""
from .model import Trace

__all__ = ["Trace"]
