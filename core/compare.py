"""Side-by-side comparison: configurations A and B trained in lockstep on the same data and batches.

`Comparer` drives two `Simulator`s through the same steps; each pass gives a
`Comparison`: both snapshots plus `GradRatio`, the per-layer log10 ratio of
gradient norms ‖∂L/∂z‖ of B over A.

Same data, same batches: a Simulator draws its data and its probe batch from
the seed alone, so A and B share them whenever they agree on the fields in
`unshared_fields` (dataset, n_samples, seed, batch_size, grad_accum, and
input_dim for the Gaussian data). The training batches come from the same
random stream as the init, after it, so their order depends on how many
random numbers the init drew (zeros: none; orthogonal: more than normal); B
therefore takes a copy of A's batch sampler (`Simulator.use_batches_of`) and
draws exactly A's batches. (This keeps every single Simulator's numbers as
they were; A in a comparison is A alone, B is B fed A's batch order.) A and B
may differ in the unshared fields too (a batch-size comparison is legitimate);
the comparison then says which fields make the data or batches differ instead
of refusing.

Different depths are compared over the common layers aligned at the output:
gradients are born at the loss and the backward pass multiplies them by one
Jacobian per layer, so the layer k-th from the output has been through the
same number of backward factors in both networks and the log ratio measures
the difference per factor. (Aligning at the input would mix in the extra
layers' factors.)

The A/B pair is saved as one session file (`save_pair` / `load_pair`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from torch import Tensor

from .architectures import layer_noun
from .config import ConfigError, SimConfig
from .report import describe_nonfinite
from .session import MAIN, Entry, Session, SessionError, load_session, save_session
from .simulator import Simulator
from .snapshot import Snapshot, frozen_array, json_float

NAMES = ("A", "B")

# flags of one aligned layer pair in GradRatio (log10_ratio value in brackets)
OK = "ok"                # both norms finite and > 0 (the finite log ratio)
A_ZERO = "a_zero"        # A's norm is exactly 0, B's is not (+inf)
B_ZERO = "b_zero"        # B's norm is exactly 0, A's is not (−inf)
BOTH_ZERO = "both_zero"  # both exactly 0 (NaN: undefined)
NONFINITE = "nonfinite"  # A's or B's norm is NaN/Inf (NaN)
FLAGS = (OK, A_ZERO, B_ZERO, BOTH_ZERO, NONFINITE)


def unshared_fields(a: SimConfig, b: SimConfig) -> tuple[str, ...]:
    """The fields in which A and B differ that give them different data or batches (empty: shared)."""
    names = ["dataset", "n_samples", "seed", "batch_size", "grad_accum"]  # a step draws batch_size × grad_accum
    if "gaussian" in (a.dataset, b.dataset):
        names.insert(2, "input_dim")  # only the Gaussian data has a configurable input dimension
    if "file" in (a.dataset, b.dataset):
        names[1:1] = ["data_file", "label_column"]  # the user's own data: which file, which labels
    return tuple(n for n in names if getattr(a, n) != getattr(b, n))


def differing_fields(a: SimConfig, b: SimConfig) -> tuple[str, ...]:
    """Every field in which B differs from A, in SimConfig order."""
    da, db = a.to_dict(), b.to_dict()
    return tuple(k for k in da if da[k] != db[k])


@dataclass(frozen=True)
class ConfigPair:
    """The two configurations of a comparison."""

    a: SimConfig
    b: SimConfig

    def replace(self, **changes: Any) -> "ConfigPair":
        """Both configs with `changes` applied (e.g. the device fallback)."""
        return ConfigPair(self.a.replace(**changes), self.b.replace(**changes))

    def to_dict(self) -> dict[str, Any]:
        return {"A": self.a.to_dict(), "B": self.b.to_dict()}

    def warning(self) -> str:
        """A sentence when A and B cannot share batches, else ''."""
        fields = unshared_fields(self.a, self.b)
        if not fields:
            return ""
        what = "data" if set(fields) - {"batch_size", "grad_accum"} else "batches"
        return (f"A and B differ in {', '.join(fields)}: they train on different {what}, "
                "so differences are not only due to the other changes")


@dataclass(frozen=True)
class GradRatio:
    """log10(‖g_B‖ / ‖g_A‖) per aligned layer pair (aligned at the output when depths differ).

    `layer_a`, `layer_b`: 1-based layer numbers paired; `flag`: one of FLAGS per
    pair, saying why a value is ±inf or NaN (see the module constants).
    """

    layer_a: np.ndarray
    layer_b: np.ndarray
    log10_ratio: np.ndarray
    flag: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form; ±inf and NaN are null (the flag says which)."""
        return {"layer_a": self.layer_a.tolist(), "layer_b": self.layer_b.tolist(),
                "log10_ratio": [json_float(v) for v in self.log10_ratio], "flag": list(self.flag)}


