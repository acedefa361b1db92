"""Compare A/B: same batches, the gradient log ratio against an independent computation, the session file."""
import json
import math

import numpy as np
import pytest

from core import SimConfig, Simulator
from core.compare import (
    A_ZERO, B_ZERO, BOTH_ZERO, NONFINITE, OK, Comparer, ConfigPair, SessionError, describe_divergence,
    differing_fields, grad_log_ratio, load_pair, save_pair, unshared_fields,
)

BASE = SimConfig(depth=5, width=16, n_samples=128, batch_size=16, activation="relu", device="cpu")


def _record_batches(sim: Simulator) -> list:
    """Wrap the simulator's batch sampler so every batch's indices are kept."""
    seen, draw = [], sim._sampler.next_indices

    def spy():
        idx = draw()
        seen.append(idx.tolist())
        return idx

    sim._sampler.next_indices = spy
    return seen


def test_identical_configs_give_identical_snapshots_and_zero_difference():
    c = Comparer(ConfigPair(BASE, BASE))
    for comp in (c.probe(), c.step(3)):
        # same config, same seed, same batches, CPU: the same operations, so bit-identical numbers
        assert comp.a.loss == comp.b.loss
        np.testing.assert_array_equal(comp.a.layers.grad_norm, comp.b.layers.grad_norm)
        np.testing.assert_array_equal(comp.a.layers.act_std, comp.b.layers.act_std)
        assert comp.diff.flag == (OK,) * BASE.depth and np.all(comp.diff.log10_ratio == 0.0)
    assert comp.step == 3 and c.steps_done == 3


@pytest.mark.parametrize("changes", [
    dict(init="kaiming_normal"),                      # same number of draws, other scale
    dict(init="orthogonal", depth=8, bias_std=0.1),   # other draws, more layers, extra bias draws
    dict(init="zeros", normalization="batchnorm"),    # no draws at all
])
def test_a_and_b_see_the_same_data_and_batches_whatever_the_init(changes):
    b = BASE.replace(**changes)
    assert unshared_fields(BASE, b) == ()
    c = Comparer(ConfigPair(BASE, b))
    seen_a, seen_b = _record_batches(c.sim_a), _record_batches(c.sim_b)
    c.step(4)
    c.step(1)
    assert len(seen_a) == 5 and seen_a == seen_b
    assert len({tuple(s) for s in seen_a}) > 1  # real, changing batches
    assert np.array_equal(c.sim_a.x.numpy(), c.sim_b.x.numpy()) and np.array_equal(c.sim_a.y, c.sim_b.y)
    # A in a comparison is A alone (B only reads a copy of A's sampler)
    alone = Simulator(BASE).step(5)
    c2 = Comparer(ConfigPair(BASE, b)).step(5)
    np.testing.assert_array_equal(alone.layers.grad_norm, c2.a.layers.grad_norm)
    assert alone.loss == c2.a.loss


def test_unshared_fields_keep_their_own_batches():
    c = Comparer(ConfigPair(BASE, BASE.replace(batch_size=8)))
    seen_b = _record_batches(c.sim_b)
    c.step(2)
    assert [len(s) for s in seen_b] == [8, 8]


def test_unshared_and_differing_fields():
    assert unshared_fields(BASE, BASE.replace(batch_size=8, seed=3)) == ("seed", "batch_size")
    assert unshared_fields(BASE, BASE.replace(grad_accum=2)) == ("grad_accum",)
    # input_dim only matters for the Gaussian data
    assert unshared_fields(BASE, BASE.replace(input_dim=4)) == ()
    g = BASE.replace(dataset="gaussian")
    assert unshared_fields(g, g.replace(input_dim=4)) == ("input_dim",)
    assert differing_fields(BASE, BASE.replace(init="kaiming_normal", lr=0.1)) == ("init", "lr")
    pair = ConfigPair(BASE, BASE.replace(batch_size=8))
    assert "batch_size" in pair.warning() and "batches" in pair.warning()
    assert ConfigPair(BASE, BASE.replace(depth=9)).warning() == ""


def test_log_ratio_special_values_are_flagged_never_dropped():
    a = [0.0, 1.0, 0.0, math.nan, 2.0, 1e-320, 1e300, 3.0]
    b = [1.0, 0.0, 0.0, 1.0, math.inf, 1e-300, 1e-300, 30.0]
    r = grad_log_ratio(a, b)
    assert r.flag == (A_ZERO, B_ZERO, BOTH_ZERO, NONFINITE, NONFINITE, OK, OK, OK)
    assert r.log10_ratio[0] == math.inf and r.log10_ratio[1] == -math.inf
    assert np.isnan(r.log10_ratio[2:5]).all()
    # 1e-300 / 1e300 underflows to 0 as a quotient (and 1e-300 / subnormal 1e-320 loses digits);
    # as a difference of logs each agrees with math.log10 to float rounding (|log10| ≤ 320 → 1e-12)
    assert 1e-300 / 1e300 == 0.0
    for i in (5, 6, 7):
        assert r.log10_ratio[i] == pytest.approx(math.log10(b[i]) - math.log10(a[i]), abs=1e-12)
    assert r.log10_ratio[6] == pytest.approx(-600.0, abs=1e-12)
    assert r.to_dict()["log10_ratio"][:3] == [None, None, None] and r.to_dict()["flag"][0] == A_ZERO


