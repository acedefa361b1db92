"""Every control edits the SimConfig field it claims to; bad typed values are refused."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.controls import (
    FIELDS, ChoiceConnector, ControlPanel, DepthConnector, DoubleSliderConnector, IntSliderConnector,
    LogSliderConnector, SpinConnector, TextConnector,
)
from PySide6.QtWidgets import QWidget

from app.tooltips import TOOLTIPS
from core import SimConfig
from core import config as cc
from core.architectures import ARCHITECTURES
from core.config import unused_by_dataset

# field -> a different valid value to set through the widget
NEW_VALUES = {
    "architecture": "residual", "depth": 7, "width": 24, "activation": "relu", "leaky_slope": 0.2,
    "normalization": "layernorm", "init": "kaiming_normal", "init_mode": "fan_out", "init_std": 0.5,
    "init_gain": 2.0, "bias_std": 0.1, "forget_bias": 2.5, "dataset": "circles", "input_dim": 12, "n_samples": 256,
    "batch_size": 32, "grad_accum": 2, "optimizer": "radam", "lr": 0.001, "momentum": 0.5, "weight_decay": 0.01,
    "warmup_steps": 10, "clip_mode": "norm",
    "clip_threshold": 5.0, "seed": 42, "device": "cpu", "model": "/models/net.py:make", "data_file": "/data/d.csv",
    "label_column": "species", "norm_position": "post", "heads": 2, "pool_every": 2, "seq_len": 9,
}


def user_sets(conn, value) -> None:
    """Drive the widget the way a user would (its own signals fire)."""
    if isinstance(conn, ChoiceConnector):
        conn.widget.setCurrentText(value)
    elif isinstance(conn, DepthConnector):
        conn.slider.setValue(value)
    elif isinstance(conn, (IntSliderConnector, SpinConnector, DoubleSliderConnector)):
        conn.widget.setValue(value)
    elif isinstance(conn, LogSliderConnector):
        conn.edit.setText(str(value))
        conn.edit.editingFinished.emit()
    elif isinstance(conn, TextConnector):
        conn.widget.setText(str(value))
        conn.widget.editingFinished.emit()
    else:  # pragma: no cover
        raise AssertionError(type(conn))


@pytest.fixture
def panel(qtbot, small_config):
    p = ControlPanel(small_config)
    qtbot.addWidget(p)
    return p


def test_table_covers_every_field_once():
    names = [s.name for s in FIELDS]
    assert sorted(names) == sorted(SimConfig.__dataclass_fields__)
    assert len(set(names)) == len(names)
    assert set(NEW_VALUES) == set(names)


@pytest.mark.parametrize("name", [s.name for s in FIELDS])
def test_each_control_changes_its_field(panel, qtbot, name):
    before = panel.config()
    value = NEW_VALUES[name]
    assert getattr(before, name) != value
    with qtbot.waitSignal(panel.configChanged, timeout=1000) as sig:
        user_sets(panel.connectors[name], value)
    after = sig.args[0]
    assert after is panel.config()
    assert getattr(after, name) == pytest.approx(value)
    assert after.replace(**{name: getattr(before, name)}) == before  # nothing else changed


def test_depth_spinbox_reaches_max_depth(panel, qtbot):
    conn = panel.connectors["depth"]
    conn.spin.setValue(cc.MAX_DEPTH)
    assert panel.config().depth == cc.MAX_DEPTH
    assert conn.slider.value() == conn.slider.maximum() == 200
    conn.slider.setValue(12)
    assert panel.config().depth == 12 and conn.spin.value() == 12


def test_log_slider_moves_in_decades(panel):
    conn = panel.connectors["lr"]
    conn.slider.setValue(-2.0)
    assert panel.config().lr == pytest.approx(0.01)
    assert conn.edit.text() == "0.01"
    conn.slider.setValue(conn.slider.minimum())
    assert panel.config().lr == pytest.approx(1e-5)


def test_zero_at_slider_minimum_for_std_fields(panel):
    panel.connectors["init_std"].slider.setValue(-1.0)
    assert panel.config().init_std == pytest.approx(0.1)
    panel.connectors["init_std"].slider.setValue(panel.connectors["init_std"].slider.minimum())
    assert panel.config().init_std == 0.0


@pytest.mark.parametrize("name, text, expect", [
    ("seed", "abc", "seed: expected an integer"),
    ("seed", "-3", "seed:"),
    ("lr", "-1", "lr:"),
    ("lr", "fast", "lr: expected a number"),
    ("init_gain", "0", "init_gain:"),
    ("clip_threshold", "nan", "clip_threshold:"),
    ("weight_decay", "-1", "weight_decay: -1.0 is out of range; allowed >= 0"),
])
def test_bad_typed_value_shows_error_and_keeps_config(panel, qtbot, name, text, expect):
    before = panel.config()
    with qtbot.assertNotEmitted(panel.configChanged):
        user_sets(panel.connectors[name], text)
    assert panel.config() == before
    assert panel.error_text(name).startswith(expect)
    assert panel.errors[name].isVisibleTo(panel)
    # a good value clears the error
    user_sets(panel.connectors[name], NEW_VALUES[name])
    assert panel.error_text(name) == ""
    assert getattr(panel.config(), name) == pytest.approx(NEW_VALUES[name])


def test_cross_field_error_is_shown_at_both_controls(panel):
    before = panel.config()  # batch_size 16
    panel.connectors["batch_size"].widget.setValue(500)  # > n_samples 128
    assert panel.config() == before
    assert "batch_size" in panel.error_text("batch_size")
    panel.connectors["grad_accum"].widget.setValue(9)  # effective batch 16 × 9 > 128 examples
    assert panel.config() == before
    assert panel.error_text("grad_accum").startswith("grad_accum: effective batch batch_size × grad_accum = 16 × 9")
    assert "allowed 1..8" in panel.error_text("grad_accum")


def test_every_control_has_an_informative_tooltip(panel):
    assert panel.config().architecture == "mlp"
    for spec in FIELDS:
        tip = panel.connectors[spec.name].widget.toolTip()
        assert len(TOOLTIPS[spec.name]) > 20
        # a field the architecture or data set ignores says why instead (test_ignored_fields_are_disabled_with_the_reason)
        assert tip == (ARCHITECTURES["mlp"].why_unused(spec.name) or unused_by_dataset(panel.config(), spec.name)
                       or TOOLTIPS[spec.name])
    init = TOOLTIPS["init"]
    assert "√(2/fan_in)" in init and "ReLU" in init and "sigmoid/tanh" in init
    assert "small batches" in TOOLTIPS["normalization"]
    assert "1/√N" in TOOLTIPS["grad_accum"] and "lr·t/W" in TOOLTIPS["warmup_steps"]


def shows_fields_of(panel, architecture: str) -> None:
    """Each control (its widget, every child and its label) is enabled iff `architecture` and the shown
    data set read the field, with the field's own tooltip, or else disabled with the reason as its tooltip."""
    arch = ARCHITECTURES[architecture]
    for spec in FIELDS:
        why = arch.why_unused(spec.name) or unused_by_dataset(panel.config(), spec.name)
        conn, label = panel.connectors[spec.name], panel.labels[spec.name]
        assert conn.widget.isEnabled() == label.isEnabled() == (why is None), (architecture, spec.name)
        assert label.toolTip() == (why or TOOLTIPS[spec.name]), (architecture, spec.name)
        assert conn.widget.toolTip() == (why or TOOLTIPS[spec.name]), (architecture, spec.name)
        if why is not None:
            assert all(child.toolTip() == why for child in conn.widget.findChildren(QWidget))