def grad_log_ratio(grad_a: np.ndarray, grad_b: np.ndarray) -> GradRatio:
    """Per-layer log10(grad_b / grad_a) over the common layers, aligned at the output."""
    ga, gb = np.asarray(grad_a, dtype=np.float64), np.asarray(grad_b, dtype=np.float64)
    k = min(len(ga), len(gb))
    ga, gb = ga[len(ga) - k:], gb[len(gb) - k:]
    layer_a = np.arange(len(grad_a) - k, len(grad_a)) + 1
    layer_b = np.arange(len(grad_b) - k, len(grad_b)) + 1
    bad = ~(np.isfinite(ga) & np.isfinite(gb))
    za, zb = (ga == 0) & ~bad, (gb == 0) & ~bad
    ratio = np.full(k, np.nan)
    ok = ~bad & ~za & ~zb
    ratio[ok] = np.log10(gb[ok]) - np.log10(ga[ok])  # a difference of logs: no overflow of gb/ga
    ratio[za & ~zb] = np.inf
    ratio[zb & ~za] = -np.inf
    flag = np.select([bad, za & zb, za, zb], [NONFINITE, BOTH_ZERO, A_ZERO, B_ZERO], default=OK)
    return GradRatio(frozen_array(layer_a, np.int64), frozen_array(layer_b, np.int64), frozen_array(ratio),
                     tuple(str(f) for f in flag))


