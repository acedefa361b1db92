"""Immutable results of a forward/backward pass: `Snapshot` and its per-layer `LayerStats`.

Snapshots hold only small read-only NumPy arrays (never tensors). Per-layer
quantities are stored as arrays over layers (input side first) so plots can
draw a thousand layers with one `setData`; `Snapshot.layer_dicts()` gives the
one-dict-per-layer JSON view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

# Per-layer scalar series, in the order the JSON and CSV list them.
LAYER_SCALARS = (
    "preact_mean", "preact_std", "act_mean", "act_std", "saturated_frac", "dead_frac",
    "grad_norm", "weight_norm", "weight_grad_norm", "grad_to_weight", "update_to_weight", "grad_noise",
    "act_nonfinite", "grad_nonfinite", "unit_spread",
)
# Added after files were first written: a snapshot without them reads them as NaN (not measured).
ADDED_LAYER_SCALARS = ("unit_spread",)
SNAPSHOT_SCALARS = (
    "step", "kind", "loss", "accuracy", "lr", "grad_norm_total", "grad_norm_clipped", "clipped",
    "nonfinite", "nonfinite_layer", "nonfinite_stage",
)


def frozen_array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    """A read-only NumPy copy of `values`."""
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def json_float(x: float) -> float | None:
    """JSON has no NaN or infinity: non-finite values become null (flags say why)."""
    x = float(x)
    return x if math.isfinite(x) else None


def from_json_float(x: Any, where: str) -> float:
    """The inverse of `json_float`: a number, or NaN for null (JSON cannot tell NaN from ±Inf)."""
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{where}: expected a number or null, got {x!r}")
    return float(x)


def _field(data: Any, key: str, where: str, kinds: tuple[type, ...], optional: bool = False) -> Any:
    """data[key], checked to be one of `kinds` (None allowed when `optional`)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if key not in data:
        raise ValueError(f"{where}: missing {key!r}")
    value = data[key]
    if value is None and optional:
        return None
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ValueError(f"{where}.{key}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


@dataclass(frozen=True)
class LayerStats:
    """Per-hidden-layer statistics; each scalar series has shape [depth].

    Histograms: `*_hist_counts` [depth, bins] over the finite values only, with
    `*_hist_edges` [depth, bins+1]; non-finite values are counted in
    `act_nonfinite` / `grad_nonfinite` instead. `update_to_weight` is all NaN
    for a probe (no update was made). `grad_noise` is the noise-to-signal ratio of
    the layer's weight gradient over the step's effective batch (core/noise.py).
    `unit_spread` is how different the layer's units are (core/symmetry.py): 0 when
    they are all copies of one unit.
    """

    preact_mean: np.ndarray
    preact_std: np.ndarray
    act_mean: np.ndarray
    act_std: np.ndarray
    act_hist_counts: np.ndarray
    act_hist_edges: np.ndarray
    saturated_frac: np.ndarray
    dead_frac: np.ndarray
    grad_norm: np.ndarray
    grad_hist_counts: np.ndarray
    grad_hist_edges: np.ndarray
    weight_norm: np.ndarray
    weight_grad_norm: np.ndarray
    grad_to_weight: np.ndarray
    update_to_weight: np.ndarray
    act_nonfinite: np.ndarray
    grad_nonfinite: np.ndarray
    grad_noise: np.ndarray
    unit_spread: np.ndarray

    @property
    def depth(self) -> int:
        return len(self.grad_norm)

    def layer_dict(self, i: int, has_update: bool = True) -> dict[str, Any]:
        """JSON-ready statistics of layer i (0-based index)."""
        out: dict[str, Any] = {"layer": i + 1}
        for name in LAYER_SCALARS:
            if name == "update_to_weight" and not has_update:
                continue
            value = getattr(self, name)[i]
            out[name] = int(value) if name.endswith("nonfinite") else json_float(value)
        for prefix in ("act", "grad"):
            out[f"{prefix}_hist"] = {
                "counts": [int(c) for c in getattr(self, f"{prefix}_hist_counts")[i]],
                "edges": [json_float(e) for e in getattr(self, f"{prefix}_hist_edges")[i]],
            }
        return out


@dataclass(frozen=True)
class Snapshot:
    """One pass: `kind` is 'probe' (no update) or 'step' (a training step).

    `step` counts updates made so far (a step snapshot carries the statistics of
    the pass that made update number `step`). `grad_norm_total` is the global
    gradient norm before clipping, `grad_norm_clipped` after. `nonfinite_layer`
    is the 1-based hidden layer where a NaN/Inf first appeared (None when none
    did or when it was only in the loss), `nonfinite_stage` one of 'forward',
    'loss', 'backward', 'update'. `lr` is the effective learning rate of the update
    (warm-up applied); a probe carries that of the next update.
    """

    step: int
    kind: str
    loss: float
    accuracy: float
    lr: float
    grad_norm_total: float
    grad_norm_clipped: float
    clipped: bool
    nonfinite: bool
    nonfinite_layer: int | None
    nonfinite_stage: str | None
    layers: LayerStats

    @property
    def depth(self) -> int:
        return self.layers.depth

    @property
    def nbytes(self) -> int:
        """Memory held by the per-layer arrays."""
        return sum(getattr(self.layers, name).nbytes for name in LAYER_STAT_FIELDS)

    @property
    def has_update(self) -> bool:
        return self.kind == "step"

    def layer_dicts(self) -> list[dict[str, Any]]:
        return [self.layers.layer_dict(i, self.has_update) for i in range(self.depth)]

    def scalars(self) -> dict[str, Any]:
        """The per-snapshot scalars, JSON-ready."""
        out: dict[str, Any] = {}
        for name in SNAPSHOT_SCALARS:
            value = getattr(self, name)
            out[name] = json_float(value) if isinstance(value, float) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: scalars, then `layers`, one dict per hidden layer."""
        return {**self.scalars(), "layers": self.layer_dicts()}

    @classmethod
    def from_dict(cls, data: Any, where: str = "snapshot") -> "Snapshot":
        """Rebuild a snapshot from `to_dict()`'s form; ValueError naming the bad part.

        Non-finite numbers were written as null and come back as NaN; the
        non-finite flags and counts are kept exactly. A probe's missing
        `update_to_weight` comes back as NaN, as the simulator makes it, and so does a
        missing `unit_spread` (a file written before it was measured).
        """
        kind = _field(data, "kind", where, (str,))
        if kind not in ("probe", "step"):
            raise ValueError(f"{where}.kind: expected 'probe' or 'step', got {kind!r}")
        step = _field(data, "step", where, (int,))
        layer_list = _field(data, "layers", where, (list,))
        if not layer_list:
            raise ValueError(f"{where}.layers: a snapshot has at least one layer")
        series: dict[str, list] = {name: [] for name in LAYER_STAT_FIELDS}
        for i, layer in enumerate(layer_list):
            at = f"{where}.layers[{i}]"
            for name in LAYER_SCALARS:
                if (name == "update_to_weight" and kind == "probe") or (name in ADDED_LAYER_SCALARS
                                                                          and name not in layer):
                    series[name].append(math.nan)
                elif name.endswith("nonfinite"):
                    series[name].append(_field(layer, name, at, (int,)))
                else:
                    series[name].append(from_json_float(_field(layer, name, at, (int, float), True), f"{at}.{name}"))
            for prefix in ("act", "grad"):
                hist = _field(layer, f"{prefix}_hist", at, (dict,))
                counts = _field(hist, "counts", f"{at}.{prefix}_hist", (list,))
                edges = _field(hist, "edges", f"{at}.{prefix}_hist", (list,))
                if len(edges) != len(counts) + 1 or (i and len(counts) != len(series[f"{prefix}_hist_counts"][0])):
                    raise ValueError(f"{at}.{prefix}_hist: {len(counts)} counts and {len(edges)} edges "
                                     "(expected n and n+1, the same n in every layer)")
                if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
                    raise ValueError(f"{at}.{prefix}_hist.counts: expected integers")
                series[f"{prefix}_hist_counts"].append(counts)
                series[f"{prefix}_hist_edges"].append([from_json_float(e, f"{at}.{prefix}_hist.edges")
                                                       for e in edges])
        ints = {"act_hist_counts", "grad_hist_counts", "act_nonfinite", "grad_nonfinite"}
        layers = LayerStats(**{k: frozen_array(v, np.int64 if k in ints else np.float64) for k, v in series.items()})
        stage = _field(data, "nonfinite_stage", where, (str,), optional=True)
        return cls(
            step=step, kind=kind,
            **{k: from_json_float(_field(data, k, where, (int, float), True), f"{where}.{k}")
               for k in ("loss", "accuracy", "lr", "grad_norm_total", "grad_norm_clipped")},
            clipped=_field(data, "clipped", where, (bool,)),
            nonfinite=_field(data, "nonfinite", where, (bool,)),
            nonfinite_layer=_field(data, "nonfinite_layer", where, (int,), optional=True),
            nonfinite_stage=stage, layers=layers,
        )

    def csv_rows(self) -> list[dict[str, Any]]:
        """One flat row per layer (histograms left out) for CSV export."""
        head = self.scalars()
        rows = []
        for i in range(self.depth):
            row = dict(head)
            row["layer"] = i + 1
            for name in LAYER_SCALARS:
                value = getattr(self.layers, name)[i]
                row[name] = "" if name == "update_to_weight" and not self.has_update else (
                    int(value) if name.endswith("nonfinite") else json_float(value))
            rows.append(row)
        return rows


CSV_COLUMNS = (*SNAPSHOT_SCALARS, "layer", *LAYER_SCALARS)
LAYER_STAT_FIELDS = tuple(f.name for f in fields(LayerStats))
