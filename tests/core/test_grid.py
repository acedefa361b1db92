"""The trainability grid: specs, cells, theory columns, files, and real Dask clusters.

The clusters are real: a LocalCluster of 2 worker processes, and `dask scheduler` + `dask worker`
subprocesses on 127.0.0.1; each is started once for this module and shut down at its end.
"""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator, theory
from core.cli import main as cli_main
from core.data import DATASETS
from core.grid import (COLUMNS, RESULT_COLUMNS, GridError, GridFile, GridSpec, connect, fit_rows, parse_axis,
                       predict, read_rows, run_cell, run_grid)
from core.grid.heldout import held_out
from core.grid.meanfield import correlation_map, fit_c
from core.grid.progress import GridProgress
from core.grid.run import INSTALL_HINT, require_dask
from tests.helpers import GRID_CELL

ROOT = Path(__file__).resolve().parents[2]
TINY = SimConfig(**GRID_CELL)
STEPS = 4
SPEC = GridSpec(TINY, parse_axis("sigma_w2=1:3:3"), parse_axis("depth=2:4:3"), steps=STEPS)


def same(a: dict, b: dict) -> bool:
    """Every result column identical (NaN equals NaN)."""
    return all(a[c] == b[c] or (isinstance(a[c], float) and math.isnan(a[c]) and math.isnan(b[c]))
               for c in RESULT_COLUMNS)


@pytest.fixture(scope="module")
def reference():
    """Every cell of SPEC trained in this process: what any cluster must reproduce exactly."""
    return {c.key: run_cell(c.config, STEPS) for c in SPEC.cells()}


@pytest.fixture(scope="module")
def local_client():
    with connect(workers=2) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def subprocess_scheduler(tmp_path_factory):
    """`dask scheduler` and one `dask worker` (1 thread) as subprocesses on 127.0.0.1; its address.
    The worker runs without a nanny: a nanny took 8 s to stop on SIGTERM, the worker alone 0.1-0.3 s
    (a LocalCluster's workers, which have nannies, are tested by the other fixture)."""
    folder = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    address = f"tcp://127.0.0.1:{_free_port()}"
    scheduler = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--no-dashboard",
                                  "--dashboard-address", "127.0.0.1:0"], cwd=folder, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--host", "127.0.0.1",
                               "--nthreads", "1", "--no-nanny", "--no-dashboard"], cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield address
    finally:
        # the worker first, and alone: a worker that outlives its scheduler retries it for the
        # connect timeout (30 s) before it exits
        for proc in (worker, scheduler):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- axis specs -------------------------------------------------------------------------------
def test_axis_values_linear_log_and_integer():
    assert parse_axis("lr=0.1:0.3:3").values == pytest.approx((0.1, 0.2, 0.3), abs=1e-15)
    assert parse_axis("lr=0.001:0.1:3:log").values == pytest.approx((0.001, 0.01, 0.1), rel=1e-12)
    assert parse_axis("depth=10:100:4").values == (10.0, 40.0, 70.0, 100.0)
    assert parse_axis("width=8:8:1").values == (8.0,)


