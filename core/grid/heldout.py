"""A held-out sample for a config's data set, drawn without touching the Simulator's own draws.

The Simulator draws its training set, network and batches from one generator seeded
with `config.seed`; a grid cell trains exactly that (so the cell's config, loaded into
the window, repeats the cell's training). The held-out examples come from elsewhere:

- digits: the images the training subset left out, standardized with the training
  subset's own mean and std (none are left when n_samples >= 1797);
- gaussian: fresh inputs labelled by the training set's own teacher w;
- the synthetic sets (spirals, circles, xor, moons, first_token, adding): a fresh draw of
  the same process from a seed derived from config.seed, standardized on its own
  (as every data set here is; its mean and std differ from the training draw's by
  sampling noise, about 1/√n).
"""
from __future__ import annotations

import torch

from ..config import SimConfig
from ..data import DATASETS, Dataset, load_digits_array

HELD_OUT_SIZE = 512
HELD_OUT_SEED_OFFSET = 7_919_003   # far from the seeds a grid's seeds use (seed, seed + 1, ...)


def held_out_seed(cfg: SimConfig) -> int:
    return (cfg.seed + HELD_OUT_SEED_OFFSET) % (2 ** 63)


def held_out(cfg: SimConfig, size: int = HELD_OUT_SIZE) -> Dataset | None:
    """Up to `size` examples that the training set of `cfg` does not hold; None when there are none."""
    n = min(size, cfg.n_samples)
    if cfg.dataset == "digits":
        return _digits_rest(cfg, size)
    if cfg.dataset == "gaussian":
        train = torch.Generator().manual_seed(cfg.seed)
        torch.randn(cfg.n_samples, cfg.input_dim, generator=train)   # the training inputs (as core.data draws them)
        w = torch.randn(cfg.input_dim, generator=train)              # then the teacher
        x = torch.randn(n, cfg.input_dim, generator=torch.Generator().manual_seed(held_out_seed(cfg)))
        return Dataset(x.contiguous(), (x @ w > 0).long(), 2)
    small = cfg.replace(n_samples=max(n, 16), batch_size=min(cfg.batch_size, max(n, 16)), grad_accum=1)
    return DATASETS[cfg.dataset](small, torch.Generator().manual_seed(held_out_seed(cfg)))


def _digits_rest(cfg: SimConfig, size: int) -> Dataset | None:
    x, y = load_digits_array()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.seed))  # core.data.digits' draw
    train, rest = order[: cfg.n_samples], order[cfg.n_samples:][:size]
    if len(rest) == 0:
        return None
    xt = torch.from_numpy(x).double()
    mean, std = xt[train].mean(0, keepdim=True), xt[train].std(0, keepdim=True)
    held = (xt[rest] - mean) / torch.where(std > 0, std, torch.ones_like(std))
    return Dataset(held.float().contiguous(), torch.from_numpy(y)[rest].long().contiguous(), 10)
