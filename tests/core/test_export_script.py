"""The exported PyTorch script: standalone, and its losses match the simulator's step for step."""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from core import SimConfig, Simulator
from core.export_script import export_script
from tests.helpers import EXPORT_STEPS as STEPS
from tests.helpers import exported_and_simulated_losses, script_losses as _script_losses

# A spread over every part the script has to reproduce: each activation family (torch modules and our
# ShiftedReLU), each init scheme with random draws, each normalization, residual, each optimizer and clip
# mode, every data set (digits reads the shipped file), accumulation, weight decay and warm-up; batch 100 of
# 150 samples crosses an epoch boundary.
CONFIGS = [
    dict(),
    dict(activation="relu", init="kaiming_uniform", init_mode="fan_out", normalization="batchnorm",
         optimizer="momentum", clip_mode="norm", clip_threshold=0.5, dataset="circles"),
    dict(activation="shifted_relu", init="lecun_normal", architecture="residual", normalization="layernorm",
         optimizer="adam", lr=0.01, clip_mode="value", clip_threshold=0.01, dataset="moons"),
    dict(activation="leaky_relu", leaky_slope=0.2, init="orthogonal", init_gain=1.5, bias_std=0.1,
         dataset="gaussian", input_dim=10),
    dict(activation="gelu", init="uniform", init_std=0.3, dataset="xor", batch_size=100, n_samples=150),
    dict(activation="sigmoid", init="normal", init_std=0.5, dataset="digits", n_samples=300, batch_size=64,
         optimizer="adam"),
    dict(activation="softplus", init="xavier_uniform", init_gain=2.0, architecture="residual",
         normalization="batchnorm", dataset="spirals", seed=12345),
    dict(activation="selu", init="kaiming_normal", dataset="moons", optimizer="momentum", momentum=0.5),
    dict(activation="tanh", optimizer="radam", grad_accum=4, batch_size=16, weight_decay=0.01, warmup_steps=5,
         clip_mode="norm", clip_threshold=0.1),
    dict(activation="relu", optimizer="rmsprop", lr=0.001, grad_accum=2, warmup_steps=2, dataset="circles"),
    # the sequence tasks: flattened for a feed-forward net, step by step for the recurrent cells
    dict(activation="elu", dataset="first_token"),
    dict(architecture="rnn", activation="tanh", init="orthogonal", dataset="first_token", clip_mode="norm"),
    dict(architecture="lstm", normalization="layernorm", forget_bias=1.0, dataset="adding", optimizer="adam",
         lr=0.01, grad_accum=2),
]
BASE = dict(depth=5, width=12, n_samples=256, batch_size=32)


def _config(overrides: dict) -> SimConfig:
    return SimConfig(**{**BASE, **overrides})


def test_script_is_standalone():
    """Only the standard library, torch and numpy are imported; nothing of this project."""
    source = export_script(_config(CONFIGS[2]))
    tree = ast.parse(source)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "argparse", "gzip", "math", "sys", "dataclasses", "pathlib", "types",
                        "numpy", "torch"}
    assert "ACTIVATIONS" not in source and "class ShiftedReLU" in source and "core." not in source


@pytest.mark.parametrize("overrides", CONFIGS, ids=lambda o: "-".join(f"{v}" for v in o.values())[:40] or "default")
def test_script_losses_match_the_simulator(tmp_path, monkeypatch, capsys, overrides):
    """Same data, init, batches and optimizer: the losses agree step for step.

    Both sides run the same float32 CPU kernels in the same order, so the numbers are expected to be
    identical; the tolerance (rel 1e-5, about 80 float32 ulps) only allows for a different thread split
    of a reduction, amplified over three steps. The first step checks data, init and batch; steps 2-3
    check the optimizer and clipping.
    """
    cfg = _config(overrides)
    got, want, _ = exported_and_simulated_losses(cfg, tmp_path / "exp.py", monkeypatch, capsys)
    assert got[0] == pytest.approx(Simulator(cfg).step(1).loss, rel=1e-5)
    assert got == pytest.approx(want, rel=1e-5)
    assert len(set(want)) == STEPS  # the steps differ, so step-for-step matching is a real check


def test_script_runs_alone_in_a_subprocess(tmp_path):
    cfg = _config(CONFIGS[5])  # digits: also reads the data file from the embedded path
    path = tmp_path / "alone.py"
    path.write_text(export_script(cfg, path.name))
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-I", str(path), "--steps", "2"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sim = Simulator(cfg)
    assert _script_losses(proc.stdout) == pytest.approx([sim.step().loss, sim.step().loss], rel=1e-5)


def test_cli_export_script(tmp_path, run_cli):
    out = tmp_path / "mine.py"
    assert run_cli("export-script", "--set", "activation=relu", "--set", "depth=3", "--out", str(out))[0] == 0
    text = out.read_text()
    assert "activation='relu'" in text and "depth=3" in text and "python mine.py" in text
    code, _, err = run_cli("export-script", "--set", "depth=0")
    assert code == 2
    assert "depth: 0 is out of range" in err