def test_ignored_fields_are_disabled_with_the_reason(panel, qtbot):
    shows_fields_of(panel, "mlp")
    disabled = {s.name for s in FIELDS if not panel.connectors[s.name].widget.isEnabled()}
    assert disabled == {"forget_bias", "norm_position", "heads", "pool_every", "seq_len", "model", "input_dim"}
    assert "no gates" in panel.connectors["forget_bias"].widget.toolTip()
    assert "sizes the gaussian data set only" in panel.unused_reason("input_dim")
    panel.set_config(panel.config().replace(dataset="gaussian"))  # the one data set input_dim sizes
    assert panel.connectors["input_dim"].widget.isEnabled() and panel.unused_reason("input_dim") is None
    shows_fields_of(panel, "mlp")
    spin_tip = panel.connectors["depth"].spin.toolTip()  # a child with its own tooltip keeps it
    assert spin_tip.startswith("Depth up to")
    sequence = panel.config().replace(dataset="first_token")
    panel.set_config(sequence)  # a sequence data set, so the user can pick the transformer
    with qtbot.waitSignal(panel.configChanged, timeout=1000):
        user_sets(panel.connectors["architecture"], "transformer")
    assert panel.config().architecture == "transformer"
    shows_fields_of(panel, "transformer")
    assert panel.unused_reason("normalization").startswith("The transformer always normalizes with LayerNorm")
    assert panel.connectors["heads"].widget.isEnabled() and panel.connectors["seq_len"].widget.isEnabled()
    for architecture, dataset in (("lstm", "first_token"), ("cnn", "digits"), ("autoencoder", "digits"),
                                  ("rnn", "first_token"), ("mlp", "spirals")):
        panel.set_config(sequence.replace(architecture=architecture, dataset=dataset))
        shows_fields_of(panel, architecture)
    # back on the MLP every used control has its own tooltip again, children included
    assert panel.connectors["depth"].spin.toolTip() == spin_tip
    assert panel.connectors["normalization"].widget.isEnabled()


def test_set_config_updates_widgets_without_emitting(panel, qtbot):
    cfg = panel.config().replace(**{k: v for k, v in NEW_VALUES.items() if k != "batch_size"})
    with qtbot.assertNotEmitted(panel.configChanged):
        panel.set_config(cfg)
    assert panel.connectors["activation"].value() == "relu"
    assert panel.connectors["seed"].value() == "42"
    assert panel.connectors["depth"].value() == 7


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=12))
def test_any_text_in_a_box_is_accepted_or_refused_cleanly(panel, text):
    before = panel.config()
    conn = panel.connectors["lr"]
    conn.edit.setText(text)
    conn.edit.editingFinished.emit()
    after = panel.config()
    error = panel.error_text("lr")
    if after == before:
        assert error == "" or error.startswith("lr:")
    else:
        assert error == ""
        assert after.lr > 0 and after.replace(lr=before.lr) == before
    panel.set_config(before)