@dataclass(frozen=True)
class Comparison:
    """One lockstep pass of A and B: both snapshots and the gradient-norm log ratio."""

    a: Snapshot
    b: Snapshot
    diff: GradRatio

    @property
    def step(self) -> int:
        return max(self.a.step, self.b.step)

    @property
    def kind(self) -> str:
        return self.a.kind

    @property
    def nonfinite(self) -> bool:
        return self.a.nonfinite or self.b.nonfinite

    def diverged(self) -> tuple[str, ...]:
        """Which of 'A', 'B' produced a NaN/Inf in this pass."""
        return tuple(n for n, s in zip(NAMES, (self.a, self.b)) if s.nonfinite)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "kind": self.kind, "A": self.a.to_dict(), "B": self.b.to_dict(),
                "difference": self.diff.to_dict()}

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per aligned layer pair: both gradient norms, the ratio and its flag, a few scalars."""
        rows = []
        for i, (la, lb) in enumerate(zip(self.diff.layer_a, self.diff.layer_b)):
            row: dict[str, Any] = {"step": self.step, "kind": self.kind, "layer_a": int(la), "layer_b": int(lb)}
            for name, snap, layer in (("a", self.a, la), ("b", self.b, lb)):
                row[f"grad_norm_{name}"] = json_float(snap.layers.grad_norm[layer - 1])
                row[f"act_std_{name}"] = json_float(snap.layers.act_std[layer - 1])
            row["log10_ratio"] = _csv_float(self.diff.log10_ratio[i])
            row["flag"] = self.diff.flag[i]
            for name, snap in (("a", self.a), ("b", self.b)):
                row[f"loss_{name}"] = json_float(snap.loss)
                row[f"accuracy_{name}"] = json_float(snap.accuracy)
                row[f"nonfinite_{name}"] = snap.nonfinite
            rows.append(row)
        return rows


CSV_COLUMNS = ("step", "kind", "layer_a", "layer_b", "grad_norm_a", "act_std_a", "grad_norm_b", "act_std_b",
               "log10_ratio", "flag", "loss_a", "accuracy_a", "nonfinite_a", "loss_b", "accuracy_b", "nonfinite_b")


def _csv_float(x: float) -> Any:
    """CSV keeps ±inf readable (float('inf') parses it); NaN is an empty cell (the flag says why)."""
    return "" if math.isnan(x) else (x if math.isfinite(x) else ("inf" if x > 0 else "-inf"))


def compare(a: Snapshot, b: Snapshot) -> Comparison:
    return Comparison(a, b, grad_log_ratio(a.layers.grad_norm, b.layers.grad_norm))


class Comparer:
    """Two Simulators stepped together: same number of passes, same batches (see the module docstring).
    A core.engine.Engine whose passes give Comparisons.

    `cpu_after`: as for Simulator, the ConfigError with which 'cuda' was refused; both sides are
    then built on the CPU, and `pair` holds the configurations as run (device 'cpu').
    """

    def __init__(self, pair: ConfigPair, *, cpu_after: ConfigError | None = None):
        if cpu_after is not None:
            pair = pair.replace(device="cpu")
        self.pair = pair
        self.sim_a = Simulator(pair.a, cpu_after=cpu_after)
        self.sim_b = Simulator(pair.b, cpu_after=cpu_after)
        if not unshared_fields(pair.a, pair.b):
            self.sim_b.use_batches_of(self.sim_a)
        ra, rb = self.sim_a.device_reason, self.sim_b.device_reason
        self.device_reason = ra if ra == rb else f"A: {ra}; B: {rb}"

    @property
    def device(self) -> str:
        da, db = str(self.sim_a.device), str(self.sim_b.device)
        return da if da == db else f"A: {da}; B: {db}"

    @property
    def steps_done(self) -> int:
        return max(self.sim_a.steps_done, self.sim_b.steps_done)

    def probe(self) -> Comparison:
        """Both networks on the same fixed probe batch, no update."""
        return compare(self.sim_a.probe(), self.sim_b.probe())

    def probe_inputs(self) -> tuple[Tensor, Tensor]:
        """Simulator.probe_inputs() of A and of B (the same values when they share their data)."""
        return self.sim_a.probe_inputs(), self.sim_b.probe_inputs()

    def trail(self) -> tuple[tuple, tuple]:
        """Simulator.trail() of A and of B for the last step(n) call."""
        return self.sim_a.trail(), self.sim_b.trail()

    def step(self, n: int = 1, stop: Callable[[], bool] | None = None, *, trail: bool = True) -> Comparison:
        """Train both n steps (fewer if one goes non-finite, or `stop` says so; `trail`: see Simulator.step)."""
        start = self.sim_a.steps_done
        sa = self.sim_a.step(n, stop, trail=trail)
        sb = self.sim_b.step(sa.step - start, trail=trail)  # A may have stopped early (non-finite, or asked to)
        if sb.nonfinite and sb.step < sa.step:
            # B failed first, but A has gone past that step: replay A from its seed up to B's
            # step (a Simulator is deterministic for a config and seed), so both show the same step
            self.sim_a = Simulator(self.pair.a)  # (B's batches were copied from a sampler in this same state)
            sa = self.sim_a.step(sb.step, trail=trail)
        return compare(sa, sb)


def describe_divergence(c: Comparison, pair: ConfigPair) -> str:
    """'B diverged: non-finite value at step 12, layer 3 (backward pass)' for every diverged side,
    each located with its own architecture's noun (time step, block, …) from `pair`."""
    parts = []
    for name in c.diverged():
        snap, config = (c.a, pair.a) if name == "A" else (c.b, pair.b)
        parts.append(f"{name} diverged: {describe_nonfinite(snap, layer_noun(config.architecture))}")
    return "; ".join(parts)


# --- session file ------------------------------------------------------------------------
# An A/B pair is a session (core/session.py) with the configurations named "a" and "b".
SESSION_NAMES = ("a", "b")


def save_pair(path: Path | str, pair: ConfigPair) -> None:
    """Write A and B as one session file, atomically."""
    save_session(path, pair_session(pair))


def pair_session(pair: ConfigPair) -> Session:
    return Session({name: Entry(cfg) for name, cfg in zip(SESSION_NAMES, (pair.a, pair.b))})


def is_pair(session: Session) -> bool:
    """Whether `session` is an A/B comparison (it has "a" and "b" and no window's "main")."""
    return MAIN not in session.entries and all(name in session.entries for name in SESSION_NAMES)


def session_pair(session: Session, source: str = "session") -> ConfigPair:
    """A and B of a session; SessionError if it does not hold both."""
    entries = [session.entries.get(name) for name in SESSION_NAMES]
    if any(e is None for e in entries):
        raise SessionError(f"{source} holds no A/B comparison: \"configs\" needs \"a\" and \"b\", "
                           f"it has {', '.join(map(repr, session.entries))}")
    return ConfigPair(entries[0].config, entries[1].config)


def load_pair(path: Path | str) -> ConfigPair:
    """Read an A/B session; SessionError says what is wrong (and nothing is returned)."""
    return session_pair(load_session(path), Path(path).name)
