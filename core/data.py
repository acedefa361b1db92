"""Data sets: toy 2-D problems, a Gaussian teacher task, real handwritten digits, and
sequence tasks with a long-term dependency.

`DATASETS` maps a name to ``fn(cfg, generator) -> Dataset``. Features are
standardized (zero mean, unit variance per feature) so that signal propagation
starts from unit-variance inputs, as in the reference notes.

The sequence sets (`SEQUENCE_DATASETS`) have T = sequence_length(cfg) time steps
(`depth`, or `seq_len` for the transformer): x is [n, T, features] for the
recurrent architectures and the transformer, flattened time-major to
[n, T·features] for the feed-forward ones (which then see the whole sequence at once).

The image sets (`IMAGE_DATASETS`: digits, stripes) are [n, 1, H, W] for the CNNs
(`IMAGE_ARCHITECTURES`) and flattened to [n, H·W] for every other architecture.
"""
from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from .config import (IMAGE_ARCHITECTURES, RECURRENT_ARCHITECTURES, SEQUENCE_DATASETS, SimConfig,
                     sequence_length)
from .data_files import check_architecture, example_shape_for, load_table, peek_shape

# Alphabet of the first_token and majority tasks: one-hot symbols.
FIRST_TOKEN_SYMBOLS = 8
# The stripes images: STRIPES_SIZE × STRIPES_SIZE pixels, one class per orientation.
STRIPES_SIZE = 16
STRIPES_ANGLES = (0.0, 45.0, 90.0, 135.0)
STRIPES_NOISE = 1.0  # per-pixel Gaussian noise std, against a grating of amplitude 1
DIGITS_SIDE = 8
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DIGITS_FILE = RESOURCES / "data" / "digits.csv.gz"


@dataclass(frozen=True)
class Dataset:
    """x: [n, input_dim] (or [n, steps, input_dim], or [n, 1, H, W] images) float32,
    y: [n] int64 labels in 0..n_classes−1."""

    x: Tensor
    y: Tensor
    n_classes: int

    @property
    def input_dim(self) -> int:
        return self.x.shape[-1]


def _standardize(x: Tensor) -> Tensor:
    std = x.std(dim=0, keepdim=True)
    return (x - x.mean(dim=0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))


