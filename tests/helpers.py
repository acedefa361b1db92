"""What several test modules share: the small configurations, one per purpose, and the scenario
runner. Test modules import from here (or take a conftest fixture), never from each other."""
from __future__ import annotations

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

# Scenarios whose tests live outside tests/core/test_scenarios.py (each module parametrizes or
# names a test over its tuple).
RECURRENT_SCENARIOS = ("rnn_vanishing", "rnn_exploding", "rnn_clipping", "lstm_long_memory")
NOISE_SCENARIOS = ("noisy_small_batches", "accumulated_large_batch", "adam_early_spike", "adam_warmup",
                   "radam_no_spike")


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
