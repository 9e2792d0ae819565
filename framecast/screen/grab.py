"""Grabbing one area of an X11 screen with mss, and telling from X DAMAGE whether anything was
drawn there; and what every screen backend shares: the grab, the area, the error, the compare.

Every problem a user can meet — no display, Wayland, the display going away, a monitor or
region that does not exist — is a ScreenError whose message says what to do. Used by the
feed's thread only (an X connection belongs to one thread). Importing this module loads no
library: libc and libxcb are loaded when the X11 backend is chosen (`x11_problem`).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import select
import time
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import mss

from ..config import ScreenSettings
from .xdamage import EVERYWHERE, Box, DamageUnavailable, DamageWatch, libraries

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
"""Even when X DAMAGE reports nothing drawn, the screen is grabbed and compared this often: a
desktop drawn by the GPU behind the X server's back may never report a change."""


class ScreenError(Exception):
    """Capture is impossible for now; the message says why and what to do, for the user."""


@dataclass(frozen=True)
class Area:
    """The rectangle to grab, in mss's terms, and what it is for the user."""

    box: dict[str, int]
    label: str


@dataclass(frozen=True)
class Grab:
    """One look at the screen: raw BGRX pixels, and whether anything was drawn since the last
    grab of the same area (when not, the pixels are that grab's)."""

    pixels: bytearray
    width: int
    height: int
    label: str
    drawn: bool
    first_row: int = 0
    """Rows above this one are as in the last grab of the area: nothing was drawn there."""


class ScreenGrabber:
    """The X11 backend: one mss connection and one damage watch, opened lazily on the capture
    thread and closed after any error."""

    def __init__(self) -> None:
        self._mss: Any = None
        self._watch: DamageWatch | None = None
        self._last: tuple[dict[str, int], Grab] | None = None
        self._grabbed_at = 0.0

    def grab(self, settings: ScreenSettings) -> Grab:
        """The screen now, or news that it did not change; raises ScreenError."""
        last, self._last = self._last, None
        if self._mss is None:
            self._mss = _connect()
            self._watch = _watch_damage()
        try:
            area = area_of(self._mss.monitors, settings)
            drawn = EVERYWHERE if self._watch is None else self._watch.drawn()
            same_area = last is not None and last[0] == area.box
            top = _drawn_top(drawn, area.box) if same_area else 0
            if top is None and last is not None:
                if time.monotonic() < self._grabbed_at + CHECK_SECONDS:
                    self._last = last
                    return replace(last[1], label=area.label, drawn=False)
                return self._check(area, last[1])
            shot = self._mss.grab(area.box)
        except ScreenError:
            raise
        except Exception as error:
            self._lost(error)
        grab = Grab(shot.raw, shot.width, shot.height, area.label, drawn=True, first_row=top or 0)
        return self._keep(area, grab)

    def wait_drawn(self, timeout: float, wake: int) -> bool:
        """Sleeps until the X server reports drawing (True), or the file descriptor `wake` is
        readable or `timeout` s have passed (False). Without a damage watch only `wake` and the
        timeout end it: then every look is a grab, made at the feed's pace."""
        watch = self._watch
        if watch is not None and watch.queued():
            return True
        watched = [wake] if watch is None else [wake, watch.fileno()]
        readable, _, _ = select.select(watched, [], [], max(0.0, timeout))
        return watch is not None and watch.fileno() in readable

    def _check(self, area: Area, last: Grab) -> Grab:
        """Grabs a screen DAMAGE calls unchanged, to catch a change it never reported."""
        shot = self._mss.grab(area.box)
        if shot.raw == last.pixels:
            return self._keep(area, replace(last, label=area.label, drawn=False))
        grab = self._keep(area, Grab(shot.raw, shot.width, shot.height, area.label, drawn=True))
        if self._watch is None:
            return grab
        if self._watch.drawn() is None:
            log.warning(
                "Screen capture: the X server did not report a change (a desktop drawn by the "
                "GPU?); comparing every grab from now on"
            )
            self._watch.close()
            self._watch = None
        else:
            # Drawn just now after all; that report also cleared drawing that may have come
            # after this grab, so the next tick checks again.
            self._grabbed_at = 0.0
        return grab

    def _keep(self, area: Area, grab: Grab) -> Grab:
        self._grabbed_at = time.monotonic()
        self._last = (area.box, grab)
        return grab

    def _lost(self, error: Exception) -> NoReturn:
        self.close()
        display = os.environ.get("DISPLAY", "")
        raise ScreenError(
            f"Lost the display {display} ({error}): waiting for it to come back"
        ) from None

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._mss is not None:
            try:
                self._mss.close()
            except Exception:  # a connection to a dead X server fails to close, too
                log.debug("closing the lost display failed", exc_info=True)
            self._mss = None


