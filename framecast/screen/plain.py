"""The portable screen backend: mss alone, wherever it can grab (Windows, macOS, an X display).

Nothing reports drawing here, so every look grabs the area and the feed compares it with the
last grab (one memcmp: 0.4 ms for 1080p). Used by the feed's thread only, like the X11 backend.
"""

from __future__ import annotations

import logging
import select
import sys
from typing import Any

import mss

from ..config import ScreenSettings
from .grab import Grab, ScreenError, area_of

log = logging.getLogger(__name__)


class PlainGrabber:
    """One mss connection, opened by `open` or by the first grab after a loss, closed after any
    error."""

    def __init__(self) -> None:
        self._mss: Any = None

    def open(self) -> None:
        """Connects and grabs one pixel of the first monitor, to know that grabbing works;
        raises ScreenError saying why not and what to allow."""
        if self._mss is not None:
            return
        try:
            self._mss = mss.MSS()
            monitors = self._mss.monitors
            first = monitors[1] if len(monitors) > 1 else monitors[0]
            self._mss.grab({"left": first["left"], "top": first["top"], "width": 1, "height": 1})
        except Exception as error:
            self.close()
            raise ScreenError(cannot_grab(error)) from None

    def grab(self, settings: ScreenSettings) -> Grab:
        """The area now, always grabbed (`drawn`); raises ScreenError."""
        self.open()
        try:
            area = area_of(self._mss.monitors, settings)
            shot = self._mss.grab(area.box)
        except ScreenError:
            raise
        except Exception as error:
            self.close()
            raise ScreenError(f"Lost the screen ({error}): waiting for it to come back") from None
        return Grab(shot.raw, shot.width, shot.height, area.label, drawn=True)

    def wait_drawn(self, timeout: float, wake: int) -> bool:
        """Sleeps until `wake` is readable or `timeout` s have passed: nothing reports drawing,
        so this is always False and the feed looks at its own pace."""
        select.select([wake], [], [], max(0.0, timeout))
        return False

    def close(self) -> None:
        if self._mss is not None:
            try:
                self._mss.close()
            except Exception:  # a connection to a screen that went away fails to close, too
                log.debug("closing the lost screen failed", exc_info=True)
            self._mss = None


def cannot_grab(error: Exception) -> str:
    """Why mss cannot grab, and what to allow where the system asks."""
    message = f"mss cannot grab the screen ({error})"
    if sys.platform == "darwin":
        return (
            f"{message}: allow Screen Recording for the program that runs Framecast "
            "(System Settings, Privacy & Security, Screen Recording)"
        )
    if sys.platform == "win32":
        return f"{message}: run Framecast in the desktop session of the person logged in"
    return message
