"""Any configuration a user can type either is refused naming the field, or probes and trains
without an exception, with every statistic finite or its snapshot flagged non-finite.

Sizes are drawn small except for deliberate extremes, so 300 examples run in well under a minute:
the "small" shape keeps depth ≤ 8, width ≤ 32, batch ≤ 64 (depth·width·batch ≤ 16 384 and
depth·width² ≤ 8 192); the extremes are depth 1000 with width ≤ 2 and batch ≤ 4, and width 4096
with depth 1 and batch ≤ 4 (no 4096 × 4096 matrix is ever built). Data: n_samples·input_dim ≤ 2·10⁵.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import ConfigError, SimConfig, Simulator, Snapshot
from core import config as C
from core.simulator import _first_nonfinite
from core.stats import HIST_MAX_VALUES, histograms

STAGES = {"forward", "loss", "backward", "update"}
NAN, INF = float("nan"), float("inf")

RECURRENT = ("rnn", "lstm")
# the built-in networks and data sets; the user's own model and data need files, and are tested
# in tests/core/test_user_model.py and test_user_data.py
BUILT_IN_ARCHITECTURES = tuple(a for a in C.ARCHITECTURES if a not in C.USER_ARCHITECTURES)
BUILT_IN_DATASETS = tuple(d for d in C.DATASET_NAMES if d != "file")


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(f"{10 ** e:.3g}"))


# field -> (valid values, invalid values: out of range, non-finite, wrong type, unknown name)
NAMES = {
    "architecture": (BUILT_IN_ARCHITECTURES * 4, ["vit", "", 3, None]),
    "activation": (C.ACTIVATION_NAMES, ["rleu", "Tanh", 1.0]),
    "init": (C.INIT_NAMES, ["kaiming", "he", None]),
    "init_mode": (C.INIT_MODES, ["fan_avg", 0]),
    "normalization": (C.NORMALIZATIONS, ["groupnorm", True]),
    "dataset": (BUILT_IN_DATASETS, ["mnist", ["spirals"]]),
    "optimizer": (C.OPTIMIZERS, ["lbfgs", "SGD"]),
    "clip_mode": (C.CLIP_MODES, ["global", 2]),
    "device": (("cpu", "auto", "cuda"), ["gpu", "tpu", 0]),
}
NUMBERS = {
    "leaky_slope": (st.floats(0, 1), [-0.1, 1.5, NAN, "0.1"]),
    "init_std": (st.one_of(st.just(0.0), st.just(1e3), log_uniform(1e-4, 10)), [-1.0, NAN, INF]),
    "init_gain": (st.one_of(st.just(1e3), log_uniform(1e-3, 10)), [0.0, -2.0, INF]),
    "bias_std": (st.one_of(st.just(0.0), st.just(1e3), log_uniform(1e-4, 10)), [-1.0, NAN]),
    "lr": (st.one_of(st.just(1e3), log_uniform(1e-6, 1e3)), [0.0, -0.1, NAN, INF, "fast"]),
    "momentum": (st.floats(0, 0.999), [1.0, -0.5, INF]),
    "clip_threshold": (st.one_of(st.just(1e-12), log_uniform(1e-12, 1e3)), [0.0, -1.0, NAN]),
    "seed": (st.one_of(st.integers(0, 1000), st.just(2**63 - 1)), [-1, 2**63, 1.5, "7"]),
    "weight_decay": (st.one_of(st.just(0.0), log_uniform(1e-6, 1.0)), [-0.1, NAN, INF]),
    "grad_accum": (st.sampled_from([1, 1, 2, 4]), [0, C.MAX_GRAD_ACCUM + 1, 1.5]),
    "warmup_steps": (st.sampled_from([0, 0, 1, 20]), [-1, C.MAX_WARMUP_STEPS + 1]),
}
BAD_SIZES = {"depth": [0, -3, 1001, 2.5, True], "width": [0, 4097, "8"], "batch_size": [0, -1],
             "input_dim": [0, 4097], "n_samples": [15, 100_001]}


@st.composite
def shapes(draw, bad: set[str]):
    """depth, width, batch, input_dim, n_samples: small, or one deliberate extreme."""
    kind = draw(st.sampled_from(["small"] * 36 + ["deep", "wide", "wide", "many_samples"]))
    depth, width, batch = draw(st.integers(1, 8)), draw(st.integers(1, 32)), draw(st.integers(1, 64))
    input_dim, n_samples = draw(st.integers(1, 16)), draw(st.integers(16, 256))
    if kind == "deep":
        depth, width, batch = 1000, draw(st.integers(1, 2)), draw(st.integers(1, 4))
    elif kind == "wide":
        depth, width, batch = 1, 4096, draw(st.integers(1, 4))
        input_dim = draw(st.sampled_from([1, 16, 4096]))
        n_samples = 16 if input_dim == 4096 else n_samples
    elif kind == "many_samples":
        n_samples, input_dim = draw(st.sampled_from([100_000, 50_000])), draw(st.integers(1, 2))
    dims = dict(depth=depth, width=width, batch_size=batch, input_dim=input_dim, n_samples=n_samples)
    return {k: draw(st.sampled_from(BAD_SIZES[k])) if k in bad else v for k, v in dims.items()}


ALL_FIELDS = sorted([*NAMES, *NUMBERS, *BAD_SIZES])


@st.composite
def raw_configs(draw):
    """(kwargs for SimConfig.from_dict, the set of fields drawn invalid).

    Half the configurations have every field valid, the others one to three invalid fields.
    (Fields are not each made invalid with a small probability: Hypothesis correlates draws,
    which left only a fifth of the examples valid.)
    """
    n_bad = draw(st.sampled_from([0, 0, 0, 1, 2, 3]))
    bad = draw(st.sets(st.sampled_from(ALL_FIELDS), min_size=n_bad, max_size=n_bad))
    kwargs = draw(shapes(bad))
    for name, (valid, invalid) in {**NAMES, **NUMBERS}.items():
        if name in bad:
            kwargs[name] = draw(st.sampled_from(invalid))
        else:
            kwargs[name] = draw(valid if isinstance(valid, st.SearchStrategy) else st.sampled_from(valid))
    if kwargs["architecture"] == "transformer" and isinstance(kwargs["width"], int) and kwargs["width"] > 64:
        # a 4096-wide block holds 12·4096² weights (0.8 GB, 4 GB with Adam): not a quick example
        kwargs["width"] = 64
    return kwargs, bad


def expected_bad(kwargs: dict, bad: set[str]) -> set[str]:
    """The fields an error may name: the ones drawn invalid plus failed cross-field rules."""
    out = set(bad)
    if not bad & {"batch_size", "n_samples"} and kwargs["batch_size"] > kwargs["n_samples"]:
        out.add("batch_size")
    if "batch_size" not in bad and kwargs["normalization"] == "batchnorm" and kwargs["batch_size"] < 2:
        out.add("batch_size")
    if not bad & {"batch_size", "n_samples", "grad_accum"} and \
            kwargs["batch_size"] * kwargs["grad_accum"] > kwargs["n_samples"]:
        out.add("grad_accum")
    # the data each of the cnn, residual_cnn and transformer takes, and the transformer's heads
    if "architecture" not in bad and "dataset" not in bad:
        if kwargs["architecture"] in C.IMAGE_ARCHITECTURES and kwargs["dataset"] not in C.IMAGE_DATASETS or \
                kwargs["architecture"] == "transformer" and kwargs["dataset"] not in C.SEQUENCE_DATASETS:
            out.add("dataset")
    if kwargs.get("architecture") == "transformer" and "width" not in bad and kwargs["width"] % 4:
        out.add("heads")
    return out


def hist_rows(batch: int, width: int) -> int:
    """Batch rows the histograms use (see core.stats.histograms)."""
    return max(1, min(batch, -(-HIST_MAX_VALUES // width)))


def check_snapshot(snap: Snapshot, cfg: SimConfig) -> None:
    """Every statistic is finite, or the snapshot says where a NaN/Inf appeared."""
    ls = snap.layers
    assert snap.depth == cfg.depth
    assert snap.nonfinite == (snap.nonfinite_stage is not None)
    assert snap.nonfinite_stage in STAGES | {None}
    flagged = snap.nonfinite
    # scalars
    for name in ("loss", "grad_norm_total", "grad_norm_clipped"):
        assert math.isfinite(getattr(snap, name)) or flagged, name
    if cfg.architecture == "autoencoder":  # a reconstruction has no accuracy
        assert math.isnan(snap.accuracy) and math.isfinite(snap.lr)
    else:
        assert 0.0 <= snap.accuracy <= 1.0 and math.isfinite(snap.lr)
    # forward: a NaN/Inf in layer i's activations flags the first such layer
    bad_fwd = np.flatnonzero(ls.act_nonfinite > 0)
    if len(bad_fwd):
        assert snap.nonfinite_stage == "forward" and snap.nonfinite_layer == bad_fwd[0] + 1
    if snap.nonfinite_stage == "forward":
        assert len(bad_fwd) and snap.nonfinite_layer == bad_fwd[0] + 1
    clean_fwd = ls.act_nonfinite == 0
    for name in ("preact_mean", "preact_std", "act_mean", "act_std"):
        assert np.isfinite(getattr(ls, name)[clean_fwd]).all(), name
    assert np.isfinite(ls.saturated_frac).all() and np.isfinite(ls.dead_frac).all()
    assert ((0 <= ls.saturated_frac) & (ls.saturated_frac <= 1)).all()
    # backward
    if (ls.grad_nonfinite > 0).any() or not np.isfinite(ls.grad_norm).all() or \
            not np.isfinite(ls.weight_grad_norm).all():
        assert flagged and snap.nonfinite_stage in {"forward", "loss", "backward"}
    # ratios are undefined only where the weights are exactly zero (init 'zeros')
    zero_w = ls.weight_norm == 0
    assert np.isfinite(ls.weight_norm).all() or flagged
    assert (np.isfinite(ls.grad_to_weight) | zero_w).all() or flagged
    if snap.kind == "probe":
        assert np.isnan(ls.update_to_weight).all()
    elif not flagged:
        assert (np.isfinite(ls.update_to_weight) | zero_w).all()
    # histograms: only finite values are binned; a clean layer bins all its sampled values
    rows = hist_rows(cfg.batch_size, cfg.width)
    for prefix, clean in (("act", clean_fwd), ("grad", (ls.grad_nonfinite == 0) & np.isfinite(ls.grad_norm))):
        counts, edges = getattr(ls, f"{prefix}_hist_counts"), getattr(ls, f"{prefix}_hist_edges")
        assert (counts >= 0).all() and np.isfinite(edges).all()
        assert (np.diff(edges, axis=1) > 0).all(), prefix
        # an LSTM's ∂L/∂z_t holds its four gates: 4·width values per example; a CNN layer every position
        # of its width channels (no pooling is drawn here), a transformer block 4·width units per position
        per_row = cfg.width * (4 if prefix == "grad" and cfg.architecture == "lstm" else 1)
        if cfg.architecture in C.IMAGE_ARCHITECTURES:
            per_row *= {"digits": 64, "stripes": 256}[cfg.dataset]
        elif cfg.architecture == "transformer":
            per_row *= 4 * cfg.seq_len
        rows = hist_rows(cfg.batch_size, per_row)
        sums = counts.sum(axis=1)
        assert (sums <= rows * per_row).all()
        np.testing.assert_array_equal(sums[clean], rows * per_row)


def params_of(sim: Simulator) -> list[torch.Tensor]:
    return [p.detach().clone() for p in sim.model.parameters()]


def run_and_check(cfg: SimConfig, steps: tuple[int, ...] = (1, 2)) -> None:
    """Probe, then step(n) for each n (n > 1 goes through the uninstrumented steps), checking each."""
    try:
        sim = Simulator(cfg)
    except ConfigError as err:  # the only refusal a valid config may get: no CUDA here
        assert err.field == "device" and cfg.device == "cuda" and not torch.cuda.is_available(), err
        return
    check_snapshot(sim.probe(), cfg)
    for n in steps:
        before, done = params_of(sim), sim.steps_done
        snap = sim.step(n)
        assert snap.kind == "step"
        check_snapshot(snap, cfg)
        if snap.nonfinite_stage == "update":  # the update itself overflowed: it was made and counted
            assert snap.step == sim.steps_done <= done + n
            return
        if snap.nonfinite:  # otherwise a bad step makes no update: the state stays as it was
            assert snap.step == sim.steps_done + 1 and sim.steps_done < done + n
            if n == 1:
                assert all(torch.equal(a, b) for a, b in zip(before, params_of(sim)))
            return
        assert sim.steps_done == done + n == snap.step


def extreme(**changes) -> tuple[dict, set]:
    return {**SimConfig().to_dict(), "n_samples": 64, "batch_size": 8, "device": "cpu", **changes}, set()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_configs())
@example(extreme(depth=1000, width=1, batch_size=1, activation="relu", init="kaiming_normal"))
@example(extreme(depth=1, width=4096, batch_size=1, init="orthogonal"))
@example(extreme(depth=8, width=8, lr=1e3, init="normal", init_std=1e3, clip_mode="value", clip_threshold=1e-12))
@example(extreme(depth=8, width=8, activation="linear", init="normal", init_std=1e3, bias_std=1e3, optimizer="adam"))
@example(extreme(depth=4, width=4, lr=1e3, init_gain=1e3, clip_mode="norm", clip_threshold=1e-12, optimizer="momentum"))
def test_any_config_is_refused_by_field_or_runs_cleanly(drawn):
    kwargs, bad = drawn
    fields = expected_bad(kwargs, bad)
    try:
        cfg = SimConfig.from_dict(kwargs)
    except ConfigError as err:
        # recurrent cells refuse batchnorm (no batch statistics across time steps: core/architectures/recurrent.py)
        recurrent_bn = kwargs["architecture"] in RECURRENT and kwargs.get("normalization") == "batchnorm"
        assert err.field in fields or (recurrent_bn and err.field == "normalization"), (err, fields)
        assert str(err).startswith(f"{err.field}: ") and len(str(err)) > len(err.field) + 10
        return
    assert not fields, f"accepted although {fields} are invalid: {kwargs}"
    run_and_check(cfg)


@pytest.mark.parametrize("arch", BUILT_IN_ARCHITECTURES)
def test_every_activation_init_normalization_architecture_runs_cleanly(arch):
    """The full product (architectures × 11 activations × 10 inits × 3 normalizations), one
    architecture per test, on a tiny network with a large init std so that many combinations go
    non-finite."""
    ran = 0
    dataset = {"cnn": "digits", "residual_cnn": "digits", "transformer": "first_token"}.get(arch, "xor")
    for act, init, norm in itertools.product(C.ACTIVATION_NAMES, C.INIT_NAMES, C.NORMALIZATIONS):
        try:
            cfg = SimConfig(architecture=arch, activation=act, init=init, normalization=norm, depth=3, width=4,
                            batch_size=8, n_samples=16, dataset=dataset, init_std=3.0, lr=10.0, device="cpu")
        except ConfigError as err:
            assert arch in RECURRENT and norm == "batchnorm" and err.field == "normalization"
            continue
        run_and_check(cfg, steps=(1,))
        ran += 1
    refused = len(C.ACTIVATION_NAMES) * len(C.INIT_NAMES) if arch in RECURRENT else 0  # recurrent × batchnorm
    assert ran == len(C.ACTIVATION_NAMES) * len(C.INIT_NAMES) * len(C.NORMALIZATIONS) - refused


def test_histograms_bin_exactly_the_finite_values():
    """Against np.histogram on the returned edges: same counts, NaN/Inf left out."""
    x = torch.randn(3, 40, 5, generator=torch.Generator().manual_seed(0))
    x[0, 3, 1], x[0, 7, 2], x[1, 0, 0], x[2] = NAN, INF, -INF, NAN
    counts, edges = histograms(x)
    for i in range(3):
        values = x[i].flatten().numpy()
        finite = values[np.isfinite(values)]
        assert counts[i].sum() == finite.size and np.isfinite(edges[i]).all()
        if finite.size:
            np.testing.assert_array_equal(counts[i], np.histogram(finite, bins=edges[i])[0])


def test_histogram_of_a_constant_huge_layer():
    """lo ± 0.5 == lo for |lo| > 2⁵³: the padding must be relative, or the range is empty."""
    counts, edges = histograms(torch.full((2, 4, 3), 1e30))
    assert counts.sum(axis=1).tolist() == [12, 12]
    assert (np.diff(edges, axis=1) > 0).all() and (edges[:, 0] < 1e30).all() and (edges[:, -1] > 1e30).all()


def test_an_overflowing_gradient_norm_is_divergence():
    """A global gradient norm that is not finite flags the step, even when no hidden layer's
    does (the readout's or a bias's gradient): no update, and the CLI stops there."""
    clean = np.zeros(3, dtype=bool)
    assert _first_nonfinite(np.zeros(3), 0.5, clean, INF, None) == ("backward", None)
    assert _first_nonfinite(np.zeros(3), 0.5, np.array([False, True, False]), INF, None) == ("backward", 2)
    assert _first_nonfinite(np.zeros(3), 0.5, clean, 1.0, np.array([1.0, INF, 1.0])) == ("update", 2)
    assert _first_nonfinite(np.zeros(3), 0.5, clean, 1.0, np.ones(3)) == (None, None)
