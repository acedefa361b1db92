"""How much memory a configuration needs, checked before anything is built.

`estimate(cfg)` counts the bytes of everything the simulator keeps at its peak,
a training pass: parameters, their gradients and optimizer state, the data set,
the per-layer tensors autograd keeps for backward, the statistics' temporaries
(one layer at a time, and the sampled rows), and the recorded history.
`check_fits(cfg)` refuses a configuration whose estimate exceeds the limit: the
smaller of a budget (``--memory-budget MB`` or the environment variable
``VP_MEMORY_BUDGET_MB``) and 90 % of the device's free memory (MemAvailable in
/proc/meminfo, or ``torch.cuda.mem_get_info``). Better a clear refusal than the
operating system's OOM killer ending the program (and the lesson) without a word.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from .architectures import get_architecture
from .config import (IMAGE_ARCHITECTURES, RECURRENT_ARCHITECTURES, SEQUENCE_DATASETS, USER_ARCHITECTURES, ConfigError,
                     SimConfig, sequence_length)
from .data import FIRST_TOKEN_SYMBOLS, STRIPES_ANGLES, input_dim_for, keeps_steps
from .data_files import MAX_CLASSES, known_classes, peek_shape
from .optim import applied_update
from .stats import HIST_BINS, HIST_MAX_VALUES

BUDGET_ENV = "VP_MEMORY_BUDGET_MB"
MB = 1024 * 1024
DIGITS_SAMPLES = 1797  # images in resources/data/digits.csv.gz (tests/core/test_memory.py checks the shape)
FREE_SHARE = 0.9  # leave a tenth of the free memory to the window, the OS and the other programs
F32, I64 = 4, 8

# Per hidden layer, [batch, width] float32 tensors alive at the peak of an instrumented pass:
# z, the activation output a, one intermediate of the activation (shifted_relu, selu, ...),
# z.grad kept by the trace and ∂L/∂a on its way back; plus u with a normalization and
# h + a on a residual path. (Calibrated on the process's peak RSS, see tests/core/test_memory.py.)
LAYER_TENSORS = 5
# a recurrent pass also keeps each step's input [h_{t-1} | x_t], its stacked copy and the stacked
# ∂L/∂z for the per-step weight gradients (and the LSTM its gate products): calibrated, see tests
RECURRENT_EXTRA_TENSORS = 3
# A NumPy snapshot: 13 per-layer float64 series and two [L, bins] counts and [L, bins+1] edges.
SNAPSHOT_LAYER_BYTES = (13 + 2 * HIST_BINS + 2 * (HIST_BINS + 1)) * 8
# The CLI's JSON of one layer of one snapshot, alive at once before writing: Python dicts and
# lists of ~215 numbers (~32 bytes each with the list slot) plus ~3 kB of text. Measured ~9.5 kB.
JSON_LAYER_BYTES = 12_000
# The GUI's History: [capacity, depth] float64 rings for grad_norm and update_to_weight.
GUI_HISTORY_SNAPSHOTS = 400

_budget_mb: float | None = None


class MemoryLimitError(ConfigError):
    """The configuration would not fit; the message has the estimate and the limit."""

    def __init__(self, message: str):
        super().__init__("memory", message)


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per part; `total` is their sum."""

    parameters: int   # weights, biases, normalization parameters and buffers
    gradients: int
    optimizer: int    # momentum / Adam moments, and the copy of W where ΔW is measured (optim.applied_update)
    data: int
    activations: int  # per-layer tensors kept for backward (and their gradients)
    statistics: int   # the statistics' temporaries (one layer's, and the sampled rows)
    history: int      # recorded snapshots (CLI) or the plots' history (GUI)

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def describe(self) -> str:
        parts = sorted(((getattr(self, f.name), f.name) for f in fields(self)), reverse=True)
        return ", ".join(f"{name} {format_bytes(n)}" for n, name in parts[:3] if n)


