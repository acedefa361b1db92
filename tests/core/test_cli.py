"""``python -m core``: documents, bad input and exit statuses in-process (the `run_cli` fixture),
and each verb once as a real process."""
import ast
import csv
import importlib
import io
import json
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import core.cli
from core.cli import UsageError, main
from core.snapshot import CSV_COLUMNS, LAYER_SCALARS
from tests.helpers import QUICK, as_sets

ROOT = Path(__file__).resolve().parents[2]
SMALL = as_sets(QUICK)
# relu with N(0, 0.4²) weights at width 16 and lr 1: non-finite within a few steps
DIVERGING = ["--set", "activation=relu", "--set", "init=normal", "--set", "init_std=0.4", "--set", "depth=50",
             "--set", "lr=1.0", "--set", "width=16", "--set", "n_samples=256", "--set", "batch_size=32",
             "--set", "device=cpu"]


def test_probe_json_document(run_cli):
    code, out, err = run_cli("probe", *SMALL)
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["device"] == "cpu" and doc["config"]["depth"] == QUICK["depth"]
    (snap,) = doc["snapshots"]
    assert snap["step"] == 0 and snap["kind"] == "probe" and len(snap["layers"]) == QUICK["depth"]
    layer = snap["layers"][0]
    assert set(LAYER_SCALARS) - {"update_to_weight"} <= set(layer)
    assert "update_to_weight" not in layer  # no update in a probe
    assert sum(layer["act_hist"]["counts"]) == QUICK["batch_size"] * QUICK["width"] and len(layer["act_hist"]["edges"]) == 51


