"""The control panel: one widget per `SimConfig` field, bound by a table.

`FIELDS` lists every field once: its group, a connector factory and its label.
A connector wraps one widget (or a small composite) and offers the same four
things: `widget`, `value()`, `set_value(v)` and a `changed` signal. The panel
turns every `changed` into ``config.replace(field=value)`` (or, for typed text,
``config.with_overrides(["field=text"])`` so the core parses it) and hands
the new config to its `request` (a window's `RunState.request_config`, which
runs the memory check); a `ConfigError` from either is shown next to the
control and the last good config is kept. A control whose field the shown
config's architecture does not read is disabled, its tooltip saying why
(`Architecture.why_unused`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSpinBox, QVBoxLayout, QWidget,
)
from superqt import QCollapsible, QDoubleSlider, QLabeledDoubleSlider, QLabeledSlider
from superqt.utils import signals_blocked

from core import ConfigError, SimConfig
from core import config as cc
from core.architectures import get_architecture

from .tooltips import TOOLTIPS

DEPTH_SLIDER_MAX = 200
LOG_STEPS_PER_DECADE = 20


class Connector(QObject):
    """Binds one widget to one config value. `changed` fires on a user edit."""

    changed = Signal()
    typed = False  # True: value() is raw text for SimConfig.with_overrides

    widget: QWidget

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


class ChoiceConnector(Connector):
    def __init__(self, choices: tuple[str, ...]):
        super().__init__()
        self.widget = QComboBox()
        self.widget.addItems(list(choices))
        self.widget.currentTextChanged.connect(lambda _: self.changed.emit())

    def value(self) -> str:
        return self.widget.currentText()

    def set_value(self, value: str) -> None:
        with signals_blocked(self.widget):
            self.widget.setCurrentText(value)


class _IntConnector(Connector):
    """An integer field on any widget with setRange/value/setValue/valueChanged."""

    def __init__(self, widget: QWidget, lo: int, hi: int):
        super().__init__()
        self.widget = widget
        self.widget.setRange(lo, hi)
        self.widget.valueChanged.connect(lambda _: self.changed.emit())

    def value(self) -> int:
        return int(self.widget.value())

    def set_value(self, value: int) -> None:
        with signals_blocked(self.widget):
            self.widget.setValue(value)


class IntSliderConnector(_IntConnector):
    def __init__(self, lo: int, hi: int):
        super().__init__(QLabeledSlider(Qt.Orientation.Horizontal), lo, hi)


class DepthConnector(Connector):
    """A 1..200 labeled slider and a spin box reaching MAX_DEPTH, kept in step."""

    def __init__(self):
        super().__init__()
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, DEPTH_SLIDER_MAX)
        self.slider.setEdgeLabelMode(QLabeledSlider.EdgeLabelMode.NoLabel)
        self.spin = QSpinBox()
        self.spin.setRange(1, cc.MAX_DEPTH)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip(f"Depth up to {cc.MAX_DEPTH} (the slider stops at {DEPTH_SLIDER_MAX})")
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def _from_slider(self, v: int) -> None:
        with signals_blocked(self.spin):
            self.spin.setValue(v)
        self.changed.emit()

    def _from_spin(self, v: int) -> None:
        with signals_blocked(self.slider):
            self.slider.setValue(min(v, DEPTH_SLIDER_MAX))
        self.changed.emit()

    def value(self) -> int:
        return int(self.spin.value())

    def set_value(self, value: int) -> None:
        with signals_blocked(self.slider), signals_blocked(self.spin):
            self.spin.setValue(value)
            self.slider.setValue(min(value, DEPTH_SLIDER_MAX))


class SpinConnector(_IntConnector):
    def __init__(self, lo: int, hi: int):
        spin = QSpinBox()
        spin.setKeyboardTracking(False)  # one change per finished edit, not per keystroke
        super().__init__(spin, lo, hi)


class DoubleSliderConnector(Connector):
    def __init__(self, lo: float, hi: float, decimals: int = 3):
        super().__init__()
        self.widget = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.widget.setRange(lo, hi)
        self.widget.setDecimals(decimals)
        self.widget.valueChanged.connect(lambda _: self.changed.emit())

    def value(self) -> float:
        return round(float(self.widget.value()), 6)

    def set_value(self, value: float) -> None:
        with signals_blocked(self.widget):
            self.widget.setValue(value)


class LogSliderConnector(Connector):
    """A slider over log10(value) and a text box showing (and accepting) the value itself.

    With `zero_at_min`, the slider's leftmost notch means exactly 0.
    """

    typed = True

    def __init__(self, lo: float, hi: float, zero_at_min: bool = False):
        super().__init__()
        self.lo, self.hi, self.zero_at_min = math.log10(lo), math.log10(hi), zero_at_min
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.slider = QDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(self.lo, self.hi)
        self.slider.setSingleStep(1 / LOG_STEPS_PER_DECADE)
        self.slider.setPageStep(1.0)
        self.edit = QLineEdit()
        self.edit.setMaximumWidth(80)
        row.addWidget(self.slider, 1)
        row.addWidget(self.edit)
        self.slider.valueChanged.connect(self._from_slider)
        self.edit.editingFinished.connect(self._from_edit)
        self._last_text = ""

    def _slider_value(self) -> float:
        pos = round(float(self.slider.value()) * LOG_STEPS_PER_DECADE) / LOG_STEPS_PER_DECADE
        if self.zero_at_min and pos <= self.lo:
            return 0.0
        return float(f"{10 ** pos:.3g}")

    def _from_slider(self, _: float) -> None:
        with signals_blocked(self.edit):
            self.edit.setText(_fmt(self._slider_value()))
        self._last_text = self.edit.text()
        self.changed.emit()

    def _from_edit(self) -> None:
        if self.edit.text() == self._last_text:
            return
        self._last_text = self.edit.text()
        self.changed.emit()

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: float) -> None:
        with signals_blocked(self.slider), signals_blocked(self.edit):
            self.edit.setText(_fmt(value))
            pos = self.lo if value <= 0 else min(max(math.log10(value), self.lo), self.hi)
            self.slider.setValue(pos)
        self._last_text = self.edit.text()


class TextConnector(Connector):
    """A line edit whose text the core parses (e.g. the seed)."""

    typed = True

    def __init__(self):
        super().__init__()
        self.widget = QLineEdit()
        self.widget.editingFinished.connect(self._edited)
        self._last_text = ""

    def _edited(self) -> None:
        if self.widget.text() != self._last_text:
            self._last_text = self.widget.text()
            self.changed.emit()

    def value(self) -> str:
        return self.widget.text().strip()

    def set_value(self, value: Any) -> None:
        with signals_blocked(self.widget):
            self.widget.setText(str(value))
        self._last_text = self.widget.text()


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    group: str
    label: str
    make: Callable[[], Connector]


def _choice(values: tuple[str, ...]) -> Callable[[], Connector]:
    return lambda: ChoiceConnector(values)


# The binding table: every SimConfig field, exactly once.
FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("architecture", "Network", "Architecture", _choice(cc.ARCHITECTURES)),
    FieldSpec("model", "Network", "Model file", TextConnector),
    FieldSpec("depth", "Network", "Depth", DepthConnector),
    FieldSpec("width", "Network", "Width", lambda: IntSliderConnector(1, cc.MAX_WIDTH)),
    FieldSpec("activation", "Network", "Activation", _choice(cc.ACTIVATION_NAMES)),
    FieldSpec("leaky_slope", "Network", "Leaky slope", lambda: DoubleSliderConnector(0.0, 1.0)),
    FieldSpec("normalization", "Network", "Normalization", _choice(cc.NORMALIZATIONS)),
    FieldSpec("norm_position", "Network", "LayerNorm position", _choice(cc.NORM_POSITIONS)),
    FieldSpec("heads", "Network", "Attention heads", lambda: SpinConnector(1, cc.MAX_WIDTH)),
    FieldSpec("pool_every", "Network", "Pool every", lambda: SpinConnector(0, cc.MAX_DEPTH)),
    FieldSpec("init", "Initialization", "Init scheme", _choice(cc.INIT_NAMES)),
    FieldSpec("init_mode", "Initialization", "Init mode", _choice(cc.INIT_MODES)),
    FieldSpec("init_std", "Initialization", "Init std", lambda: LogSliderConnector(1e-4, 10.0, zero_at_min=True)),
    FieldSpec("init_gain", "Initialization", "Init gain", lambda: LogSliderConnector(1e-2, 10.0)),
    FieldSpec("bias_std", "Initialization", "Bias std", lambda: LogSliderConnector(1e-4, 10.0, zero_at_min=True)),
    FieldSpec("forget_bias", "Initialization", "LSTM forget bias",
              lambda: DoubleSliderConnector(-cc.MAX_FORGET_BIAS, cc.MAX_FORGET_BIAS, decimals=2)),
    FieldSpec("dataset", "Data", "Dataset", _choice(cc.DATASET_NAMES)),
    FieldSpec("data_file", "Data", "Data file", TextConnector),
    FieldSpec("label_column", "Data", "Label column", TextConnector),
    FieldSpec("input_dim", "Data", "Input dim", lambda: SpinConnector(1, cc.MAX_INPUT_DIM)),
    FieldSpec("seq_len", "Data", "Sequence length", lambda: SpinConnector(1, cc.MAX_SEQ_LEN)),
    FieldSpec("n_samples", "Data", "Samples", lambda: SpinConnector(cc.MIN_SAMPLES, cc.MAX_SAMPLES)),
    FieldSpec("batch_size", "Data", "Batch size", lambda: SpinConnector(1, cc.MAX_SAMPLES)),
    FieldSpec("grad_accum", "Data", "Accumulate", lambda: SpinConnector(1, cc.MAX_GRAD_ACCUM)),
    FieldSpec("optimizer", "Optimizer", "Optimizer", _choice(cc.OPTIMIZERS)),
    FieldSpec("lr", "Optimizer", "Learning rate", lambda: LogSliderConnector(1e-5, 10.0)),
    FieldSpec("momentum", "Optimizer", "Momentum", lambda: DoubleSliderConnector(0.0, 0.999)),
    FieldSpec("weight_decay", "Optimizer", "Weight decay",
              lambda: LogSliderConnector(1e-6, 1.0, zero_at_min=True)),
    FieldSpec("warmup_steps", "Optimizer", "Warm-up steps", lambda: SpinConnector(0, cc.MAX_WARMUP_STEPS)),
    FieldSpec("clip_mode", "Optimizer", "Clip mode", _choice(cc.CLIP_MODES)),
    FieldSpec("clip_threshold", "Optimizer", "Clip threshold", lambda: LogSliderConnector(1e-3, 100.0)),
    FieldSpec("seed", "Run", "Seed", TextConnector),
    FieldSpec("device", "Run", "Device", _choice(cc.DEVICES)),
)
GROUPS = ("Network", "Initialization", "Data", "Optimizer", "Run")
assert sorted(s.name for s in FIELDS) == sorted(f.name for f in fields(SimConfig)), "FIELDS must cover SimConfig"


class ControlPanel(QScrollArea):
    """Scrollable, grouped controls for a `SimConfig`.

    Each good new config the user makes goes to `request(config)`, which may refuse it by raising
    ConfigError (shown beside the control); once accepted, `configChanged` is emitted with it.
    """

    configChanged = Signal(object)

    def __init__(self, config: SimConfig, parent: QWidget | None = None,
                 request: Callable[[SimConfig], None] | None = None):
        super().__init__(parent)
        self._config = config
        self.request = request or (lambda _config: None)
        self.connectors: dict[str, Connector] = {}
        self.errors: dict[str, QLabel] = {}
        self.labels: dict[str, QLabel] = {}
        # each field's label and widgets with their own tooltips, restored when the field is used again
        self._tips: dict[str, list[tuple[QWidget, str]]] = {}
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(4, 4, 4, 4)
        self.groups: dict[str, QCollapsible] = {}
        forms: dict[str, QFormLayout] = {}
        for group in GROUPS:
            box = QCollapsible(group)
            inner = QWidget()
            form = QFormLayout(inner)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setContentsMargins(2, 2, 2, 2)
            box.addWidget(inner)
            box.expand(animate=False)
            outer.addWidget(box)
            self.groups[group] = box
            forms[group] = form
        outer.addStretch(1)
        for spec in FIELDS:
            conn = spec.make()
            tip = TOOLTIPS[spec.name]
            label = QLabel(spec.label)
            label.setToolTip(tip)
            conn.widget.setToolTip(tip)
            for child in conn.widget.findChildren(QWidget):
                if not child.toolTip():
                    child.setToolTip(tip)
            self._tips[spec.name] = [(w, w.toolTip()) for w in (label, conn.widget, *conn.widget.findChildren(QWidget))]
            error = QLabel()
            error.setObjectName(f"error_{spec.name}")
            error.setWordWrap(True)
            error.setStyleSheet("color: #d32f2f;")
            error.hide()
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(1)
            col.addWidget(conn.widget)
            col.addWidget(error)
            forms[spec.group].addRow(label, cell)
            conn.setObjectName(spec.name)
            conn.widget.setObjectName(f"control_{spec.name}")
            conn.changed.connect(lambda name=spec.name: self._edited(name))
            self.connectors[spec.name] = conn
            self.errors[spec.name] = error
            self.labels[spec.name] = label
        self.setWidget(body)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(340)
        self.set_config(config)

    # --- public -------------------------------------------------------------
    def config(self) -> SimConfig:
        return self._config

    def set_config(self, config: SimConfig) -> None:
        """Show `config` in every control (without emitting) and clear errors."""
        self._config = config
        for name, conn in self.connectors.items():
            conn.set_value(getattr(config, name))
            self._show_error(name, "")
        self._show_fields_used(config)

    def unused_reason(self, name: str) -> str | None:
        """Why the shown config's architecture or data set ignores field `name` (its control is
        disabled), or None."""
        return _why_unused(self._config, name)

    def error_text(self, name: str) -> str:
        return self.errors[name].text()

    # --- internals ----------------------------------------------------------
    def _edited(self, name: str) -> None:
        conn = self.connectors[name]
        try:
            if conn.typed:
                new = self._config.with_overrides([f"{name}={conn.value()}"])
            else:
                new = self._config.replace(**{name: conn.value()})
            if new != self._config:
                self.request(new)  # may refuse it, e.g. what would not fit in memory
        except ConfigError as exc:
            self._show_error(name, str(exc))
            if exc.field in self.errors and exc.field != name:
                self._show_error(exc.field, str(exc))
            return
        changed = new != self._config
        # re-sync every control: shows canonical values ('1e-2' typed -> '0.01'),
        # reverts rejected edits elsewhere and clears their errors
        self.set_config(new)
        if changed:
            self.configChanged.emit(new)

    def _show_fields_used(self, config: SimConfig) -> None:
        """Enable each control iff `config`'s architecture and data set read its field; a disabled control and its
        label carry the reason as their tooltip, an enabled one its own tooltip."""
        for name, conn in self.connectors.items():
            why = _why_unused(config, name)
            conn.widget.setEnabled(why is None)
            self.labels[name].setEnabled(why is None)
            for widget, tip in self._tips[name]:
                widget.setToolTip(tip if why is None else why)

    def _show_error(self, name: str, text: str) -> None:
        label = self.errors[name]
        label.setText(text)
        label.setVisible(bool(text))


def _why_unused(config: SimConfig, name: str) -> str | None:
    """Why `config`'s architecture or data set does not read field `name`, or None."""
    return get_architecture(config.architecture).why_unused(name) or cc.unused_by_dataset(config, name)