def _drawn_top(drawn: Box | None, box: dict[str, int]) -> int | None:
    """The first row of the grab `box` that the `drawn` box touches, or None if it misses."""
    if drawn is None:
        return None
    left, top = box["left"], box["top"]
    right, bottom = left + box["width"], top + box["height"]
    if drawn[0] >= right or drawn[2] <= left or drawn[1] >= bottom or drawn[3] <= top:
        return None
    return max(0, drawn[1] - top)


def _watch_damage() -> DamageWatch | None:
    """A damage watch on the display, or None (with one log line) when it offers none."""
    try:
        return DamageWatch(os.environ.get("DISPLAY"))
    except DamageUnavailable as reason:
        log.info("Screen capture compares every grab: %s", reason)
        return None


def x11_problem() -> str | None:
    """Why the X11 backend cannot run here (no DISPLAY, no X libraries), or None when it can."""
    if not os.environ.get("DISPLAY"):
        return no_display()
    try:
        libraries()
        _memcmp()
    except (DamageUnavailable, OSError) as error:
        display = os.environ["DISPLAY"]
        return (
            f"DISPLAY={display} is set, but the X libraries do not load ({error}): install "
            "libxcb1 (Debian, Ubuntu, Raspberry Pi OS)"
        )
    return None


def no_display() -> str:
    """What to do without DISPLAY: on a Wayland session, where X is not there."""
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
        return (
            "This is a Wayland session without X11, and only wlroots compositors (sway, labwc, "
            "wayfire) can be captured on Wayland yet: "
            'log in with an X11 (Xorg) session (GNOME: "GNOME on Xorg" under the gear on the '
            "login screen; Raspberry Pi OS: raspi-config, Advanced Options, Wayland, X11), or "
            "start Framecast with DISPLAY set to an XWayland display"
        )
    return (
        "No display: DISPLAY is not set. Start Framecast inside the desktop session, "
        "or with DISPLAY=:0"
    )


def _connect() -> Any:
    display = os.environ.get("DISPLAY")
    if not display:
        raise ScreenError(no_display())
    try:
        return mss.MSS()
    except Exception as error:
        raise ScreenError(
            f"Cannot open the display {display} ({error}): is the X server running?"
        ) from None


def area_of(monitors: list[dict[str, Any]], settings: ScreenSettings) -> Area:
    """The monitor and region to grab; raises ScreenError for ones that do not exist."""
    names = [str(m.get("output") or f"monitor {i}") for i, m in enumerate(monitors)]
    choices = f"0 (all), 1 to {len(monitors) - 1}, or one of {', '.join(names[1:])}"
    if isinstance(settings.monitor, str):
        if settings.monitor not in names[1:]:
            raise ScreenError(
                f'No monitor named "{settings.monitor}": [screen] monitor = {choices}'
            )
        number = names.index(settings.monitor, 1)
    else:
        number = settings.monitor
        if number >= len(monitors):
            raise ScreenError(f"Monitor {number} does not exist: [screen] monitor = {choices}")
    monitor = monitors[number]
    label = f"{number} ({names[number]}, {monitor['width']}×{monitor['height']})"
    if settings.region is None:
        return Area({k: monitor[k] for k in ("left", "top", "width", "height")}, label)
    left, top, width, height = settings.region
    if left + width > monitor["width"] or top + height > monitor["height"]:
        raise ScreenError(
            f"[screen] region = [{left}, {top}, {width}, {height}] is outside monitor {label}: "
            "make it fit within the monitor"
        )
    box = {
        "left": monitor["left"] + left,
        "top": monitor["top"] + top,
        "width": width,
        "height": height,
    }
    return Area(box, f"{label}, region [{left}, {top}, {width}, {height}]")


def same_from(new: bytearray, old: bytearray | None, start: int) -> bool:
    """Whether `new` equals `old` from byte `start` on, compared in place: from 0, by the
    bytearrays' own compare (a memcmp); from further on, by libc's memcmp, as slicing would copy
    both and memoryviews compare byte by byte. Only the X11 backend, which loaded libc when it
    was chosen, starts further on."""
    if old is None or len(old) != len(new):
        return False
    if start <= 0:
        return new == old
    size = len(new) - start
    if size <= 0:
        return True
    ours = (ctypes.c_char * size).from_buffer(new, start)
    theirs = (ctypes.c_char * size).from_buffer(old, start)
    difference: int = _memcmp()(ours, theirs, size)
    return difference == 0


@functools.cache
def _memcmp() -> Any:
    """libc's memcmp, loaded on first use; raises OSError where there is no libc to load."""
    memcmp = ctypes.CDLL(None).memcmp
    memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    memcmp.restype = ctypes.c_int
    return memcmp