def data_shape(cfg: SimConfig) -> tuple[int, int, int]:
    """(samples, input features as the network sees them, classes) of the data set `cfg` makes
    (see core.data; per time step for a recurrent network on a sequence set)."""
    classes = {"digits": 10, "first_token": FIRST_TOKEN_SYMBOLS, "majority": FIRST_TOKEN_SYMBOLS,
               "stripes": len(STRIPES_ANGLES)}.get(cfg.dataset, 2)
    samples = min(cfg.n_samples, DIGITS_SAMPLES) if cfg.dataset == "digits" else cfg.n_samples
    if cfg.dataset == "file":  # the classes of a file not read yet: at most the cap
        classes = known_classes(cfg.data_file, cfg.label_column) or MAX_CLASSES
        samples = min(cfg.n_samples, peek_shape(cfg.data_file, cfg.label_column).n)
    return samples, input_dim_for(cfg), classes


def estimate(cfg: SimConfig, recorded_snapshots: int = 0, gui: bool = False) -> MemoryEstimate:
    """Peak bytes `cfg` needs on its device, plus `recorded_snapshots` kept by the CLI
    (or, with `gui`, the window's bounded history)."""
    L, W, B = cfg.depth, cfg.width, cfg.batch_size
    n, d, k = data_shape(cfg)
    if cfg.architecture in USER_ARCHITECTURES:
        # the user's network is whatever their factory builds, unknown until it runs: only the data is counted
        return MemoryEstimate(0, 0, 0, n * d * F32 + n * I64 + _file_bytes(cfg), 0, 0, 0)
    reconstruct = get_architecture(cfg.architecture).reconstruct
    if reconstruct:
        k = d  # the decoder's outputs reconstruct the d input features
    norm = cfg.normalization != "none"
    recurrent = cfg.architecture in RECURRENT_ARCHITECTURES
    steps_in_data = sequence_length(cfg) if keeps_steps(cfg) and cfg.dataset in SEQUENCE_DATASETS else 1
    if recurrent:  # one cell of G gates shared by every step; each step's tensors are G·W wide
        gates = 4 if cfg.architecture == "lstm" else 1
        weights = gates * W * (W + d)
        params = weights + gates * W + W * k + k + (2 * gates * W if norm else 0)
        W *= gates
    elif cfg.architecture in IMAGE_ARCHITECTURES:  # 3×3 kernels: one input channel, then width → width
        weights = 9 * W + (L - 1) * 9 * W * W
        params = weights + L * W + W * k + k + (2 * L * W if norm else 0)
    elif cfg.architecture == "transformer":  # per block W_q, W_k, W_v, W_o (W×W) and W₁, W₂ (W×4W)
        weights = L * 12 * W * W
        params = weights + d * W + W + L * 13 * W + (2 * W if cfg.norm_position == "pre" else 0) + W * k + k
    else:
        weights = d * W + (L - 1) * W * W
        params = weights + L * W + W * k + k + (2 * L * W if norm else 0)
    buffers = 2 * L * W if cfg.normalization == "batchnorm" else 0
    # A CNN's probe point holds every position of its feature maps (at most the input's pixels, d);
    # a transformer block's, its MLP's 4·width units at every one of seq_len positions. (Not calibrated
    # like the MLP's figures: an estimate of the order of magnitude.)
    if cfg.architecture in IMAGE_ARCHITECTURES:
        W *= d
    elif cfg.architecture == "transformer":
        W *= 4 * cfg.seq_len
    moments = {"sgd": 0, "momentum": 1, "adam": 2}.get(cfg.optimizer, 2)
    layer = L * B * W * F32
    # core.stats works one layer at a time: |φ′| and a temporary of one layer; a recurrent
    # network's abs_derivative stacks its steps' u and |φ′|
    stacked = 2 if recurrent else 0
    rows = max(1, min(B, -(-HIST_MAX_VALUES // W)))
    hist = L * rows * W * (F32 + I64 + F32 + F32 + 1)  # sampled values, layer index, positions, mask
    history = L * (SNAPSHOT_LAYER_BYTES + JSON_LAYER_BYTES) * recorded_snapshots
    if gui:
        history += GUI_HISTORY_SNAPSHOTS * L * 2 * 8 + L * SNAPSHOT_LAYER_BYTES * 4
    return MemoryEstimate(
        parameters=(params + buffers) * F32,
        gradients=params * F32,
        optimizer=(moments * params + (weights if applied_update(cfg) == "measured" else 0)) * F32,
        # a reconstruction's targets are x itself: no labels
        data=n * steps_in_data * d * F32 + (0 if reconstruct else n * I64) + _file_bytes(cfg),
        activations=layer * (LAYER_TENSORS + (1 if norm else 0) + (1 if cfg.architecture == "residual" else 0)
                             + (RECURRENT_EXTRA_TENSORS if recurrent else 0)),
        statistics=layer * stacked + 2 * B * W * F32 + hist,
        history=history,
    )


def _file_bytes(cfg: SimConfig) -> int:
    """A data file is held whole as float32 (core.data_files caches it) besides the subset in use."""
    if cfg.dataset != "file":
        return 0
    shape = peek_shape(cfg.data_file, cfg.label_column)
    return shape.values * F32 + shape.n * I64


def set_budget_mb(mb: float | None) -> None:
    """A process-wide budget (from --memory-budget); None: use VP_MEMORY_BUDGET_MB, if set."""
    global _budget_mb
    if mb is not None and not (mb > 0 and mb != float("inf")):
        raise ConfigError("--memory-budget", f"expected a positive number of MiB, got {mb!r}")
    _budget_mb = mb


def budget_bytes() -> tuple[int | None, str]:
    """The set budget in bytes and where it came from, or (None, '')."""
    if _budget_mb is not None:
        return int(_budget_mb * MB), "--memory-budget"
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return None, ""
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not (mb > 0 and mb != float("inf")):
        raise ConfigError(BUDGET_ENV, f"expected a positive number of MiB, got {raw!r}")
    return int(mb * MB), BUDGET_ENV


def free_bytes(device: torch.device) -> tuple[int | None, str]:
    """Free memory of `device` and where the figure comes from; (None, '') when unknown."""
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
            return int(free), "free CUDA memory"
        except (RuntimeError, AssertionError):
            return None, ""
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable"
        except (OSError, ValueError, IndexError):
            pass
    return None, ""  # elsewhere: no portable figure without a dependency; only a budget applies


def default_device(cfg: SimConfig) -> torch.device:
    """The device `cfg` would run on (the GUI falls back to the CPU when CUDA is missing)."""
    return torch.device("cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu")


def limit_bytes(device: torch.device) -> tuple[int | None, str]:
    """The smaller of the budget and FREE_SHARE of the free memory, with a phrase saying which."""
    budget, source = budget_bytes()
    free, what = free_bytes(device)
    candidates = []
    if budget is not None:
        candidates.append((budget, f"the {format_bytes(budget)} budget set by {source}"))
    if free is not None:
        candidates.append((int(free * FREE_SHARE), f"{FREE_SHARE:.0%} of the {format_bytes(free)} {what}"))
    if not candidates:
        return None, ""
    return min(candidates)


def check_fits(cfg: SimConfig, device: torch.device | None = None, recorded_snapshots: int = 0,
               gui: bool = False) -> MemoryEstimate:
    """The estimate for `cfg`; raises MemoryLimitError when it exceeds the limit."""
    device = default_device(cfg) if device is None else torch.device(device)
    need = estimate(cfg, recorded_snapshots, gui)
    limit, why = limit_bytes(device)
    if limit is not None and need.total > limit:
        raise MemoryLimitError(
            f"depth {cfg.depth} × width {cfg.width} × batch_size {cfg.batch_size} needs about "
            f"{format_bytes(need.total)} ({need.describe()}), more than the limit of {format_bytes(limit)} "
            f"({why}); reduce depth, width or batch_size")
    return need
