"""The eigenvalues of a vanilla RNN's recurrent matrix and the gradient growth they predict.

Back-propagating through t steps multiplies the gradient by W_hhᵀ (and a diagonal of
φ′ ≤ max|φ′|) t times. With the eigendecomposition W = V diag(λ) V⁻¹,
W^t = V diag(λ)^t V⁻¹: every component along an eigenvector scales by λ^t, so for
large t the largest |λ| (the spectral radius ρ) dominates and the gradient norm
t steps back from the last step behaves like ρ^t, vanishing for ρ < 1 and exploding
for ρ > 1. The activation's slopes multiply in on top (tanh′ ≤ 1 can only shrink it).

Computing eigenvalues costs O(width³), so it is done on demand (the app's worker
asks only while the spectrum view is open) and refused above MAX_SPECTRUM_WIDTH.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .snapshot import frozen_array

MAX_SPECTRUM_WIDTH = 1024  # eigvals of a 1024² matrix: about a second on two CPU cores


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of W_hh after `step` updates (complex128, by decreasing |λ|, read-only)."""

    step: int
    eigenvalues: np.ndarray

    @property
    def radius(self) -> float:
        """ρ = max |λ|."""
        return float(np.abs(self.eigenvalues[0])) if len(self.eigenvalues) else 0.0

    def predicted_grad_norm(self, grad_norm: np.ndarray) -> np.ndarray:
        """‖∂L/∂z_T‖ · ρ^(T−t) for t = 1..T: the last step's measured norm carried back by ρ per step."""
        grad_norm = np.asarray(grad_norm, dtype=np.float64)
        steps_back = np.arange(len(grad_norm) - 1, -1, -1, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore"):
            return grad_norm[-1] * self.radius ** steps_back


def eigenvalues(w: Tensor) -> np.ndarray:
    """Eigenvalues of the square matrix w, computed on its device (float64), as complex128 sorted by |λ| descending."""
    lam = torch.linalg.eigvals(w.detach().double()).cpu().numpy()
    return lam[np.argsort(-np.abs(lam), kind="stable")]


def unavailable_reason(architecture: str, width: int) -> str | None:
    """Why no spectrum is shown for this network, or None when there is one."""
    if architecture != "rnn":
        return "The spectrum view is for 'rnn': its single square W_hh is applied at every step."
    if width > MAX_SPECTRUM_WIDTH:
        return (f"Width {width} > {MAX_SPECTRUM_WIDTH}: eigenvalues cost O(width³) and are not computed; "
                "use a narrower network.")
    return None


def recurrent_spectrum(model: torch.nn.Module, step: int) -> Spectrum:
    """The Spectrum of a RecurrentNetwork's W_hh (square for the Elman cell)."""
    return Spectrum(step=step, eigenvalues=frozen_array(eigenvalues(model.w_hh), np.complex128))
