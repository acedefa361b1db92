"""What several test modules share: the small configurations, one per purpose, and the scenario
runner. Test modules import from here (or take a conftest fixture), never from each other."""
from __future__ import annotations

import math
import runpy
import sys
from contextlib import contextmanager

import torch

from core import Simulator
from core.scenarios import load_scenario

# An app window: big enough for every panel to have something to draw, small enough to train at
# screen rate on one core (tests/app/conftest.py's `small_config` fixture is this).
WINDOW = dict(depth=6, width=16, n_samples=128, batch_size=16, input_dim=8)

# Any network at all, for the CLI and saved sessions: the fastest that still has several layers.
QUICK = dict(depth=4, width=8, n_samples=64, batch_size=16, device="cpu")

# The fast.ai lesson (reference note 001): 10 000 inputs of 784 N(0,1) features into 50 units.
# z = w·x with x ~ N(0, I): Var z = ‖w‖², averaged over 50 units whose ‖w‖²/784 have relative sd
# √(2/784) each; the layer's std is then off by ≈ √(2/784)/√50/2 ≈ 0.4 %. 3 % leaves > 5 sd.
FASTAI_TOL = 0.03

# A cell of a trainability grid: a mean-field-friendly init with some bias, tiny enough to train
# many at once.
GRID_CELL = dict(depth=2, width=8, n_samples=64, batch_size=16, init="lecun_normal", bias_std=0.2, device="cpu")

# Scenarios whose tests live outside tests/core/test_scenarios.py (each module parametrizes or
# names a test over its tuple).
RECURRENT_SCENARIOS = ("rnn_vanishing", "rnn_exploding", "rnn_clipping", "lstm_long_memory")
NOISE_SCENARIOS = ("noisy_small_batches", "accumulated_large_batch", "adam_early_spike", "adam_warmup",
                   "radam_no_spike")
CNN_SCENARIOS = ("cnn_plain_vanishing", "cnn_residual_trains", "cnn_batchnorm_trains")
TRANSFORMER_SCENARIOS = ("transformer_post_ln_init", "transformer_pre_ln_init", "transformer_post_ln_adam",
                         "transformer_pre_ln_adam", "transformer_post_ln_warmup")
AUTOENCODER_SCENARIOS = ("autoencoder_noisy", "autoencoder_accumulated")
TESTED_ELSEWHERE = (RECURRENT_SCENARIOS + NOISE_SCENARIOS + CNN_SCENARIOS + TRANSFORMER_SCENARIOS
                    + AUTOENCODER_SCENARIOS)

# Torch intra-op thread counts at which the scenarios whose training is sensitive to float rounding
# (6a, 6b, 12b, 12c, 13c, 13e) are checked: the sums are added up in another order on 2 threads (as in
# the app on a multi-core machine), so their texts state what holds at both.
THREADS = (1, 2)


@contextmanager
def torch_threads(n: int):
    """Run the block with torch on `n` intra-op threads; the count before is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Steps an exported script is run for against the Simulator.
EXPORT_STEPS = 3


def as_sets(fields: dict) -> list[str]:
    """The command-line form of `fields`: ["--set", "key=value", ...]."""
    return [arg for key, value in fields.items() for arg in ("--set", f"{key}={value}")]


def scenario_sim(name: str, **changes) -> Simulator:
    """A Simulator of scenario `name` on the CPU, with `changes` to its config."""
    return Simulator(load_scenario(name).config.replace(device="cpu", **changes))


def run_scenario(name: str, **changes):
    """(simulator, snapshot): the scenario's steps, or a probe for a probe-only scenario."""
    sim = scenario_sim(name, **changes)
    steps = load_scenario(name).steps
    return sim, (sim.step(steps) if steps else sim.probe())


def quoted(value: float, text: float, digits: int = 1) -> bool:
    """`value` rounds to the figure `text` quoted with `digits` significant digits (±half a unit
    in the last digit, plus 1 % for float32 reductions in another order)."""
    unit = 10 ** (math.floor(math.log10(abs(text))) - digits + 1)
    return abs(value - text) <= 0.5 * unit + 0.01 * abs(text)


def script_losses(output: str) -> list[float]:
    """The losses an exported script printed, one per `step` line."""
    return [float(line.split()[3]) for line in output.splitlines() if line.startswith("step ")]


def run_script_in_process(path, monkeypatch, capsys) -> str:
    """Run an exported script as __main__ for EXPORT_STEPS steps in this process (no second torch
    import: ~0.2 s instead of ~5 s); its output. The script imports nothing of this project
    (tests/core/test_export_script.py checks it), and one subprocess run there shows it works alone."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", [str(path), "--steps", str(EXPORT_STEPS)])
    runpy.run_path(str(path), run_name="__main__")
    return capsys.readouterr().out


def exported_and_simulated_losses(cfg, path, monkeypatch, capsys) -> tuple[list[float], list[float], str]:
    """Export `cfg` to the script `path`, run it in process (run_script_in_process) and train a
    Simulator of `cfg` as long: (the script's losses, the Simulator's, the script's output). Both
    run the same float32 CPU kernels in the same order, so callers compare them at rel 1e-5."""
    from core.export_script import export_script  # (only the export tests need it)
    path.write_text(export_script(cfg, path.name))
    output = run_script_in_process(path, monkeypatch, capsys)
    sim = Simulator(cfg)
    return script_losses(output), [sim.step().loss for _ in range(EXPORT_STEPS)], output
