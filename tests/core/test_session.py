"""Sessions: round trip (config, snapshots with NaN/Inf, curve), atomic writes, refusal of bad files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core import SimConfig, Simulator, Snapshot
from core.session import (
    MAIN, SCHEMA, VERSION, Curve, Entry, Session, SessionError, load_session, parse_session, save_session,
)
from core.snapshot import LAYER_STAT_FIELDS
from tests.helpers import QUICK

SMALL = QUICK
# relu, N(0,1) weights, 50 layers, lr 1: the activations overflow to Inf at step 2 (checked)
EXPLODING = dict(activation="relu", init="normal", init_std=1.0, depth=50, lr=1.0,
                 width=16, n_samples=256, batch_size=32)


def same_snapshot(a: Snapshot, b: Snapshot) -> None:
    """Equal scalars and arrays, NaN matching NaN; ±Inf were written as null and come back as NaN."""
    for name in ("step", "kind", "clipped", "nonfinite", "nonfinite_layer", "nonfinite_stage"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("loss", "accuracy", "lr", "grad_norm_total", "grad_norm_clipped"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x == y) or (not math.isfinite(x) and math.isnan(y)), name
    for name in LAYER_STAT_FIELDS:
        x, y = getattr(a.layers, name), getattr(b.layers, name)
        assert x.shape == y.shape and x.dtype == y.dtype, name
        finite = np.isfinite(x)
        assert np.array_equal(x[finite], y[finite]), name  # exact: JSON floats round-trip bit for bit
        assert np.isnan(y[~finite]).all(), name


def test_snapshot_round_trip_probe_and_steps():
    sim = Simulator(SimConfig(**SMALL))
    for snap in (sim.probe(), sim.step(), sim.step(3)):
        back = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict(), allow_nan=False)))
        same_snapshot(snap, back)
        assert back.layers.act_hist_counts.sum() == snap.layers.act_hist_counts.sum() > 0
        assert not back.layers.grad_norm.flags.writeable  # read-only like the simulator's


def test_snapshot_round_trip_keeps_nonfinite_flags():
    sim = Simulator(SimConfig(**EXPLODING))
    sim.step()
    bad = sim.step()
    assert bad.nonfinite and bad.nonfinite_stage == "forward" and bad.layers.act_nonfinite.sum() > 0
    back = Snapshot.from_dict(json.loads(json.dumps(bad.to_dict(), allow_nan=False)))
    same_snapshot(bad, back)
    assert back.nonfinite_layer == bad.nonfinite_layer
    assert np.array_equal(back.layers.act_nonfinite, bad.layers.act_nonfinite)
    assert np.array_equal(back.layers.grad_nonfinite, bad.layers.grad_nonfinite)
    assert math.isnan(back.loss)


def test_snapshot_from_dict_names_the_bad_part():
    d = Simulator(SimConfig(**SMALL)).probe().to_dict()
    del d["layers"][2]["grad_norm"]
    with pytest.raises(ValueError, match=r"layers\[2\]: missing 'grad_norm'"):
        Snapshot.from_dict(d)
    d = Simulator(SimConfig(**SMALL)).probe().to_dict()
    d["layers"][1]["act_hist"]["edges"].pop()
    with pytest.raises(ValueError, match=r"layers\[1\]\.act_hist: 50 counts and 50 edges"):
        Snapshot.from_dict(d)
    with pytest.raises(ValueError, match=r"snapshot\.kind"):
        Snapshot.from_dict({**d, "kind": "walk"})


def test_session_round_trip(tmp_path):
    cfg = SimConfig(**SMALL, activation="relu", init="kaiming_normal", clip_mode="norm", seed=7)
    sim = Simulator(cfg)
    snaps = [sim.step() for _ in range(3)]
    curve = Curve((1, 2, 3), tuple(s.loss for s in snaps), tuple(s.accuracy for s in snaps))
    other = SimConfig(**SMALL, activation="sigmoid")
    session = Session({MAIN: Entry(cfg, tuple(snaps), curve), "b": Entry(other)})
    path = tmp_path / "s.vpsession.json"
    save_session(path, session)
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and doc["version"] == VERSION and list(doc["configs"]) == ["main", "b"]
    back = load_session(path)
    assert list(back.entries) == ["main", "b"]
    assert back.main.config == cfg and back.entries["b"].config == other
    assert back.entries["b"].snapshots == () and back.entries["b"].curve is None
    assert back.main.curve == curve
    for a, b in zip(snaps, back.main.snapshots, strict=True):
        same_snapshot(a, b)
    save_session(path, session, with_snapshots=False)
    assert load_session(path).main.snapshots == ()
    assert [p.name for p in tmp_path.iterdir()] == ["s.vpsession.json"]  # no temporary file left


def test_config_fields_missing_from_file_take_defaults():
    doc = {"schema": SCHEMA, "version": 1, "configs": {"main": {"config": {"depth": 7}}}}
    assert parse_session(json.dumps(doc)).main.config == SimConfig(depth=7)


def _good_text() -> str:
    sim = Simulator(SimConfig(**SMALL))
    return Session.single(sim.config, [sim.step()]).to_json()


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t[: len(t) // 2], "not valid JSON: damaged or truncated"),
    (lambda t: "{" + t, "not valid JSON"),
    (lambda t: json.dumps({"config": {"depth": 3}, "snapshots": []}), "not a Vanishing Point session"),
    (lambda t: json.dumps([1, 2, 3]), "not a Vanishing Point session"),
    (lambda t: t.replace('"version": 1', '"version": 2'), "newer Vanishing Point .*version 2.*reads up to 1"),
    (lambda t: t.replace('"version": 1', '"version": "one"'), "\"version\" must be a positive integer"),
    (lambda t: t.replace('"depth": 4', '"depth": 0'), r"configs\.main\.config: depth: 0 is out of range"),
    (lambda t: t.replace('"depth": 4', '"depht": 4'), "depht: unknown field; did you mean 'depth'"),
    (lambda t: t.replace('"loss": ', '"lost": ', 1), r"configs\.main\.snapshots\[0\]: missing 'loss'"),
    (lambda t: json.dumps({"schema": SCHEMA, "version": 1, "configs": {}}), "non-empty object"),
])
def test_bad_files_raise_a_clear_error_and_leave_the_target_alone(tmp_path, mutate, message):
    path = tmp_path / "bad.json"
    text = mutate(_good_text())
    path.write_text(text)
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    assert str(info.value).startswith("session: ")
    assert path.read_text() == text  # reading never changes the file


def test_depth_mismatch_and_unreadable_files(tmp_path):
    text = _good_text().replace('"depth": 4', '"depth": 5')
    with pytest.raises(SessionError, match=r"layer counts \[4\] do not match the config's depth 5"):
        parse_session(text)
    with pytest.raises(SessionError, match="does not exist"):
        load_session(tmp_path / "nope.json")
    with pytest.raises(SessionError, match="is a folder"):
        load_session(tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SessionError, match="not UTF-8"):
        load_session(tmp_path / "bin.json")


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    save_session(path, Session.single(SimConfig(depth=3)))
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.files.os.replace", boom)
    with pytest.raises(SessionError, match="cannot write .*No space left"):
        save_session(path, Session.single(SimConfig(depth=9)))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["s.json"]
