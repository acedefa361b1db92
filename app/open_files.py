"""File → Open model… and Open data…: the user's own model file and data file in the window.

A chosen file is checked off the GUI thread first: a job builds a Simulator from the new config
(the file imported, the factory called, the checking forward run, the data file read), with no
training. Only a config that builds goes through `RunState.request_config`; one that does not
leaves the running model and data as they are and shows the reason (one line naming the file,
the line and the exception) in an error dialog.
"""
from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from core import ConfigError, SimConfig, Simulator
from core.config import USER_ARCHITECTURES

from .jobs import JobSlot

MODEL_FILTER = "Python file (*.py)"
DATA_FILTER = "Data file (*.csv *.npz);;CSV table (*.csv);;NumPy arrays (*.npz)"
DEFAULT_FACTORY = "make"


def factory_names(path: str) -> list[str]:
    """Top-level functions of the Python file at `path` (parsed, not run), `make` first if present;
    [] when it cannot be parsed (the check then reports why)."""
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
             and not n.name.startswith("_")]
    return sorted(names, key=lambda n: n != DEFAULT_FACTORY)


def check_config(config: SimConfig) -> tuple[SimConfig, str | None]:
    """Build (but do not train) a Simulator of `config`: (config, None), or (config, why not)."""
    try:
        Simulator(config)
    except ConfigError as exc:
        return config, str(exc)
    except Exception as exc:  # noqa: BLE001 - anything the user's file raises is reported, never lost
        return config, f"{type(exc).__name__}: {exc}"
    return config, None


class OpenFiles(QObject):
    """The two File-menu actions of a window with `state` (a RunState), `dialogs` (app.dialogs.Dialogs)
    and `message_label`. `finished(ok, message)` is emitted once a chosen file is checked."""

    finished = Signal(bool, str)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.slot = JobSlot("OpenFilesCheck", self)
        self.slot.done.connect(self._checked)
        self.slot.error.connect(lambda message: self._refuse("", message))
        self.model_action = QAction("Open &model…", self)
        self.model_action.setToolTip("Your own model: a Python file whose function make(cfg) returns a "
                                     "torch.nn.Module (it runs in this program, with your permissions)")
        self.model_action.triggered.connect(lambda *_: self.open_model())
        self.data_action = QAction("Open d&ata…", self)
        self.data_action.setToolTip("Your own data: a .csv (label in the last column) or an .npz (arrays x and y)")
        self.data_action.triggered.connect(lambda *_: self.open_data())
        self._what = ""

    def install(self, menu: QMenu, before: QAction | None = None) -> None:
        """Put both actions in `menu` (before `before`, else at the end)."""
        actions = [self.model_action, self.data_action]
        if before is not None:
            menu.insertActions(before, actions)
        else:
            menu.addActions(actions)

    def open_model(self, path: str | None = None, factory: str | None = None) -> bool:
        """Check and use the model FACTORY in the .py file `path` (asked for when None); whether a check started."""
        path = path if path is not None else self.window.dialogs.open_path("Open model", MODEL_FILTER)
        if not path:
            return False
        if factory is None:
            names = factory_names(path)
            factory = names[0] if len(names) == 1 or (names and names[0] == DEFAULT_FACTORY) else None
            if factory is None and len(names) > 1:
                factory = self.window.dialogs.choose("Open model", "Function that builds the model:", names)
                if not factory:
                    return False
            factory = factory or DEFAULT_FACTORY  # none found: the check says what the file lacks
        base = self.window.state.requested
        arch = base.architecture if base.architecture in USER_ARCHITECTURES else "user"
        return self._check(base, dict(architecture=arch, model=f"{Path(path).resolve()}:{factory}"),
                           f"model {Path(path).name}:{factory}")

    def open_data(self, path: str | None = None, label_column: str = "") -> bool:
        """Check and use the .csv or .npz file `path` (asked for when None); whether a check started."""
        path = path if path is not None else self.window.dialogs.open_path("Open data", DATA_FILTER)
        if not path:
            return False
        return self._check(self.window.state.requested,
                           dict(dataset="file", data_file=str(Path(path).resolve()), label_column=label_column),
                           f"data {Path(path).name}")

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return self.slot.shutdown(timeout_ms)

    def _check(self, base: SimConfig, changes: dict, what: str) -> bool:
        try:
            config = base.replace(**changes)
        except ConfigError as exc:
            self._refuse(what, str(exc))
            return False
        self._what = what
        self.window.message_label.setText(f"Checking {what}…")
        self.slot.start(lambda _progress, _cancelled: check_config(config))
        return True

    def _checked(self, result: tuple[SimConfig, str | None]) -> None:
        config, problem = result
        if problem is not None:
            self._refuse(self._what, problem)
            return
        try:
            self.window.state.request_config(config, now=True)
        except ConfigError as exc:  # e.g. the memory check
            self._refuse(self._what, str(exc))
            return
        message = f"Opened {self._what}."
        self.window.message_label.setText(message)
        self.finished.emit(True, message)

    def _refuse(self, what: str, problem: str) -> None:
        title = f"Cannot open the {what.split(' ')[0] or 'file'}"
        self.window.message_label.setText(f"{title}: {problem} The previous one is kept.")
        self.window.dialogs.error(title, f"{problem}\n\nThe previous model and data are kept.")
        self.finished.emit(False, problem)
