"""The lesson flow of the Scenarios menu: scenarios in lesson order with Next / Previous, the views a
scenario opens and the plots it points at, whether the config has moved away from it, and the
"lock scales" toggle (fixed ranges, so that two scenarios' pictures compare).

The window keeps only hooks: it builds a `LessonFlow` and tells it when a scenario was shown; the
flow watches the state's applied config to mark the scenario panel "(modified)".
"""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from core import SimConfig
from core.scenarios import Scenario, lesson_order

from .panels.empty_note import NO_STEPS, PROBE_ONLY
from .presentation import PLOT_VIEWS

# Fields that say where a run happens, not what it is: a changed device is not a changed scenario.
NOT_THE_EXPERIMENT = ("device",)


def changed_fields(config: SimConfig, scenario_config: SimConfig) -> tuple[str, ...]:
    """The SimConfig fields in which `config` differs from the scenario's (device aside)."""
    return tuple(f.name for f in dataclasses.fields(SimConfig)
                 if f.name not in NOT_THE_EXPERIMENT and getattr(config, f.name) != getattr(scenario_config, f.name))


def neighbour(names: tuple[str, ...], current: str | None, offset: int) -> str | None:
    """The scenario `offset` places from `current` in `names` (lesson order), clamped to the ends;
    from no scenario, Next gives the first and Previous the last. None when `names` is empty."""
    if not names:
        return None
    if current not in names:
        return names[0] if offset > 0 else names[-1]
    return names[min(max(names.index(current) + offset, 0), len(names) - 1)]


class LessonFlow(QObject):
    """Next / Previous scenario (Page Down / Page Up) in `menu`; on a scenario shown: its `open`
    views, a frame around the plots its "look for" names, the probe-only note; and the
    "(modified)" mark while the applied config differs from the scenario's."""

    def __init__(self, window, menu):
        super().__init__(window)
        self.window = window
        self.scenario: Scenario | None = None
        self.next_action = QAction("&Next scenario", window)
        self.next_action.setShortcut(QKeySequence(QKeySequence.StandardKey.MoveToNextPage))
        self.next_action.triggered.connect(lambda: self.go(+1))
        self.previous_action = QAction("&Previous scenario", window)
        self.previous_action.setShortcut(QKeySequence(QKeySequence.StandardKey.MoveToPreviousPage))
        self.previous_action.triggered.connect(lambda: self.go(-1))
        self.lock_action = QAction("&Lock scales  [L]", window, checkable=True)
        self.lock_action.setShortcut(QKeySequence("L"))
        self.lock_action.setToolTip("Keep the axis and colour ranges fixed (the scenario's own, if it has "
                                    "some, else those on screen now), so that two runs' pictures compare")
        self.lock_action.toggled.connect(self.lock_scales)
        for action in (self.next_action, self.previous_action, self.lock_action):
            menu.addAction(action)
            window.addAction(action)
        # the activation views' value axis (panels/layer_scale.py): one per layer when the stds span decades
        scale_menu = menu.addMenu("Activation &axis")
        self.scale_actions: dict[str, QAction] = {}
        group = QActionGroup(window)
        for mode, text in (("auto", "Per layer when the layers' stds span > 2 decades"),
                           ("common", "One common value axis"), ("per_layer", "Always per layer (value ÷ layer std)")):
            action = scale_menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(mode == window.plots.activation_scale)
            action.triggered.connect(lambda _=False, m=mode: self.set_activation_scale(m))
            group.addAction(action)
            self.scale_actions[mode] = action
        window.state.configApplied.connect(self.config_applied)
        window.scenario_panel.viewRequested.connect(self.bring_up)

    def set_activation_scale(self, mode: str) -> None:
        """Draw the activation views on 'auto', 'common' or 'per_layer' value axes."""
        self.window.plots.activation_scale = mode
        self.scale_actions[mode].setChecked(True)
        self.window.state.invalidate()

    def lock_scales(self, on: bool) -> None:
        """Fix the plots' ranges (the current scenario's "scales" over those on screen), or free them."""
        scales = dict(self.scenario.scales or {}) if self.scenario is not None else {}
        self.window.plots.set_locked(scales if on else None)
        self.window.state.invalidate()   # redraw the latest frame in the new ranges

    def go(self, offset: int) -> Scenario | None:
        """Load the scenario `offset` places from the current one in lesson order."""
        name = neighbour(lesson_order(), self.scenario.name if self.scenario else None, offset)
        return self.window.choose_scenario(name) if name else None

    def shown(self, scenario: Scenario) -> None:
        """The window now shows `scenario` (its config was requested): open and point at its views."""
        self.scenario = scenario
        w = self.window
        views = set(scenario.open)
        if "table" in views:
            w.table_action.setChecked(True)
        if "spectrum" in views:
            w.spectrum_action.setChecked(True)
        if "diagnoses" in views:
            w.diagnoses_dock.show()
        if "theory" in views:
            w.theory.dock.show()
        w.tabs.setCurrentWidget(w.noise_plots if "noise" in views else w.plots)
        w.plots.highlight([item.plot for item in scenario.look_for])
        for note in (*w.plots.empty_notes(), w.noise_plots.empty):
            note.set_text(PROBE_ONLY if scenario.steps == 0 else NO_STEPS)
        if self.lock_action.isChecked():   # locked: the new scenario's own ranges, where it has them
            w.plots.set_locked({**(w.plots.locked or {}), **(scenario.scales or {})})
        self.config_applied(w.state.requested)

    def bring_up(self, key: str) -> None:
        """Show the view a "look for" item names (`key`, as its "plot"): turn to its tab, open its
        dock, or (in presentation mode) put its plot first among the plots shown."""
        w = self.window
        presenting = w.presentation.presenting
        if key == "noise":
            w.tabs.setCurrentWidget(w.noise_plots)
        elif key == "spectrum":
            w.spectrum_action.setChecked(True)
        elif key == "diagnoses":
            w.diagnoses_dock.show()
        elif key == "table" and not presenting:
            w.table_action.setChecked(True)
        elif key in PLOT_VIEWS:
            w.tabs.setCurrentWidget(w.plots)
            if presenting:
                w.presentation.put_first(PLOT_VIEWS[key])

    def config_applied(self, config: SimConfig) -> None:
        """Mark the scenario panel '(modified)' while `config` differs from the scenario's."""
        if self.scenario is None:
            return
        self.window.scenario_panel.set_modified(changed_fields(config, self.scenario.config))
