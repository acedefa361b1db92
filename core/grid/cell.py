"""One cell of a grid: train one network and measure what the trainability map shows.

`run_cell` is what a Dask worker executes. It runs in one torch thread (restoring the
caller's setting after), so a cell's numbers do not depend on the machine's core count
or on where the cell ran: the config, seed included, fixes them.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..config import SimConfig
from ..simulator import Simulator
from ..snapshot import Snapshot
from .heldout import held_out

EVAL_CHUNK = 4096  # examples per forward pass when evaluating a whole set

RESULT_COLUMNS = ("steps_done", "loss", "accuracy", "held_out_loss", "held_out_accuracy", "n_held_out",
                  "log10_grad_ratio_init", "log10_grad_ratio_end", "diverged", "n_classes")


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block with torch on one thread, then restore the caller's setting. Small tensors gain
    nothing from more, and on a loaded machine spinning threads made them 20-40x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def log10_grad_ratio(snap: Snapshot) -> float:
    """log10(‖∂L/∂z¹‖ / ‖∂L/∂z^L‖) of a snapshot: first over last layer (NaN if undefined)."""
    g = snap.layers.grad_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(np.log10(g[0]) - np.log10(g[-1]))
    return value if math.isfinite(value) else math.nan


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` over the whole set (x, y), without gradients."""
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(y), EVAL_CHUNK):
            xb, yb = x[start:start + EVAL_CHUNK], y[start:start + EVAL_CHUNK]
            logits = model(xb)
            loss += float(nn.functional.cross_entropy(logits.double(), yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
    return loss / len(y), correct / len(y)


def run_cell(config: SimConfig, steps: int) -> dict[str, Any]:
    """Train `config` for `steps` steps and return the cell's measurements (see RESULT_COLUMNS):

    loss, accuracy: over the whole training set after the last step;
    held_out_*: over `core.grid.heldout.held_out(config)` (NaN and 0 examples if there is none);
    log10_grad_ratio_init / _end: of a probe (the fixed probe batch, no update) before the first
    and after the last step; diverged: a step produced a NaN/Inf (training stops there), or the
    final loss is not finite.
    """
    with one_torch_thread():
        sim = Simulator(config)
        init = sim.probe()
        last = sim.step(steps, trail=False)
        end = sim.probe()
        loss, accuracy = evaluate(sim.model, sim.x, sim.y)
        held = held_out(config)
        if held is None:
            held_loss, held_acc, n_held = math.nan, math.nan, 0
        else:
            held_loss, held_acc = evaluate(sim.model, held.x.to(sim.device), held.y.to(sim.device))
            n_held = len(held.y)
    return {
        "steps_done": sim.steps_done, "loss": loss, "accuracy": accuracy,
        "held_out_loss": held_loss, "held_out_accuracy": held_acc, "n_held_out": n_held,
        "log10_grad_ratio_init": log10_grad_ratio(init), "log10_grad_ratio_end": log10_grad_ratio(end),
        "diverged": bool(last.nonfinite or not math.isfinite(loss)), "n_classes": sim.n_classes,
    }
