"""Qt's messages, minus the offscreen platform's harmless ones.

The offscreen platform (headless runs, CI, --screenshot) warns on every top-level window it
shows that it "does not support propagateSizeHints()": true and harmless for a window that
is never on a screen. Only these exact lines are dropped.
"""
from __future__ import annotations

import sys

PLATFORM_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})


def filter_platform_noise() -> None:
    """Install a Qt message handler that drops PLATFORM_NOISE and prints everything else as Qt does."""
    from PySide6.QtCore import qFormatLogMessage, qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if message not in PLATFORM_NOISE:
            sys.stderr.write(qFormatLogMessage(mode, context, message) + "\n")

    qInstallMessageHandler(handler)