@pytest.mark.parametrize("text, words", [
    ("depht=1:4:3", "unknown field 'depht'"),
    ("activation=1:4:3", "unknown field 'activation'"),
    ("depth=a:4:3", "must be numbers"),
    ("depth=1:4:x", "whole number"),
    ("depth=1:4:0", "N must be 1.."),
    ("lr=0.5:0.1:3", "is above HI"),
    ("lr=0:1:3:log", "log spacing needs LO and HI > 0"),
    ("lr=-1:1:3:log", "log spacing needs LO and HI > 0"),
    ("depth=1:3:5", "repeat after rounding"),
    ("depth", "expected FIELD=LO:HI:N"),
    ("depth=1:4:3:lin", "expected LO:HI:N or LO:HI:N:log"),
])
def test_bad_axis_spec_is_one_line(text, words):
    with pytest.raises(GridError) as err:
        parse_axis(text, "--x")
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("x, words", [
    ("depht=1:4:3", "unknown field"), ("depth=a:4:3", "must be numbers"), ("depth=1:4:0", "N must be"),
    ("lr=0.5:0.1:3", "is above HI"), ("lr=0:1:3:log", "log spacing"), ("depth=0:4:3", "depth = 0 gives an invalid"),
])
def test_cli_bad_spec_exits_2_with_one_line(x, words, tmp_path, capsys):
    status = cli_main(["grid", "--x", x, "--y", "width=4:8:2", "--steps", "2", "--out", str(tmp_path / "g.json")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and err.count("\n") == 1 and words in err
    assert not (tmp_path / "g.json").exists()


def test_sigma_axes_set_the_mean_field_coordinates():
    cfg = SPEC.config_at(2.5, 3)
    assert theory.hidden_sigma_w2(cfg) == pytest.approx(2.5, rel=1e-12) and cfg.depth == 3
    assert GridSpec(TINY, parse_axis("sigma_b2=0.01:0.09:2"), parse_axis("depth=2:3:2"), 1).config_at(0.09, 2) \
        .bias_std == pytest.approx(0.3, rel=1e-12)
    assert [c.config.seed for c in GridSpec(TINY, SPEC.x, SPEC.y, 1, seeds=3).cells()[:3]] == [0, 1, 2]


def test_missing_dask_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without the extra has
    with pytest.raises(GridError, match=r"pip install -e '\.\[cluster\]'"):
        require_dask()
    status = cli_main(["grid", "--x", "sigma_w2=1:2:2", "--y", "depth=2:3:2", "--steps", "1",
                       "--out", str(tmp_path / "g.json")])
    err = capsys.readouterr().err
    assert status == 2 and INSTALL_HINT in err and err.count("\n") == 1


# --- one cell -----------------------------------------------------------------------------------
def test_cell_measures_what_it_says():
    cfg = TINY.replace(depth=3)
    row = run_cell(cfg, STEPS)
    sim = Simulator(cfg)
    init = sim.probe()
    g = init.layers.grad_norm
    assert row["log10_grad_ratio_init"] == pytest.approx(math.log10(g[0] / g[-1]), rel=1e-12)
    sim.step(STEPS)
    with torch.no_grad():
        logits = sim.model(sim.x)
    assert row["accuracy"] == float((logits.argmax(1) == sim.y).double().mean())
    assert row["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits.double(), sim.y)), rel=1e-9)
    assert row["steps_done"] == STEPS and row["diverged"] is False and row["n_classes"] == 2
    assert torch.get_num_threads() >= 1


def test_cell_reports_divergence():
    row = run_cell(SimConfig(activation="relu", init="normal", init_std=0.4, depth=50, lr=1.0, width=16,
                             n_samples=256, batch_size=32, device="cpu"), 30)
    assert row["diverged"] is True and row["steps_done"] < 30


def test_held_out_digits_are_the_images_training_left_out():
    cfg = TINY.replace(dataset="digits", n_samples=1500, batch_size=16)
    sim = Simulator(cfg)
    held = held_out(cfg)
    assert len(held.y) == 297 and held.x.shape[1] == 64
    # both standardized with the training subset's mean and std, so an image in both would give equal rows
    train = {tuple(r) for r in sim.x.numpy().round(4).tolist()}
    assert not any(tuple(r) in train for r in held.x.numpy().round(4).tolist())
    assert float(held.x.mean(0).abs().max()) < 0.2   # the same scale as the training features (mean 0, std 1)
    assert held_out(cfg.replace(n_samples=1797)) is None
    assert math.isnan(run_cell(cfg.replace(n_samples=1797, batch_size=64), 1)["held_out_accuracy"])


def test_held_out_gaussian_uses_the_training_teacher():
    cfg = TINY.replace(dataset="gaussian", input_dim=6, n_samples=256)
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(cfg.n_samples, cfg.input_dim, generator=g)
    w = torch.randn(cfg.input_dim, generator=g)
    train = DATASETS["gaussian"](cfg, torch.Generator().manual_seed(cfg.seed))
    assert torch.equal(train.x, x) and torch.equal(train.y, (x @ w > 0).long())   # the draw held_out repeats
    held = held_out(cfg)
    assert torch.equal(held.y, (held.x @ w > 0).long()) and not torch.equal(held.x, x[: len(held.y)])


def test_held_out_synthetic_is_a_fresh_draw():
    held = held_out(TINY.replace(n_samples=256))
    assert len(held.y) == 256 and not torch.equal(held.x, Simulator(TINY.replace(n_samples=256)).x)


# --- mean-field columns ----------------------------------------------------------------------
def test_correlation_map_slope_at_one_is_chi1():
    """The 2-D quadrature's slope at c = 1 must equal core.theory's 1-D χ₁ (independent code)."""
    for sw2 in (1.2, 2.5):
        q = float(theory.fixed_point("tanh", 0.01, np.array(sw2), np.array(0.05)))
        c_next, chi = correlation_map("tanh", 0.01, sw2, 0.05, q, 1.0)
        # q* comes from core.theory's tables, linear in q between grid points 1.2 % apart: ~1e-5 relative
        assert c_next == pytest.approx(1.0, abs=2e-5)
        assert chi == pytest.approx(float(theory.chi_at_fixed_point("tanh", 0.01, np.array(sw2), np.array(0.05))),
                                    rel=2e-5)


def test_xi_c_ordered_chaotic_and_edge():
    def at(sw2):
        return predict(TINY.replace(init_gain=math.sqrt(sw2), bias_std=math.sqrt(0.05), activation="tanh",
                                    width=64))
    ordered, chaotic = at(1.2), at(3.0)
    assert ordered.chi1 < 1 and ordered.chi_c == ordered.chi1
    assert ordered.xi_c == pytest.approx(-1 / math.log(ordered.chi1), rel=1e-12)
    assert chaotic.chi1 > 1 > chaotic.chi_c and chaotic.xi_c == pytest.approx(-1 / math.log(chaotic.chi_c))
    edge = float(theory.critical_sigma_w2("tanh", 0.01, np.array([0.05]))[0])
    assert at(edge * 0.99).xi_c > 10 * ordered.xi_c and at(edge * 1.01).xi_c > 10 * chaotic.xi_c
    assert math.isnan(predict(TINY.replace(architecture="residual")).xi_c)


def test_fit_c_recovers_a_planted_boundary():
    xis = np.repeat([2.0, 5.0, 10.0], 10)
    depths = np.tile(np.arange(5, 105, 10), 3)
    trained = depths <= 4.0 * xis
    fit = fit_c(depths, xis, trained)
    assert fit.errors == 0 and fit.lo <= 4.0 <= fit.hi and fit.c == pytest.approx(4.0, abs=0.5)
    assert fit.errors_default == int(((depths <= 6 * xis) != trained).sum())
    assert fit_c(depths, xis, np.ones_like(trained)).c is None   # all trained: any large c fits


# --- files and progress -----------------------------------------------------------------------
def _fake_rows(spec):
    from core.grid.output import make_row
    return [make_row(spec, c, predict(c.config), {"steps_done": 1, "loss": 0.1 * c.ix + 1 / 3, "accuracy": 0.5,
                                                   "held_out_loss": math.nan, "held_out_accuracy": math.nan,
                                                   "n_held_out": 0, "log10_grad_ratio_init": -1e-17,
                                                   "log10_grad_ratio_end": 2.0, "diverged": c.iy == 1,
                                                   "n_classes": 2}) for c in spec.cells()]


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_file_round_trip_is_exact(tmp_path, suffix):
    out = GridFile(tmp_path / f"g{suffix}", SPEC)
    rows = _fake_rows(SPEC)
    for r in rows:
        out.add(r)
    back = read_rows(out.path)
    assert len(back) == len(rows)
    for a, b in zip(back, out.sorted_rows()):
        assert all(a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
                   for k in COLUMNS)
    other = GridFile(out.path, GridSpec(TINY, SPEC.x, SPEC.y, steps=STEPS + 1))
    with pytest.raises(GridError, match="holds another grid"):
        other.load()


def test_progress_line():
    t = [0.0]
    p = GridProgress(10, already=2, live=False, clock=lambda: t[0])
    t[0] = 4.0
    p.update(4)
    assert p.line() == "[############..................] 4/10 cells  0.50 cells/s  12s left"


# --- real clusters ------------------------------------------------------------------------------
def test_local_cluster_matches_in_process(local_client, reference, tmp_path):
    out = GridFile(tmp_path / "g.csv", SPEC)
    seen = []
    outcome = run_grid(SPEC, local_client, out, on_row=seen.append)
    assert outcome.added == 9 and not outcome.failed and not outcome.stopped and len(seen) == 9
    back = {(r["ix"], r["iy"], r["seed_index"]): r for r in read_rows(out.path)}
    assert set(back) == set(reference)
    assert all(same(back[k], reference[k]) for k in reference)


def test_subprocess_cluster_gives_identical_numbers(subprocess_scheduler, reference, tmp_path, capsys):
    path = tmp_path / "g.json"
    status = cli_main(["grid", "--set", "depth=2", "--set", "width=8", "--set", "n_samples=64", "--set",
                       "batch_size=16", "--set", "init=lecun_normal", "--set", "bias_std=0.2", "--set", "device=cpu",
                       "--x", "sigma_w2=1:3:3", "--y", "depth=2:4:3", "--steps", str(STEPS), "--quiet",
                       "--scheduler", subprocess_scheduler, "--connect-timeout", "30", "--out", str(path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    doc = json.loads(path.read_text())
    assert doc["grid"]["grid_id"] == SPEC.grid_id and doc["done"] == 9 and doc["failed"] == []
    rows = {(r["ix"], r["iy"], r["seed_index"]): r for r in read_rows(path)}
    assert set(rows) == set(reference) and all(same(rows[k], reference[k]) for k in reference)
    assert "accuracy (mean over seeds)" in captured.out and "boundary L = c·ξ_c" in captured.out


def test_unreachable_scheduler_exits_2_in_time(tmp_path, capsys):
    start = time.monotonic()
    status = cli_main(["grid", "--x", "sigma_w2=1:2:2", "--y", "depth=2:3:2", "--steps", "1", "--scheduler",
                       f"tcp://127.0.0.1:{_free_port()}", "--connect-timeout", "2", "--out", str(tmp_path / "g.json")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "cannot reach the Dask scheduler" in err
    assert time.monotonic() - start < 20   # the 2 s limit, with room for a loaded machine


def test_resume_after_an_interrupted_grid(local_client, reference, tmp_path, capsys):
    path = tmp_path / "g.json"
    first = GridFile(path, SPEC)
    outcome = run_grid(SPEC, local_client, first, should_stop=lambda: len(first.rows) >= 1)
    kept = len(read_rows(path))
    assert outcome.stopped and 1 <= kept < 9
    status = cli_main(["grid", "--set", "depth=2", "--set", "width=8", "--set", "n_samples=64", "--set",
                       "batch_size=16", "--set", "init=lecun_normal", "--set", "bias_std=0.2", "--set", "device=cpu",
                       "--x", "sigma_w2=1:3:3", "--y", "depth=2:4:3", "--steps", str(STEPS), "--quiet",
                       "--scheduler", local_client.scheduler.address, "--resume", str(path)])
    assert status == 0, capsys.readouterr().err
    rows = read_rows(path)
    keys = [(r["ix"], r["iy"], r["seed_index"]) for r in rows]
    assert len(keys) == 9 == len(set(keys))
    assert all(same(r, reference[k]) for r, k in zip(rows, keys))


def test_killed_worker_cells_are_redone(local_client, reference, tmp_path):
    pids = local_client.run(os.getpid)
    killed = []

    def kill_one(_row):
        if not killed:
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    out = GridFile(tmp_path / "g.csv", SPEC)
    outcome = run_grid(SPEC, local_client, out, on_row=kill_one)
    assert killed and not outcome.failed and outcome.added == 9
    rows = read_rows(out.path)
    keys = [(r["ix"], r["iy"], r["seed_index"]) for r in rows]
    assert len(keys) == 9 == len(set(keys))
    assert all(same(r, reference[k]) for r, k in zip(rows, keys))


# --- the bundled grid scenario: every number its text names ------------------------------------
def _scenario():
    from core.grid.scenarios import load_grid_scenario
    return load_grid_scenario("tanh_depth_scale")


def test_scenario_depth_scales_are_as_stated():
    sc = _scenario()
    assert sc.spec.steps == 300 and sc.spec.base.activation == "tanh" and sc.spec.base.bias_std ** 2 == \
        pytest.approx(0.05, rel=1e-12) and sc.spec.x.values[0] == 1.0 and sc.spec.x.values[-1] == 4.0
    xi1, xi4 = (predict(sc.spec.config_at(s, 23)).xi_c for s in (1.0, 4.0))
    assert round(xi1, 1) == 3.6 and round(xi4, 1) == 7.0 and round(6 * xi1) == 22 and round(6 * xi4) == 42
    assert round(float(theory.critical_sigma_w2("tanh", 0.01, np.array([0.05]))[0]), 2) == 1.76
    assert all(6 * predict(sc.spec.config_at(s, 64)).xi_c > 64 for s in (1.5, 2.0, 2.5))
    assert "L ≈ 3.7·ξ_c" in sc.explanation and "0.80 and 0.91" in sc.explanation


def test_scenario_reduced_grid(local_client):
    """The scenario's columns σ_w² = 1 and 4 at depths 23 and 32, as its text quotes them."""
    from core.grid.output import is_trained
    sc = _scenario()
    spec = GridSpec(sc.spec.base, parse_axis("sigma_w2=1:4:2"), parse_axis("depth=23:32:2"), sc.spec.steps)
    out = GridFile(None, spec)
    run_grid(spec, local_client, out)
    r = {(row["x"], row["y"]): row for row in out.rows.values()}
    quoted = {(1.0, 23.0): 0.80, (4.0, 23.0): 0.91, (1.0, 32.0): 0.35, (4.0, 32.0): 0.33}
    for key, acc in quoted.items():
        assert r[key]["accuracy"] == pytest.approx(acc, abs=0.006), key   # quoted to 2 decimals
        assert is_trained(r[key]) == (key[1] == 23.0)
    assert round(r[(1.0, 32.0)]["log10_grad_ratio_init"], 1) == -2.2
    assert round(r[(4.0, 32.0)]["log10_grad_ratio_init"], 1) == 1.8


@pytest.mark.soak
def test_scenario_full_grid():
    """The whole 7 × 9 map (minutes on 2 cores): the fit and the depth-45 and depth-64 rows."""
    from core.grid.output import is_trained
    sc = _scenario()
    with connect() as client:
        out = GridFile(None, sc.spec)
        run_grid(sc.spec, client, out)
    rows = list(out.rows.values())
    fit = fit_rows(rows)
    assert (fit.c, fit.errors, fit.n, fit.errors_default) == (pytest.approx(3.7, abs=0.05), 4, 63, 8)
    deepest = [row for row in rows if row["depth"] == 64]
    assert not any(is_trained(row) for row in deepest) and round(max(row["accuracy"] for row in deepest), 2) == 0.21
    at45 = next(row for row in rows if row["depth"] == 45 and row["x"] == 1.5)
    assert round(at45["accuracy"], 2) == 0.78 and is_trained(at45)


def test_sigma_w2_is_set_for_each_cells_width():
    spec = GridSpec(TINY.replace(init="normal"), parse_axis("width=8:32:2"), parse_axis("sigma_w2=1:2:2"), 1)
    for c in spec.cells():
        assert theory.hidden_sigma_w2(c.config) == pytest.approx(c.y, rel=1e-12) and c.config.width == c.x


def test_spawned_workers_can_import_the_cli_entry_point():
    """A LocalCluster started by `python -m core grid` spawns workers that import core.__main__ as
    '__mp_main__' (multiprocessing's spawn): that must not run the command line again."""
    import runpy
    runpy.run_module("core.__main__", run_name="__mp_main__")   # would raise SystemExit if it ran main()
