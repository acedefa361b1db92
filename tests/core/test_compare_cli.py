"""``python -m core compare``: output values against `run` and an independent log ratio, sessions, bad input."""
import csv
import io
import json
import math

import pytest

from tests.helpers import QUICK, as_sets

SMALL = [*as_sets(QUICK), "--set", "activation=relu"]


def test_compare_json_equals_two_separate_runs_and_independent_ratio(run_cli):
    code, out, err = run_cli("compare", *SMALL, "--b", "init=kaiming_normal", "--steps", "4", "--every", "2")
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["differs_in"] == ["init"] and doc["warning"] is None and doc["device"] == "cpu"
    assert doc["configs"]["B"]["init"] == "kaiming_normal" and doc["configs"]["A"]["init"] == "xavier_normal"
    comps = doc["comparisons"]
    assert [c["step"] for c in comps] == [2, 4]
    # A equals A run on its own; B is fed A's batches, which here are also B's own (both inits draw
    # the same number of normals), so B equals B run on its own too
    for side, extra in (("A", []), ("B", ["--set", "init=kaiming_normal"])):
        _, alone, _ = run_cli("run", *SMALL, *extra, "--steps", "4", "--every", "2")
        assert [c[side] for c in comps] == json.loads(alone)["snapshots"]
    for c in comps:
        ga = [l["grad_norm"] for l in c["A"]["layers"]]
        gb = [l["grad_norm"] for l in c["B"]["layers"]]
        expected = [math.log10(b) - math.log10(a) for a, b in zip(ga, gb)]
        # float64 logs of float64 copies of the same numbers: equal to rounding
        assert c["difference"]["log10_ratio"] == pytest.approx(expected, abs=1e-12)
        assert c["difference"]["flag"] == ["ok"] * 4 and c["difference"]["layer_b"] == [1, 2, 3, 4]


def test_compare_csv_probe_with_zero_init_and_depth_mismatch(run_cli):
    code, out, _ = run_cli("compare", *SMALL, "--a", "depth=6", "--b", "init=zeros", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4  # the 4 common layers, aligned at the output
    assert [(r["layer_a"], r["layer_b"]) for r in rows] == [("3", "1"), ("4", "2"), ("5", "3"), ("6", "4")]
    assert all(r["kind"] == "probe" and r["step"] == "0" for r in rows)
    # zero init: B's hidden gradients are exactly 0, so the ratio is −inf, written as such and flagged
    assert all(float(r["grad_norm_b"]) == 0 and r["log10_ratio"] == "-inf" and r["flag"] == "b_zero" for r in rows)
    assert all(float(r["grad_norm_a"]) > 0 for r in rows)


def test_save_session_then_compare_from_it(tmp_path, run_cli):
    session = tmp_path / "ab.json"
    code, first, _ = run_cli("compare", *SMALL, "--b", "clip_mode=value", "--b", "clip_threshold=0.01",
                             "--a", "clip_mode=norm", "--steps", "2", "--save-session", str(session))
    assert code == 0 and json.loads(session.read_text())["configs"]["b"]["config"]["clip_mode"] == "value"
    code, again, _ = run_cli("compare", "--session", str(session), "--steps", "2")
    assert code == 0 and json.loads(again) == json.loads(first)


def test_b_config_file_and_different_batches_warn(tmp_path, run_cli):
    b_file = tmp_path / "b.json"
    b_file.write_text(json.dumps({"lr": 0.2, "batch_size": 32}))
    # B = b.json, then --set (both: batch_size=16 wins over the file's 32), then --b
    code, out, err = run_cli("compare", *SMALL, "--b-config", str(b_file), "--b", "batch_size=8")
    assert code == 0 and err.startswith("warning: A and B differ in batch_size")
    doc = json.loads(out)
    assert "batch_size" in doc["warning"] and doc["differs_in"] == ["batch_size", "lr"]
    assert doc["configs"]["B"]["lr"] == 0.2 and doc["configs"]["B"]["batch_size"] == 8


def test_divergence_of_b_exits_3_naming_b(tmp_path, run_cli):
    out = tmp_path / "c.json"
    code, _, err = run_cli("compare", "--set", "depth=20", "--set", "width=16", "--set", "n_samples=64",
                           "--set", "batch_size=16", "--set", "device=cpu", "--set", "activation=relu",
                           "--set", "init=kaiming_normal", "--set", "lr=0.001", "--b", "init=normal",
                           "--b", "init_std=1", "--b", "lr=1", "--steps", "10", "--out", str(out))
    last = json.loads(out.read_text())["comparisons"][-1]
    assert code == 3 and err.startswith(f"error: B diverged: non-finite value at step {last['step']}")
    assert last["B"]["nonfinite"] and not last["A"]["nonfinite"]


@pytest.mark.parametrize("args,fragment", [
    (["--session", "S", "CFG"], "leave out CONFIG"),
    (["--session", "S", "--scenario", "zero_init"], "leave out CONFIG, --scenario"),
    (["--b", "dept=3"], "--b (config B): dept: unknown field"),
    (["--a", "depth=0"], "--a (config A): depth: 0 is out of range"),
    (["--steps", "-1"], "--steps must be >= 0"),
    (["--every", "0"], "--every must be at least 1"),
    (["--session", "MISSING"], "does not exist"),
    (["--session", "FOREIGN"], "not a Vanishing Point session"),
])
def test_bad_compare_input_exits_2(tmp_path, run_cli, args, fragment):
    foreign = tmp_path / "f.json"
    foreign.write_text('{"depth": 3}')
    names = {"S": str(foreign), "CFG": str(foreign), "MISSING": str(tmp_path / "nope.json"), "FOREIGN": str(foreign)}
    code, out, err = run_cli("compare", *[names.get(a, a) for a in args])
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ") and fragment in line, err


def test_compare_a_scenario_with_a_change(run_cli):
    """--scenario sets A (and B's start); xavier_relu_fading is probe-only (steps 0), depth 50, ReLU."""
    code, out, err = run_cli("compare", "--scenario", "xavier_relu_fading", "--set", "device=cpu",
                             "--set", "depth=12", "--b", "init=kaiming_normal", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and err == "" and len(rows) == 12 and {r["kind"] for r in rows} == {"probe"}
    # He over Xavier under ReLU: √2 more gradient per layer going back, so the log ratio is largest
    # at the input (about 0.15 × 11 layers); the first-vs-last gap is only checked loosely (noise ~1/√64)
    ratios = [float(r["log10_ratio"]) for r in rows]
    assert ratios[0] - ratios[-1] > 0.8