def test_run_with_config_file_every_and_csv(tmp_path, run_cli):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"depth": 2, "width": 4, "n_samples": 64, "batch_size": 8, "device": "cpu"}))
    code, out, _ = run_cli("run", cfg, "--steps", "7", "--every", "3", "--set", "lr=0.1")
    doc = json.loads(out)
    assert code == 0 and [s["step"] for s in doc["snapshots"]] == [3, 6, 7] and doc["config"]["lr"] == 0.1
    assert all(l["update_to_weight"] > 0 for s in doc["snapshots"] for l in s["layers"])
    code, out, _ = run_cli("run", cfg, "--steps", "4", "--every", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 2 * 2 and tuple(rows[0]) == CSV_COLUMNS
    assert [(r["step"], r["layer"]) for r in rows] == [("2", "1"), ("2", "2"), ("4", "1"), ("4", "2")]
    assert float(rows[0]["grad_norm"]) > 0


def test_out_writes_file_and_same_numbers(tmp_path, run_cli):
    target = tmp_path / "out.json"
    code, out, _ = run_cli("probe", *SMALL, "--out", target)
    assert code == 0 and out == ""
    _, again, _ = run_cli("probe", *SMALL)
    assert json.loads(target.read_text()) == json.loads(again)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


@pytest.mark.parametrize("args,fragment", [
    (["probe", "--set", "depth"], "--set: expected key=value"),
    (["probe", "--set", "dept=3"], "dept: unknown field; did you mean 'depth'"),
    (["probe", "--set", "depth=abc"], "depth: expected an integer"),
    (["probe", "--set", "depth=0"], "depth: 0 is out of range; allowed 1..1000"),
    (["probe", "--set", "architecture=rnn", "--set", "normalization=batchnorm"], "normalization: 'batchnorm'"),
    (["probe", "MISSING.json"], "does not exist"),
    (["probe", "DIR"], "is a directory"),
    (["probe", "BAD.json"], "is not valid JSON"),
    (["probe", "LIST.json"], "must hold a JSON object"),
    (["probe", "UNKNOWN.json"], "colour: unknown field"),
    (["probe", "TYPE.json"], "width: expected an integer"),
    (["run", "--set", "depth=2"], "--steps"),
    (["run", "--steps", "0"], "--steps must be at least 1"),
    (["run", "--steps", "2", "--every", "0"], "--every must be at least 1"),
    (["fly"], "invalid choice"),
    ([], "required"),
])
def test_bad_input_exits_2_with_one_error_line(tmp_path, run_cli, args, fragment):
    files = {"DIR": tmp_path, "MISSING.json": tmp_path / "missing.json"}
    for name, text in {"BAD.json": "{depth: 3", "LIST.json": "[1, 2]", "UNKNOWN.json": '{"colour": 1}',
                       "TYPE.json": '{"width": "wide"}'}.items():
        files[name] = tmp_path / name
        files[name].write_text(text)
    code, out, err = run_cli(*[files.get(a, a) for a in args])
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


def test_divergence_exits_3_and_keeps_the_record(tmp_path, run_cli):
    out = tmp_path / "run.json"
    code, _, err = run_cli("run", "--steps", "20", "--out", out, *DIVERGING)
    assert code == 3
    (line,) = err.splitlines()
    doc = json.loads(out.read_text())
    last = doc["snapshots"][-1]
    assert last["nonfinite"] and f"step {last['step']}, layer {last['nonfinite_layer']}" in line
    assert line.startswith("error: non-finite value at")


def test_a_verb_module_registers_its_verbs_and_handler(monkeypatch, run_cli):
    """What VERB_MODULES asks of a verb module: add_parser adds the subcommand, handle runs it, and
    a UsageError from the handler is the one error line with exit status 2."""
    def add_parser(sub):
        sub.add_parser("echo").add_argument("--times", type=int, default=1)

    def handle(args):
        if args.times < 1:
            raise UsageError(f"--times must be at least 1, got {args.times}")
        print("echo " * args.times)
        return 0

    verb = types.ModuleType("echo_verb")
    verb.add_parser, verb.handle = add_parser, handle
    monkeypatch.setattr(core.cli, "_VERBS", (*core.cli._VERBS, verb))
    assert run_cli("echo", "--times", "2") == (0, "echo echo \n", "")
    assert run_cli("echo", "--times", "0") == (2, "", "error: --times must be at least 1, got 0\n")
    assert run_cli("probe", *SMALL)[0] == 0  # the others are still there


def test_no_verb_module_imports_the_verb_table():
    """Verb modules and core.cli_kit import nothing from the core.cli package itself, so a verb module
    elsewhere can use the shared helpers without an import cycle."""
    for path in [*(ROOT / "core" / "cli").glob("*.py"), ROOT / "core" / "cli_kit.py"]:
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                package = "core.cli" if path.parent.name == "cli" else "core"
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                target = ".".join(p for p in (base, node.module) if p)
                assert target != "core.cli" and not target.startswith("core.cli."), f"{path.name}: {target}"
            if isinstance(node, ast.Import):
                assert all(a.name != "core.cli" for a in node.names), path.name


def test_console_script_is_main():
    """pyproject's `vanishing-point-cli` entry point names this main()."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["vanishing-point-cli"]
    module, _, name = entry.partition(":")
    assert getattr(importlib.import_module(module), name) is main


# --- one real process per verb ------------------------------------------------------------------
TINY = ["--set", "depth=2", "--set", "width=4", "--set", "n_samples=64", "--set", "batch_size=8",
        "--set", "device=cpu"]


@pytest.mark.parametrize("argv,status,fragment", [
    pytest.param([], 2, "error: the following arguments are required: command", id="python -m core"),
    pytest.param(["probe", *TINY], 0, '"kind": "probe"', id="probe"),
    pytest.param(["run", "--steps", "20", *DIVERGING], 3, "error: non-finite value at step", id="run"),
    pytest.param(["diagnose", *TINY, "--set", "init=zeros"], 0, "error: layers 1–2: gradients exactly 0",
                 id="diagnose"),
    pytest.param(["scenarios"], 0, "xavier_relu_fading", id="scenarios"),
    pytest.param(["compare", *TINY, "--b", "init=zeros", "--format", "csv"], 0, ",b_zero,", id="compare"),
    pytest.param(["theory", *TINY, "--format", "csv"], 0, "layer,q,act_mean,act_std,grad_ratio,chi\n", id="theory"),
    pytest.param(["sweep", *TINY, "--depths", "1,2", "--format", "csv"], 0, "\ninit,xavier_normal,2,", id="sweep"),
    pytest.param(["jacobian", *TINY, "--points", "1", "--directions", "4"], 0, '"count": 4', id="jacobian"),
    pytest.param(["export-script", *TINY], 0, "depth=2", id="export-script"),
])
def test_each_verb_as_a_process_prints_what_main_prints(run_cli, argv, status, fragment):
    """`python -m core VERB` in a fresh process: the exit status reaches the shell, and stdout and
    stderr are exactly those of main() in this process (small enough networks for one thread)."""
    proc = subprocess.run([sys.executable, "-m", "core", *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == status and fragment in proc.stdout + proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (proc.returncode, proc.stdout, proc.stderr) == run_cli(*argv)