def test_depths_differ_compare_common_layers_aligned_at_the_output():
    c = Comparer(ConfigPair(BASE.replace(depth=3), BASE.replace(depth=7))).probe()
    assert c.diff.layer_a.tolist() == [1, 2, 3] and c.diff.layer_b.tolist() == [5, 6, 7]
    # independent computation from the two snapshots, layer by layer with math.log10
    expected = [math.log10(c.b.layers.grad_norm[lb - 1]) - math.log10(c.a.layers.grad_norm[la - 1])
                for la, lb in zip(c.diff.layer_a, c.diff.layer_b)]
    np.testing.assert_allclose(c.diff.log10_ratio, expected, rtol=0, atol=1e-12)


def test_xavier_vs_he_under_relu_matches_theory_direction():
    """He (gain √2 over Xavier's 1 for square layers) keeps ReLU gradients up: log ratio grows toward the input.

    Going back one ReLU layer multiplies the squared gradient by about σ_w²/2 (half the units pass), so
    B/A grows by about log10(√2) ≈ 0.15 per layer away from the output. At width 64 the per-layer noise is
    O(1/√64), so over 20 layers we only check the sign of the trend and a loose band around 0.15.
    """
    a = SimConfig(depth=20, width=64, n_samples=256, batch_size=256, activation="relu",
                  init="xavier_normal", device="cpu", dataset="gaussian", input_dim=64)
    c = Comparer(ConfigPair(a, a.replace(init="kaiming_normal"))).probe()
    slope = -np.polyfit(c.diff.layer_a[:-1], c.diff.log10_ratio[:-1], 1)[0]  # per layer toward the input
    assert 0.08 < slope < 0.25, slope
    assert all(f == OK for f in c.diff.flag)


def test_zero_init_gives_flagged_minus_inf():
    c = Comparer(ConfigPair(BASE, BASE.replace(init="zeros"))).probe()
    # zero weights: the readout passes no gradient back, so every hidden ∂L/∂z is exactly 0
    assert np.all(c.b.layers.grad_norm == 0)
    assert c.diff.flag == (B_ZERO,) * BASE.depth and np.all(c.diff.log10_ratio == -math.inf)


def test_divergence_of_one_side_stops_both_at_the_same_step():
    wild = SimConfig(depth=20, width=16, n_samples=64, batch_size=16, activation="relu", init="normal",
                     init_std=1.0, lr=1.0, device="cpu")
    tame = wild.replace(init="kaiming_normal", lr=1e-3)
    c = Comparer(ConfigPair(tame, wild))
    comp = c.step(20)
    assert comp.diverged() == ("B",) and comp.a.step == comp.b.step < 20
    # A ran past B's bad step and was replayed to it: the same numbers as A alone to that step
    alone = Simulator(tame).step(comp.a.step)
    assert comp.a.loss == alone.loss and c.sim_a.steps_done == comp.a.step
    assert describe_divergence(comp, c.pair).startswith(f"B diverged: non-finite value at step {comp.b.step}")
    # the other order: A diverges first, B is stepped only to A's step
    comp = Comparer(ConfigPair(wild, tame)).step(20)
    assert comp.diverged() == ("A",) and comp.a.step == comp.b.step


def test_session_round_trip(tmp_path):
    pair = ConfigPair(BASE, BASE.replace(init="kaiming_normal", clip_mode="value", clip_threshold=0.5))
    path = tmp_path / "s.json"
    save_pair(path, pair)
    assert load_pair(path) == pair
    doc = json.loads(path.read_text())
    assert doc["schema"] == "vanishing-point/session" and doc["version"] == 1 and list(doc["configs"]) == ["a", "b"]
    assert doc["configs"]["b"]["config"]["init"] == "kaiming_normal"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # atomic write left no temporary


def test_reads_a_general_session_with_more_entries_and_omitted_fields(tmp_path):
    """Issue 4's session format: named entries, each {"config", optional "snapshots"/"curve"}."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"schema": "vanishing-point/session", "version": 1, "configs": {
        "main": {"config": {}}, "a": {"config": {"depth": 3}, "snapshots": []},
        "b": {"config": {"depth": 3, "normalization": "batchnorm"}}}}))
    pair = load_pair(path)
    assert pair.a == SimConfig(depth=3) and pair.b == SimConfig(depth=3, normalization="batchnorm")


HEAD = '{"schema": "vanishing-point/session", "version": 1, "configs": '


@pytest.mark.parametrize("text,fragment", [
    (HEAD + '{"a": {"config": {}}', "not valid JSON: damaged or truncated"),
    ('{"title": "a scenario", "config": {}}', "not a Vanishing Point session"),
    ('[1, 2]', "not a Vanishing Point session"),
    ('{"schema": "vanishing-point/session", "version": 7, "configs": {}}', "newer Vanishing Point (session format version 7"),
    ('{"schema": "vanishing-point/session", "version": "1", "configs": {}}', "\"version\" must be a positive"),
    (HEAD + '{"main": {"config": {}}}}', "holds no A/B comparison"),
    (HEAD + '{"a": {"config": {}}, "b": {"depth": 3}}}', "configs.b: expected an object with a \"config\""),
    (HEAD + '{"a": {"config": {}}, "b": {"config": {"depth": 0}}}}', "configs.b.config: depth: 0 is out of range"),
])
def test_bad_session_files_are_refused_with_a_reason(tmp_path, text, fragment):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SessionError) as info:
        load_pair(path)
    assert fragment in str(info.value) and str(info.value).startswith("session: ")
    assert path.read_text() == text
    with pytest.raises(SessionError, match="does not exist"):
        load_pair(tmp_path / "missing.json")
