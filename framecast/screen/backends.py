"""The seam between a screen feed and the ways of capturing a screen, and `[screen] backend`'s
choice among them.

A backend grabs one area of the screen and says whether anything was drawn since its last
grab; the feed does the rest (pace, compare, versions). "x11" is X with DAMAGE, so an unchanged
screen is not even grabbed; "mss" is mss alone (Windows, macOS, any X display), which grabs and
compares at the capture rate. "auto" takes X11 when DISPLAY is set and the X libraries load,
else mss when it can grab. "wlroots" is wlr-screencopy on a Wayland compositor, with damage too;
"auto" prefers it whenever WAYLAND_DISPLAY is set and the compositor offers it, even where
DISPLAY is set as well: there DISPLAY is XWayland's, which shows only X programs' windows.
Each backend loads its libraries only when chosen.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Protocol

from ..config import ScreenSettings
from .grab import Grab, ScreenError, ScreenGrabber, x11_problem
from .plain import PlainGrabber
from .wlroots import WlrootsGrabber, wayland_display, wlroots_problem

PLAIN_PLATFORMS = {"win32": "Windows", "darwin": "macOS"}
"""Where mss is the way to grab the screen, by `sys.platform`."""


class ScreenBackend(Protocol):
    """What a feed's thread needs of a backend; all of it is called by that thread only."""

    def grab(self, settings: ScreenSettings) -> Grab:
        """The area now (opening the screen first when needed), or news that nothing was drawn
        there (`drawn` False); raises ScreenError saying what to do."""
        ...

    def wait_drawn(self, timeout: float, wake: int) -> bool:
        """Sleeps until drawing is reported (True), or `wake` is readable or `timeout` s have
        passed (False)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Choice:
    """The backend a feed uses, its name for `/status`, and why it was picked."""

    name: str
    why: str
    backend: ScreenBackend


def choose(asked: str) -> Choice:
    """The backend `[screen] backend = asked` gives here; raises ScreenError saying what to
    install or allow when none can capture. Called by a feed's thread."""
    if asked == "x11":
        problem = x11_problem()
        if problem is not None:
            raise ScreenError(problem)
        return Choice("x11", '[screen] backend = "x11"', ScreenGrabber())
    if asked == "mss":
        return Choice("mss", '[screen] backend = "mss"', _plain())
    if asked == "wlroots":
        wayland = wlroots_problem()
        if wayland is not None:
            raise ScreenError(wayland)
        return Choice("wlroots", '[screen] backend = "wlroots"', WlrootsGrabber())
    wayland = None
    if wayland_display() is not None:
        wayland = wlroots_problem()
        if wayland is None:
            why = (
                f"WAYLAND_DISPLAY={os.environ['WAYLAND_DISPLAY']} is set and the compositor "
                "offers wlr-screencopy"
            )
            if os.environ.get("DISPLAY"):
                why += f" (DISPLAY={os.environ['DISPLAY']} is XWayland's: only X windows there)"
            return Choice("wlroots", why, WlrootsGrabber())
    problem = x11_problem()
    if problem is None:
        why = f"DISPLAY={os.environ['DISPLAY']} is set and the X libraries load"
        return Choice("x11", why, ScreenGrabber())
    if wayland is not None:
        problem = f"{problem} ({wayland})"
    try:
        plain = _plain()
    except ScreenError as error:
        if sys.platform in PLAIN_PLATFORMS:
            raise
        # Without DISPLAY mss fails for the same reason as X11: say what to do about that.
        message = problem if not os.environ.get("DISPLAY") else f"{problem}; {error}"
        raise ScreenError(message) from None
    if sys.platform in PLAIN_PLATFORMS:
        why = f"this is {PLAIN_PLATFORMS[sys.platform]}, where mss grabs the screen"
    else:
        why = f"X11 cannot be used ({problem}), and mss can grab"
    return Choice("mss", f"{why} (nothing reports drawing: every look is compared)", plain)


def _plain() -> PlainGrabber:
    plain = PlainGrabber()
    plain.open()
    return plain
