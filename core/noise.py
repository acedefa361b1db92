"""Gradient noise: how much of a layer's weight gradient is sampling noise.

One training step averages the loss over an effective batch of N = batch_size ×
grad_accum examples, L = (1/N)·Σᵢ ℓᵢ, and follows Ḡ = ∂L/∂W = (1/N)·Σᵢ Gᵢ, the mean
of the examples' own gradients Gᵢ = ∂ℓᵢ/∂W. With the per-example spread

    tr Σ̂ = 1/(N−1) · Σᵢ ‖Gᵢ − Ḡ‖²_F

the standard error of Ḡ around the full-data gradient is √((1 − N/n)·tr Σ̂ / N) (the
central-limit 1/√N the notes cite; 1 − N/n corrects for drawing the batch without
replacement from n examples, so a full batch has no noise). The statistic reported
per hidden layer (`LayerStats.grad_noise`) is

    grad_noise = √((1 − N/n)·tr Σ̂ / N) / ‖Ḡ‖_F     (noise-to-signal ratio of the step's gradient)

Each example is its own micro-batch: that gives the estimate N−1 degrees of freedom
(relative error ≈ 1/√(2(N−1)) for Gaussian gradients) at any batch_size ≥ 2, with or
without accumulation, and costs two row-norm reductions per layer, because for a
Linear layer z = W h + b each Gᵢ = (∂ℓᵢ/∂zᵢ)·hᵢᵀ has rank one and ‖Gᵢ‖ = ‖∂ℓᵢ/∂zᵢ‖·‖hᵢ‖.
With cᵢ = ∂L/∂zᵢ = (1/N)·∂ℓᵢ/∂zᵢ (the rows of the traced z.grad) and
P = Σᵢ ‖cᵢ‖²·‖hᵢ‖², using Σᵢ ‖Gᵢ − Ḡ‖² = Σᵢ ‖Gᵢ‖² − N‖Ḡ‖² = N²P − N‖Ḡ‖²:

    grad_noise² = (1 − N/n)·(N·P − ‖Ḡ‖²) / ((N − 1)·‖Ḡ‖²)

Since E‖Ḡ‖² = ‖E G‖² + tr Σ/N, the ratio is ≈ noise/signal ∝ 1/√N while the mean
gradient dominates and approaches 1 when the step's gradient is mostly noise.
With batchnorm an example's loss depends on its micro-batch; cᵢ·hᵢᵀ is then its
share of Ḡ (the shares still sum to Ḡ) and the statistic is the spread of the shares.
Undefined (NaN) for N < 2 or a zero gradient.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _row_sq_norms(tensors: list[Tensor]) -> Tensor:
    """‖row‖² of each [B, ·] tensor, as [len, B] float64 (runs of equal shapes stacked and reduced at once)."""
    out, start = [], 0
    while start < len(tensors):
        end = start + 1
        while end < len(tensors) and tensors[end].shape == tensors[start].shape:
            end += 1
        group = tensors[start:end]
        stacked = torch.stack(group) if len(group) > 1 else group[0].unsqueeze(0)
        out.append(torch.linalg.vector_norm(stacked, dim=2).double().square())
        start = end
    return torch.cat(out)


def example_energy(z_grads: list[Tensor | None], inputs: list[Tensor] | None) -> np.ndarray | None:
    """P = Σᵢ ‖cᵢ‖²·‖hᵢ‖² per layer for one traced micro-batch: cᵢ the rows of ∂L/∂z,
    hᵢ the rows of the layer's input. None when the inputs were not traced."""
    if not inputs or len(inputs) != len(z_grads):
        return None
    grads = [g if g is not None else torch.zeros(h.shape[0], 1, device=h.device) for g, h in zip(z_grads, inputs)]
    return energy_from_rows(_row_sq_norms(grads), _row_sq_norms([h.detach() for h in inputs]))


def energy_from_rows(grad_rows: Tensor, input_rows: Tensor) -> np.ndarray:
    """P per layer from the squared row norms [L, B] of ∂L/∂z and of the layer's inputs."""
    return (grad_rows * input_rows).sum(1).cpu().numpy()


def noise_to_signal(energy: np.ndarray | None, n: int, mean_grad_norm: np.ndarray,
                    population: int | None = None) -> np.ndarray:
    """grad_noise per layer from P (`example_energy` summed over the effective batch),
    its number of examples n, ‖Ḡ‖ per layer and the data set's size (None: infinite)."""
    mean_grad_norm = np.asarray(mean_grad_norm, dtype=np.float64)
    if energy is None or n < 2:
        return np.full(len(mean_grad_norm), np.nan)
    g2 = mean_grad_norm**2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        var = np.maximum(n * energy - g2, 0.0) / (n - 1)  # float rounding can push it below 0
        if population is not None:
            var *= max(0.0, 1.0 - n / population)
        out = np.sqrt(var / g2)
    out[~(g2 > 0)] = np.nan
    return out
