"""Live screen capture with mss: grab, skip unchanged frames, encode once, publish.

The capture thread runs only while someone wants frames (the producer starts and stops it).
Every problem a user can meet — no display, Wayland, the display going away, a monitor or
region that does not exist — becomes a readable frame and a `/status` message, and capture
retries by itself until the cause is gone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import mss

from ..checks import MAX_FPS
from ..config import ScreenSettings, Settings
from ..hub import FrameHub
from ..render.imaging import RenderSpec, encode_jpeg, encode_screen, render_spec, turn
from ..render.placeholder import render_message
from ..supervise import SupervisedThread
from .xdamage import EVERYWHERE, Box, DamageUnavailable, DamageWatch

log = logging.getLogger(__name__)
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
_memcmp.restype = ctypes.c_int

RETRY_SECONDS = 1.0
CHECK_SECONDS = 1.0
"""Even when X DAMAGE reports nothing drawn, the screen is grabbed and compared this often: a
desktop drawn by the GPU behind the X server's back may never report a change."""
FPS_WINDOW_SECONDS = 2.0
STOP_SECONDS = 1.0


class ScreenError(Exception):
    """Capture is impossible for now; the message says why and what to do, for the user."""


def screen_spec(settings: Settings) -> RenderSpec:
    """How screen frames are rendered: the stream's size, fit and turn, the screen's own
    quality."""
    return render_spec(settings, settings.screen.quality)


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
    """One mss connection and one damage watch, opened lazily on the capture thread and closed
    after any error."""

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
            area = _area(self._mss.monitors, settings)
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


def _connect() -> Any:
    display = os.environ.get("DISPLAY")
    try:
        return mss.MSS()
    except Exception as error:
        if not display and (
            os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland"
        ):
            raise ScreenError(
                "This is a Wayland session without X11: log in with an X11 (Xorg) session, "
                "or start Framecast with DISPLAY set to an XWayland display"
            ) from None
        if not display:
            raise ScreenError(
                "No display: DISPLAY is not set. Start Framecast inside the desktop session, "
                "or with DISPLAY=:0"
            ) from None
        raise ScreenError(
            f"Cannot open the display {display} ({error}): is the X server running?"
        ) from None


def _area(monitors: list[dict[str, Any]], settings: ScreenSettings) -> Area:
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


class ScreenCapture:
    """Captures on its own thread at a steady `fps`, publishing only frames that changed.

    `start`, `stop` and `apply` are called by the producer thread; `status` by HTTP threads.
    """

    def __init__(self, hub: FrameHub, settings: Settings) -> None:
        self._hub = hub
        self._settings = settings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: str | None = None
        self._label: str | None = None
        self._grabs: list[float] = []
        self._thread: SupervisedThread | None = None
        self._ticked_at = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._stop.clear()
        self._ticked_at = time.monotonic()
        self._thread = SupervisedThread("screen-capture", self._run)
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        if self._thread is not None:
            self._stop.set()
            if not self._thread.join(timeout):
                log.warning("Screen capture did not stop within %g s; leaving it", timeout)
            self._thread = None
            with self._lock:
                self._grabs.clear()

    def stall_reason(self) -> str | None:
        """Why the capture loop is stuck, when it has not looked at the screen for two frame
        periods and the retry delay plus 5 s (read by HTTP threads for /healthz)."""
        if self._thread is None:
            return None
        period = 1.0 / min(self._settings.screen.fps, MAX_FPS)
        quiet = time.monotonic() - self._ticked_at
        if quiet <= 2 * period + RETRY_SECONDS + 5.0:
            return None
        return f"screen capture has not run for {quiet:.0f} s"

    def apply(self, settings: Settings) -> None:
        self._settings = settings

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._grabs if t > now - FPS_WINDOW_SECONDS]
            fps = len(recent) / FPS_WINDOW_SECONDS if self._thread is not None else 0.0
            return {
                "screen_fps": round(fps, 1),
                "screen_monitor": self._label,
                "screen_error": self._error,
            }

    def _run(self) -> None:
        """The capture thread: grab, compare, encode, publish, at a steady pace."""
        grabber = ScreenGrabber()
        last_raw: bytearray | None = None
        last_spec: RenderSpec | None = None
        shown_error: tuple[str, RenderSpec] | None = None
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                self._ticked_at = time.monotonic()
                settings = self._settings
                spec = screen_spec(settings)
                try:
                    grab = grabber.grab(settings.screen)
                except ScreenError as error:
                    self._note_error(str(error))
                    if shown_error != (str(error), spec):
                        self._show_error(str(error), spec)
                        shown_error = (str(error), spec)
                    last_raw = None
                    self._stop.wait(RETRY_SECONDS)
                    next_at = time.monotonic()
                    continue
                self._succeed(grab.label)
                shown_error = None
                start = grab.first_row * grab.width * 4
                if spec == last_spec and (
                    not grab.drawn or same_from(grab.pixels, last_raw, start)
                ):
                    self._hub.confirm()
                else:
                    jpeg = encode_screen(grab.pixels, grab.width, grab.height, spec)
                    self._hub.publish(jpeg, spec.width, spec.height, standing=False)
                    # Every mss backend returns a new buffer per grab: keep it, no copy.
                    last_raw, last_spec = grab.pixels, spec
                period = 1.0 / min(settings.screen.fps, MAX_FPS)
                next_at = max(next_at + period, time.monotonic() - period)
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        finally:
            grabber.close()

    def _succeed(self, label: str) -> None:
        with self._lock:
            self._grabs.append(time.monotonic())
            cutoff = self._grabs[-1] - FPS_WINDOW_SECONDS
            while self._grabs and self._grabs[0] < cutoff:
                self._grabs.pop(0)
            recovered = self._error is not None
            self._error = None
            changed = label != self._label
            self._label = label
        if recovered or changed:
            log.info("Capturing the screen: monitor %s", label)

    def _note_error(self, message: str) -> None:
        with self._lock:
            repeated = message == self._error
            self._error = message
        if not repeated:
            log.warning("Screen capture: %s", message)

    def _show_error(self, message: str, spec: RenderSpec) -> None:
        picture = render_message("No screen", _wrap(message, 60), spec.upright)
        jpeg = encode_jpeg(turn(picture, spec.rotate), spec.quality)
        self._hub.publish(jpeg, spec.width, spec.height)


def same_from(new: bytearray, old: bytearray | None, start: int) -> bool:
    """Whether `new` equals `old` from byte `start` on, compared in place (memcmp): slicing
    would copy both, and memoryviews compare byte by byte in Python."""
    if old is None or len(old) != len(new):
        return False
    size = len(new) - start
    if size <= 0:
        return True
    ours = (ctypes.c_char * size).from_buffer(new, start)
    theirs = (ctypes.c_char * size).from_buffer(old, start)
    difference: int = _memcmp(ours, theirs, size)
    return difference == 0


def _wrap(text: str, width: int) -> list[str]:
    """Split a message into lines of at most about `width` characters for the placeholder."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
