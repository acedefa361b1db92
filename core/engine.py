"""`Engine`: what the application's worker drives, a single `core.simulator.Simulator` or the A/B
`core.compare.Comparer`. It owns everything Torch and returns immutable results (a Snapshot, or a
Comparison of two); the worker is its only caller while it runs."""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class Engine(Protocol):
    """The worker's view of a simulation engine.

    `device_reason`: a sentence saying which device runs it and why (e.g. 'CPU (fallback: …)'
    for an engine built with `cpu_after`, core.simulator.cpu_fallback_reason).
    """

    device_reason: str

    @property
    def device(self) -> Any:
        """Where it runs (a torch.device, or a string naming A's and B's)."""
        ...

    @property
    def steps_done(self) -> int:
        """Updates applied so far (for a pair, the further side's)."""
        ...

    def probe(self) -> Any:
        """One instrumented forward/backward pass on the fixed probe batch, with no update."""
        ...

    def step(self, n: int = 1, stop: Callable[[], bool] | None = None, *, trail: bool = True) -> Any:
        """Train n ≥ 1 steps (fewer after a NaN/Inf, or once `stop()` says True); the result of the last.
        With trail=False the steps before the last record nothing (`trail()` is empty)."""
        ...

    def trail(self) -> tuple:
        """The uninstrumented steps of the last step(n) call (a pair: one trail per side)."""
        ...

    def probe_inputs(self) -> Any:
        """The probe batch's inputs (a pair: A's and B's)."""
        ...
