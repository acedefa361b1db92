"""Bounded history of training snapshots for the over-steps plots.

Scalars (loss, accuracy) keep up to `scalar_capacity` points and are thinned
by half when full, so a long run keeps its whole shape. The per-layer series
grad_norm and update_to_weight keep the last `layer_capacity` training steps in a
ring: a [capacity, depth] array, oldest first when read, filled from every step
(the snapshot's, and the cheap per-step records of the steps between snapshots,
core.simulator.StepRecord). grad_noise is measured with the full statistics only: it
keeps the last `layer_capacity` snapshots in a ring of its own (`noise_steps()`). The snapshots
themselves (for saving and exporting) are kept too, the most recent ones up to
`layer_capacity` of them and `snapshot_budget` bytes of arrays (a snapshot of a
1000-layer network holds about 1.7 MB).
"""
from __future__ import annotations

from collections import deque
from typing import Iterable

import numpy as np

from core import Snapshot
from core.session import Curve

SNAPSHOT_BUDGET_BYTES = 64 * 2**20


class History:
    def __init__(self, layer_capacity: int = 400, scalar_capacity: int = 4000,
                 snapshot_budget: int = SNAPSHOT_BUDGET_BYTES):
        self.layer_capacity = layer_capacity
        self.scalar_capacity = scalar_capacity
        self.snapshot_budget = snapshot_budget
        self.clear()

    def clear(self) -> None:
        self.depth = 0
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.accuracy: list[float] = []
        self.clip_events = 0
        self._layer_steps = np.zeros(self.layer_capacity, dtype=np.int64)
        self._grad = np.zeros((self.layer_capacity, 0))
        self._update = np.zeros((self.layer_capacity, 0))
        self._noise = np.zeros((self.layer_capacity, 0))
        self._noise_steps = np.zeros(self.layer_capacity, dtype=np.int64)
        self._count = 0  # steps written into the ring
        self._noise_count = 0  # snapshots written into the noise ring
        self._snapshots: deque[Snapshot] = deque()
        self._snapshot_bytes = 0

    def add(self, snap: Snapshot, trail: Iterable = ()) -> None:
        """Record a training snapshot (probes are not steps and are ignored), after the scalars of
        the uninstrumented steps before it (`trail`: core.simulator.StepRecord, oldest first)."""
        if snap.kind != "step":
            return
        if snap.depth != self.depth:
            self.clear()
            self.depth = snap.depth
            self._grad = np.full((self.layer_capacity, snap.depth), np.nan)
            self._update = np.full((self.layer_capacity, snap.depth), np.nan)
            self._noise = np.full((self.layer_capacity, snap.depth), np.nan)
        for record in trail:
            if not self.steps or record.step > self.steps[-1]:  # (an A/B replay may repeat steps)
                self._add_scalars(record.step, record.loss, record.accuracy, record.clipped)
                grad = getattr(record, "grad_norm", None)
                if grad is not None and len(grad) == self.depth:
                    self._add_layer_row(record.step, grad, record.update_to_weight)
        self._add_scalars(snap.step, snap.loss, snap.accuracy, snap.clipped)
        self._add_layer_row(snap.step, snap.layers.grad_norm, snap.layers.update_to_weight)
        j = self._noise_count % self.layer_capacity
        self._noise_steps[j] = snap.step
        self._noise[j] = snap.layers.grad_noise
        self._noise_count += 1
        self._snapshots.append(snap)
        self._snapshot_bytes += snap.nbytes
        while len(self._snapshots) > 1 and (len(self._snapshots) > self.layer_capacity
                                            or self._snapshot_bytes > self.snapshot_budget):
            self._snapshot_bytes -= self._snapshots.popleft().nbytes

    def _add_layer_row(self, step: int, grad_norm: np.ndarray, update_to_weight: np.ndarray) -> None:
        i = self._count % self.layer_capacity
        self._layer_steps[i] = step
        self._grad[i] = grad_norm
        self._update[i] = update_to_weight
        self._count += 1

    def _add_scalars(self, step: int, loss: float, accuracy: float, clipped: bool) -> None:
        self.steps.append(step)
        self.loss.append(loss)
        self.accuracy.append(accuracy)
        self.clip_events += int(clipped)
        if len(self.steps) > self.scalar_capacity:  # thin: keep every other point and the last
            keep = slice(None, None, 2)
            last = (self.steps[-1], self.loss[-1], self.accuracy[-1])
            self.steps, self.loss, self.accuracy = self.steps[keep], self.loss[keep], self.accuracy[keep]
            if self.steps[-1] != last[0]:
                self.steps.append(last[0]); self.loss.append(last[1]); self.accuracy.append(last[2])  # noqa: E702

    def snapshots(self) -> list[Snapshot]:
        """The most recent recorded snapshots, oldest first (bounded: see the module docstring)."""
        return list(self._snapshots)

    def curve(self) -> Curve:
        """Loss and accuracy over every recorded step (thinned when long)."""
        return Curve(tuple(self.steps), tuple(self.loss), tuple(self.accuracy))

    def restore(self, snapshots: Iterable[Snapshot], curve: Curve | None = None) -> None:
        """Replace the contents by saved `snapshots` (oldest first) and, if given, the saved `curve`."""
        self.clear()
        for snap in snapshots:
            self.add(snap)
        if curve is not None and curve.step:
            self.steps, self.loss, self.accuracy = list(curve.step), list(curve.loss), list(curve.accuracy)

    def __len__(self) -> int:
        return min(self._count, self.layer_capacity)

    def _ordered(self, arr: np.ndarray, count: int | None = None) -> np.ndarray:
        count = self._count if count is None else count
        if count <= self.layer_capacity:
            return arr[:count]
        start = count % self.layer_capacity
        return np.concatenate([arr[start:], arr[:start]])

    def layer_steps(self) -> np.ndarray:
        """The steps of `grad_norm()` and `update_to_weight()`'s rows."""
        return self._ordered(self._layer_steps)

    def grad_norm(self) -> np.ndarray:
        """[steps, depth], oldest first."""
        return self._ordered(self._grad)

    def update_to_weight(self) -> np.ndarray:
        return self._ordered(self._update)

    def noise_steps(self) -> np.ndarray:
        """The steps of `grad_noise()`'s rows: those of the recorded snapshots."""
        return self._ordered(self._noise_steps, self._noise_count)

    def grad_noise(self) -> np.ndarray:
        """[snapshots, depth], oldest first (see noise_steps())."""
        return self._ordered(self._noise, self._noise_count)
