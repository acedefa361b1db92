"""What the window remembers between runs (QSettings): its last configuration, its geometry and zoom.

Stored in an INI file in the user's configuration folder (tests point
`QSettings.setPath` at a temporary folder). A stored configuration that no
longer validates, e.g. one written by an older version, is ignored with a
notice, never an error.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QByteArray, QSettings

from core import ConfigError, SimConfig

ORGANIZATION = "VanishingPoint"
APPLICATION = "vanishing-point"
CONFIG_KEY = "window/config"
GEOMETRY_KEY = "window/geometry"
ZOOM_KEY = "view/zoom"


def default_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def stored_config(settings: QSettings) -> tuple[SimConfig | None, str]:
    """The remembered configuration (None if there is none or it is unusable) and a notice if unusable."""
    raw = settings.value(CONFIG_KEY)
    if raw is None:
        return None, ""
    try:
        data = json.loads(str(raw))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        return SimConfig.from_partial(data), ""
    except (ConfigError, ValueError) as exc:
        return None, f"The configuration remembered from last time is no longer valid ({exc}); using the defaults."


def stored_geometry(settings: QSettings) -> QByteArray | None:
    value = settings.value(GEOMETRY_KEY)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def stored_zoom(settings: QSettings) -> float:
    """The remembered zoom (1.0 if none, or if what is stored is not a number in the zoom's range)."""
    from .zoom import ZOOM_STEPS

    try:
        zoom = float(settings.value(ZOOM_KEY, 1.0))
    except (TypeError, ValueError):
        return 1.0
    return zoom if ZOOM_STEPS[0] <= zoom <= ZOOM_STEPS[-1] else 1.0


def remember_zoom(settings: QSettings, zoom: float) -> None:
    settings.setValue(ZOOM_KEY, zoom)
    settings.sync()


def remember(settings: QSettings, config: SimConfig, geometry: QByteArray) -> None:
    settings.setValue(CONFIG_KEY, config.to_json(indent=None))
    settings.setValue(GEOMETRY_KEY, geometry)
    settings.sync()


def forget(settings: QSettings) -> None:
    settings.remove(CONFIG_KEY)
    settings.remove(GEOMETRY_KEY)
    settings.remove(ZOOM_KEY)
    settings.sync()


SCHEDULER_KEY = "grid/scheduler"


def stored_scheduler(settings: QSettings) -> str | None:
    """The Dask scheduler address the trainability map runs on (tcp://HOST:PORT), or None for a
    local cluster on this machine."""
    value = settings.value(SCHEDULER_KEY)
    text = str(value).strip() if value is not None else ""
    return text or None


def remember_scheduler(settings: QSettings, address: str | None) -> None:
    if address:
        settings.setValue(SCHEDULER_KEY, address.strip())
    else:
        settings.remove(SCHEDULER_KEY)
    settings.sync()