def _make(x: Tensor, y: Tensor, n_classes: int, standardize: bool = True) -> Dataset:
    x = _standardize(x.double()) if standardize else x.double()
    return Dataset(x.float().contiguous(), y.long().contiguous(), n_classes)


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def gaussian(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """x ~ N(0, I_d); y = [x·w > 0] for a fixed random teacher w. Not re-standardized."""
    x = torch.randn(cfg.n_samples, cfg.input_dim, generator=g)
    w = torch.randn(cfg.input_dim, generator=g)
    return _make(x, x @ w > 0, 2, standardize=False)


def spirals(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Two interleaved spiral arms (1.5 turns), small Gaussian noise."""
    counts = _halves(cfg.n_samples)
    xs, ys = [], []
    for label, n in enumerate(counts):
        t = torch.rand(n, generator=g).sqrt() * 3 * math.pi
        angle = t + label * math.pi
        pts = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1)
        xs.append(pts + 0.3 * torch.randn(n, 2, generator=g))
        ys.append(torch.full((n,), label))
    return _make(torch.cat(xs), torch.cat(ys), 2)


def circles(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Two concentric circles, radii 1 and 0.5, noise 0.08."""
    counts = _halves(cfg.n_samples)
    xs, ys = [], []
    for label, (n, radius) in enumerate(zip(counts, (1.0, 0.5))):
        angle = torch.rand(n, generator=g) * 2 * math.pi
        pts = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
        xs.append(pts + 0.08 * torch.randn(n, 2, generator=g))
        ys.append(torch.full((n,), label))
    return _make(torch.cat(xs), torch.cat(ys), 2)


def xor(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Points uniform in [−1, 1]²; class = sign(x₁) ≠ sign(x₂)."""
    x = torch.rand(cfg.n_samples, 2, generator=g) * 2 - 1
    return _make(x, (x[:, 0] > 0) ^ (x[:, 1] > 0), 2)


def moons(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Two interleaving half circles, noise 0.1."""
    n0, n1 = _halves(cfg.n_samples)
    a0 = torch.rand(n0, generator=g) * math.pi
    a1 = torch.rand(n1, generator=g) * math.pi
    upper = torch.stack([torch.cos(a0), torch.sin(a0)], dim=1)
    lower = torch.stack([1 - torch.cos(a1), 0.5 - torch.sin(a1)], dim=1)
    x = torch.cat([upper, lower]) + 0.1 * torch.randn(n0 + n1, 2, generator=g)
    y = torch.cat([torch.zeros(n0), torch.ones(n1)])
    return _make(x, y, 2)


def load_digits_array(path: Path = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8×8 handwritten digits (1797 images, pixels 0..16): (x [n, 64], y [n])."""
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"{path}: expected 65 comma-separated columns, got shape {table.shape}")
    return table[:, :64], table[:, 64].astype(np.int64)


def digits(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Real handwritten digits, 64 features, 10 classes; a random subset of n_samples
    images, or all 1797 when n_samples is larger."""
    x, y = load_digits_array()
    order = torch.randperm(len(y), generator=g)[: cfg.n_samples]
    return _images(cfg, _make(torch.from_numpy(x)[order], torch.from_numpy(y)[order], 10), DIGITS_SIDE)


def _images(cfg: SimConfig, ds: Dataset, side: int) -> Dataset:
    """[n, side²] pixels as [n, 1, side, side] images for the CNNs (pixels standardized alike)."""
    if cfg.architecture in IMAGE_ARCHITECTURES:
        return Dataset(ds.x.view(-1, 1, side, side), ds.y, ds.n_classes)
    return ds


def stripes(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Noisy sine gratings, 16×16 pixels; the class is the stripes' orientation (0°, 45°, 90°, 135°).

    pixel(i, j) = sin(2π·f·(j·cos θ + i·sin θ) + ψ) + ε, with f ~ U(0.1, 0.25) cycles per pixel,
    ψ ~ U(0, 2π), ε ~ N(0, STRIPES_NOISE²) per pixel. Generated from the seed, no download.
    No single pixel says anything about the class (ψ is uniform): the net has to combine
    neighbouring pixels, which is what a convolution does.
    """
    n, size = cfg.n_samples, STRIPES_SIZE
    label = torch.randint(len(STRIPES_ANGLES), (n,), generator=g)
    theta = torch.tensor(STRIPES_ANGLES, dtype=torch.float64).deg2rad()[label].view(n, 1, 1)
    freq = (0.1 + 0.15 * torch.rand(n, generator=g, dtype=torch.float64)).view(n, 1, 1)
    phase = (2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)).view(n, 1, 1)
    i = torch.arange(size, dtype=torch.float64).view(1, size, 1)
    j = torch.arange(size, dtype=torch.float64).view(1, 1, size)
    x = torch.sin(2 * math.pi * freq * (j * torch.cos(theta) + i * torch.sin(theta)) + phase)
    x = x + STRIPES_NOISE * torch.randn(n, size, size, generator=g, dtype=torch.float64)
    return _images(cfg, _make(x.view(n, size * size), label, len(STRIPES_ANGLES)), size)


def _sequences(cfg: SimConfig, x: Tensor, y: Tensor, n_classes: int) -> Dataset:
    """Standardize each (step, feature) over the samples; flatten for feed-forward networks."""
    ds = _make(x, y, n_classes)
    if keeps_steps(cfg):
        return ds
    return Dataset(ds.x.flatten(1), ds.y, n_classes)


def keeps_steps(cfg: SimConfig) -> bool:
    """Whether the network reads a sequence step by step ([n, T, features]) rather than flat."""
    return cfg.architecture in RECURRENT_ARCHITECTURES or cfg.architecture == "transformer"


def first_token(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Sequences of T random one-hot symbols out of 8; the label is the first symbol.

    Every later symbol is noise, so the only way to the label is to carry step 1's
    input through all the following steps (chance accuracy: 1/8).
    """
    tokens = torch.randint(FIRST_TOKEN_SYMBOLS, (cfg.n_samples, sequence_length(cfg)), generator=g)
    x = nn.functional.one_hot(tokens, FIRST_TOKEN_SYMBOLS)
    return _sequences(cfg, x, tokens[:, 0], FIRST_TOKEN_SYMBOLS)


def majority(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """Sequences of T random one-hot symbols out of 8; the label is the most frequent symbol
    (on a tie, the one that appears first, so no symbol is favoured).

    Every position counts alike, so no single step, nor any fixed subset, holds the answer:
    a token task for attention, where first_token rewards looking at one position.
    """
    tokens = torch.randint(FIRST_TOKEN_SYMBOLS, (cfg.n_samples, sequence_length(cfg)), generator=g)
    x = nn.functional.one_hot(tokens, FIRST_TOKEN_SYMBOLS)
    T = tokens.shape[1]
    counts = x.sum(1)                                                        # [n, symbols]
    steps = torch.arange(T).view(1, T, 1)
    first_seen = torch.where(x.bool(), steps, T).amin(1)                     # [n, symbols], T if absent
    return _sequences(cfg, x, (counts * (T + 1) - first_seen).argmax(1), FIRST_TOKEN_SYMBOLS)


def adding(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """The adding problem (Hochreiter & Schmidhuber 1997) as a two-class task.

    Each step carries (value ~ U(0, 1), marker ∈ {0, 1}); two steps are marked, one
    among the first ⌈T/10⌉ steps and one in the second half (the same step,
    counted twice, when T is 1). Label: the two marked values sum to more than 1
    (P = 1/2). Knowing only the late value gives at best 75 % (E[max(v, 1−v)]); the
    rest needs the early one.
    """
    n, T = cfg.n_samples, sequence_length(cfg)
    values = torch.rand(n, T, generator=g)
    first = torch.randint(-(-T // 10), (n,), generator=g)
    second = T // 2 + torch.randint(T - T // 2, (n,), generator=g)
    marks = torch.zeros(n, T)
    rows = torch.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    total = values[rows, first] + values[rows, second]
    return _sequences(cfg, torch.stack([values, marks], dim=2), total > 1, 2)


def file(cfg: SimConfig, g: torch.Generator) -> Dataset:
    """The user's own CSV or NPZ file (core/data_files.py): a random subset of n_samples examples,
    or all of them when n_samples is larger, standardized per feature (per pixel for images) as
    digits is; images stay [n, C, H, W] for the user's model and the image architectures."""
    table = load_table(cfg.data_file, cfg.label_column)
    shape = example_shape_for(table.x.shape[1:], cfg.architecture)
    check_architecture(cfg.data_file, table.x.shape[1:], cfg.architecture)
    order = torch.randperm(len(table.y), generator=g)[: cfg.n_samples]
    x = torch.from_numpy(table.x)[order].reshape(len(order), *shape)
    return _make(x, torch.from_numpy(table.y)[order], table.n_classes)


DATASETS: dict[str, Callable[[SimConfig, torch.Generator], Dataset]] = {
    fn.__name__: fn for fn in (gaussian, spirals, circles, xor, moons, digits, first_token, adding, stripes, majority,
                               file)
}


def input_dim_for(cfg: SimConfig) -> int:
    """Features per example (per time step for a recurrent network or the transformer on a sequence
    set; the pixels of one image for a CNN)."""
    if cfg.dataset in SEQUENCE_DATASETS:
        features = 2 if cfg.dataset == "adding" else FIRST_TOKEN_SYMBOLS
        return features if keeps_steps(cfg) else features * sequence_length(cfg)
    if cfg.dataset == "file":
        return math.prod(peek_shape(cfg.data_file, cfg.label_column).example)
    return {"gaussian": cfg.input_dim, "digits": DIGITS_SIDE**2, "stripes": STRIPES_SIZE**2}.get(cfg.dataset, 2)


class BatchSampler:
    """Draws training batches by walking random permutations of the data (epochs).

    A batch larger than the data set spans several permutations.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.g = n, batch_size, generator
        self._order = torch.empty(0, dtype=torch.long)

    def copy(self) -> "BatchSampler":
        """An independent sampler that will draw the same batches as this one from now on."""
        twin = BatchSampler(self.n, self.batch_size, torch.Generator().set_state(self.g.get_state()))
        twin._order = self._order.clone()
        return twin

    def next_indices(self) -> Tensor:
        while len(self._order) < self.batch_size:
            self._order = torch.cat([self._order, torch.randperm(self.n, generator=self.g)])
        idx, self._order = self._order[: self.batch_size], self._order[self.batch_size:]
        return idx
