"""The one wording of where a NaN/Inf appeared, and the callers that use it."""
from __future__ import annotations

import dataclasses

import pytest

from core import SimConfig, Simulator
from core.compare import Comparer, ConfigPair, describe_divergence
from core.architectures import ARCHITECTURES, layer_noun
from core.diagnoses import diagnose
from core.report import describe_nonfinite, nonfinite_location, nonfinite_quantity

TINY = SimConfig(depth=3, width=4, n_samples=64, batch_size=8, device="cpu")


@pytest.fixture(scope="module")
def probe():
    return Simulator(TINY).probe()


def went(snapshot, step: int, layer: int | None, stage: str):
    return dataclasses.replace(snapshot, step=step, nonfinite=True, nonfinite_layer=layer, nonfinite_stage=stage)


def test_location_names_the_step_and_the_layer_with_the_callers_noun(probe):
    snap = went(probe, 41, 18, "backward")
    assert nonfinite_location(snap, "layer") == "step 41, layer 18"
    assert nonfinite_location(snap, "time step") == "step 41, time step 18"
    assert describe_nonfinite(snap, "layer") == "non-finite value at step 41, layer 18 (backward pass)"
    assert describe_nonfinite(snap, "time step", stage_suffix="") == \
        "non-finite value at step 41, time step 18 (backward)"
    only_loss = went(probe, 5, None, "loss")  # no layer held it: the step alone
    assert nonfinite_location(only_loss, "layer") == "step 5"
    assert describe_nonfinite(only_loss, "layer") == "non-finite value at step 5 (loss pass)"


@pytest.mark.parametrize("stage,quantity", [("forward", "activation"), ("loss", "loss"),
                                            ("backward", "gradient"), ("update", "weight update")])
def test_quantity_of_each_stage(probe, stage, quantity):
    assert nonfinite_quantity(went(probe, 1, 2, stage)) == quantity


def test_noun_of_each_architecture():
    assert [layer_noun(a) for a in ("mlp", "residual", "rnn", "lstm", "cnn", "residual_cnn", "transformer",
                                    "autoencoder")] == \
        ["layer", "layer", "time step", "time step", "conv layer", "conv layer", "block", "layer"]
    assert all(layer_noun(name) == arch.noun for name, arch in ARCHITECTURES.items())  # the registry's, nothing else


def test_diagnoses_and_the_comparison_word_it_the_same_way(probe):
    snap = went(probe, 7, 2, "forward")
    (d,) = [d for d in diagnose(snap, TINY) if d.kind == "nonfinite"]
    assert d.message == f"non-finite activation at {nonfinite_location(snap, 'layer')}"
    rnn = TINY.replace(architecture="rnn", dataset="first_token")
    (d,) = [d for d in diagnose(snap, rnn) if d.kind == "nonfinite"]
    assert d.message == "non-finite activation at step 7, time step 2"
    for arch, dataset, noun in (("transformer", "first_token", "block"), ("cnn", "digits", "conv layer")):
        other = TINY.replace(architecture=arch, dataset=dataset)
        (d,) = [d for d in diagnose(snap, other) if d.kind == "nonfinite"]
        assert d.message == f"non-finite activation at step 7, {noun} 2"
    comparison = Comparer(ConfigPair(TINY, TINY)).probe()
    diverged_b = dataclasses.replace(comparison, b=snap)
    assert describe_divergence(diverged_b, ConfigPair(TINY, TINY)) == \
        "B diverged: non-finite value at step 7, layer 2 (forward pass)"
    # each side is located with its own architecture's noun
    assert describe_divergence(diverged_b, ConfigPair(TINY, rnn)) == \
        "B diverged: non-finite value at step 7, time step 2 (forward pass)"
