"""The one thread that decides what is on the stream, renders it once and publishes it.

It owns the folder playlist (replacing it when the folder setting changes) and the screen
capture (running it only while someone watches), times the slides, has the current and the next
slide prepared on a worker (so a big photo neither stalls the stream nor comes late), adds labels
and fades, and publishes only when what is shown changes: a still show costs nothing here, and
the web layer re-sends for keepalive. A show nobody watches only keeps its place by the clock:
it prepares, renders and publishes nothing until a stream client or a snapshot wants a frame.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePosixPath

from PIL import Image

from .config import Settings, SlideshowSettings
from .hub import FrameHub
from .render.compose import Labels, crossfade_jpegs, label
from .render.imaging import RenderSpec, encode_jpeg, render_spec, turn, unturn
from .render.placeholder import render_message
from .screen.capture import ScreenCapture
from .screen.feed import ScreenFeeds
from .slideshow.folder import FolderPlaylist
from .slideshow.ordering import Slide
from .slideshow.preparer import Refused, SlidePreparer
from .slideshow.renderer import SlideRenderer
from .supervise import SupervisedThread

log = logging.getLogger(__name__)

COMMANDS = ("next", "previous", "pause", "resume")
SCREEN_CHECK_SECONDS = 1.0
"""How often the producer looks at the screen source's demand when nothing wakes it."""
SCHEDULE_CHECK_SECONDS = 30.0
"""With nothing to show, look this often whether schedule.toml now allows a slide."""
PREPARING_CHECK_SECONDS = 0.25
"""While the slide to show is still being prepared, look this often whether it took too long
(the preparer wakes the producer as soon as it is ready)."""
STALL_GRACE_SECONDS = 5.0
STOP_SECONDS = 1.0

PlaylistFactory = Callable[[SlideshowSettings, Callable[[], None]], FolderPlaylist]


def folder_playlist(settings: SlideshowSettings, on_change: Callable[[], None]) -> FolderPlaylist:
    return FolderPlaylist(
        settings.folder,
        settings.recursive,
        settings.order,
        on_change,
        follow_symlinks=settings.follow_symlinks,
    )


class SlideshowProducer:
    """Turns the playlist into published frames.

    `start`, `stop` and `apply` are called by the server (apply from the config watcher's
    thread); everything else runs on the producer's own thread. Status properties are read by
    HTTP threads.
    """

    def __init__(
        self,
        hub: FrameHub,
        settings: Settings,
        renderer: SlideRenderer | None = None,
        playlist_factory: PlaylistFactory = folder_playlist,
        clock: Callable[[], datetime] = datetime.now,
        screens: ScreenFeeds | None = None,
        address: Callable[[], str] | None = None,
    ) -> None:
        self._hub = hub
        self._address = address
        """The address TVs open, shown with its QR code on the set-up placeholders."""
        self._renderer = renderer or SlideRenderer()
        self._playlist_factory = playlist_factory
        self._settings = settings
        self._wake = threading.Event()
        self._stopping = False
        self._playlist: FolderPlaylist | None = None
        self._current: Slide | None = None
        self._shown: tuple[object, ...] | None = None
        self._shown_image: Image.Image | None = None
        self._shown_path: Path | None = None
        self._shown_at = 0.0
        self._capped: SlideshowSettings | None = None
        self._clock = clock
        self._source = settings.stream.source
        self._commands: list[str] = []
        self._commands_lock = threading.Lock()
        self._paused = False
        self._screen = ScreenCapture(hub, settings, screens or ScreenFeeds())
        self._preparer = SlidePreparer(self._renderer, self._wake.set)
        self._preparing = False
        self._resting = False
        self._on_screen: Slide | None = None
        self._step_due_by = time.monotonic()
        hub.on_demand(self._wake.set)
        self._thread = SupervisedThread("producer", self._run)

    def start(self) -> None:
        self._step_due_by = time.monotonic()
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the producer and everything it started, each wait bounded by `timeout`."""
        self._stopping = True
        self._wake.set()
        if not self._thread.join(timeout):
            log.warning("The producer did not stop within %g s; leaving it", timeout)
        self._preparer.stop(timeout)
        self._screen.stop(timeout)
        if self._playlist is not None:
            self._playlist.stop()

    def apply(self, settings: Settings) -> None:
        """Take new settings; the producer thread acts on them at once."""
        self._settings = settings
        self._wake.set()

    def command(self, action: str) -> None:
        """Ask for "next", "previous", "pause" or "resume" (from an HTTP thread); the producer
        thread acts on it at once."""
        if action not in COMMANDS:
            raise ValueError(f"unknown command {action!r}")
        with self._commands_lock:
            self._commands.append(action)
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    # --- status (HTTP threads) --------------------------------------------------------------

    @property
    def slide(self) -> str | None:
        """The slide on the stream now (the next one may still be being prepared), or the one
        the show is on by the clock while nobody watches."""
        shown = self._on_screen
        return shown.name if shown else None

    def stall_reason(self) -> str | None:
        """Why the show is stuck, or None: its next step is overdue by an interval and 5 s,
        or the screen capture loop stopped looking (HTTP threads, for /healthz)."""
        settings = self._settings
        if settings.stream.source == "screen":
            screen = self._screen.stall_reason()
            if screen is not None:
                return screen
        late = time.monotonic() - self._step_due_by
        if late <= settings.slideshow.interval + STALL_GRACE_SECONDS:
            return None
        shown = f" (on {self.slide})" if self.slide else ""
        return f"the show has not moved on for {late:.0f} s past its time{shown}"

    @property
    def playlist(self) -> FolderPlaylist | None:
        return self._playlist

    def screen_status(self) -> dict[str, object]:
        return self._screen.status()

    # --- producer thread --------------------------------------------------------------------

    def _run(self) -> None:
        """The producer thread's loop (restarted by its supervisor after an unexpected error)."""
        while not self._stopping:
            self._wake.clear()
            timeout = self._step(self._settings)
            self._step_due_by = time.monotonic() + timeout
            self._wake.wait(timeout)

    def _step(self, settings: Settings) -> float:
        """Bring the stream up to date; returns how long to sleep unless woken."""
        playlist = self._ensure_playlist(settings.slideshow)
        if settings.stream.source != self._source:
            log.info("Source switched to %s", settings.stream.source)
            self._source = settings.stream.source
        if settings.stream.source == "screen":
            return self._step_screen(settings)
        if self._screen.running:
            self._screen.stop()
        return self._step_slideshow(settings, playlist)

    def _step_screen(self, settings: Settings) -> float:
        """Run the capture thread while someone wants frames, and only then."""
        self._screen.apply(settings)
        self._shown = self._shown_image = None
        wanted = self._hub.wanted
        if wanted and not self._screen.running:
            self._screen.start()
        elif not wanted and self._screen.running:
            self._screen.stop()
            log.info("Screen capture paused: nobody is watching")
        return SCREEN_CHECK_SECONDS

    def _step_slideshow(self, settings: Settings, playlist: FolderPlaylist) -> float:
        """Show the current slide, advance when it is due, prepare the next one; while nobody
        watches, only advance."""
        playlist.set_order(settings.slideshow.order, settings.slideshow.new_first)
        spec = render_spec(settings)
        now = time.monotonic()
        current = self._current and playlist.lookup(self._current.path)
        interval = self._interval(settings, playlist, current)
        due = self._shown_at + interval
        jumps = self._take_commands()
        if current is None:
            # Nothing shown yet, or the slide on screen has just left the folder.
            current = playlist.advance(self._current)
            self._shown_at = now
        elif jumps:
            for jump in jumps:
                moved = playlist.advance(current) if jump == "next" else playlist.back(current)
                current = moved or current
            self._shown_at = now
        elif self._paused or self._preparing:
            # Paused, or the slide is not on the stream yet: its time has not started.
            self._shown_at = now
        elif now >= due:
            current = playlist.advance(current)
            # Keep to the schedule when a step runs a little late, so fast shows do not drift.
            self._shown_at = due if now - due < interval else now
        self._current = current
        self._preparing = False
        if not self._hub.wanted:
            return self._rest(settings, playlist, spec)
        if current is None:
            self._on_screen = None
            self._show_placeholder(playlist, spec)
            return min(interval, SCHEDULE_CHECK_SECONDS)
        upcoming = playlist.peek(current)
        wanted = [current] if upcoming in (None, current) else [current, upcoming]
        self._preparer.want(wanted, spec, settings.slideshow.prepare_timeout)
        prepared = self._preparer.result(current, spec)
        if prepared is None:
            self._preparing = True
            return PREPARING_CHECK_SECONDS
        if isinstance(prepared, Refused):
            playlist.report_unreadable(current, prepared.reason)
            return 0
        jpeg = prepared
        interval = self._interval(settings, playlist, current)
        labels = self._labels(settings, current)
        fade = self._fade_steps(settings.slideshow)
        if labels.empty and not fade:
            self._show(("slide", current, spec), lambda: jpeg, spec)
        else:
            self._show_composed(current, jpeg, labels, fade, settings.slideshow, spec)
        self._on_screen = current
        wait = self._shown_at + interval - time.monotonic()
        if labels.clock is not None:
            wait = min(wait, 60.0 - self._clock().second - self._clock().microsecond / 1e6)
        return max(0.0, wait)

    def _rest(self, settings: Settings, playlist: FolderPlaylist, spec: RenderSpec) -> float:
        """Nobody wants frames: make none, and stop preparing. The hub's frame is marked outdated
        so that a snapshot or a new client waits for the current slide, which the step woken by
        the demand shows (or confirms, when it is still the frame there); returns how long until
        the slide is due."""
        self._hub.outdate()
        self._resting = True
        self._preparer.want([], spec, settings.slideshow.prepare_timeout)
        self._on_screen = self._current
        if self._current is None:
            return min(settings.slideshow.interval, SCHEDULE_CHECK_SECONDS)
        interval = self._interval(settings, playlist, self._current)
        return max(0.0, self._shown_at + interval - time.monotonic())

    @staticmethod
    def _interval(settings: Settings, playlist: FolderPlaylist, slide: Slide | None) -> float:
        """The slide's own duration from schedule.toml, or [slideshow] interval."""
        own = playlist.duration(slide) if slide else None
        return own or settings.slideshow.interval

    def _labels(self, settings: Settings, slide: Slide) -> Labels:
        overlay = settings.overlay
        return Labels(
            clock=self._clock().strftime(overlay.clock_format) if overlay.clock else None,
            clock_corner=overlay.clock or "top-right",
            caption=PurePosixPath(slide.name).stem if overlay.caption == "name" else None,
            font_size=overlay.font_size,
        )

    def _fade_steps(self, settings: SlideshowSettings) -> int:
        """How many frames a fade takes, its length capped at half the interval."""
        if settings.transition != "fade":
            return 0
        seconds = min(settings.transition_seconds, settings.interval / 2)
        if seconds < settings.transition_seconds and self._capped != settings:
            log.warning(
                "transition_seconds = %g is longer than half the %g s interval: capped at %g s",
                settings.transition_seconds,
                settings.interval,
                seconds,
            )
        self._capped = settings
        steps = round(seconds * settings.transition_fps)
        return steps if steps > 1 else 0

    def _show_composed(
        self,
        slide: Slide,
        jpeg: bytes,
        labels: Labels,
        fade: int,
        settings: SlideshowSettings,
        spec: RenderSpec,
    ) -> None:
        """Publish the slide with its labels, faded in from the frame before when it is new and
        that frame was on the stream (not outdated by a rest). Labels are drawn on the upright
        picture, so that they read upright on a turned panel."""
        key = ("composed", slide, spec, labels)
        if self._still_shown(key):
            return
        with Image.open(io.BytesIO(jpeg)) as decoded:
            upright = label(unturn(decoded.convert("RGB"), spec.rotate), labels)
        frame = turn(upright, spec.rotate)
        before = None if self._resting else self._shown_image
        if before is not None and fade and slide.path != self._shown_path:
            pace = 1.0 / settings.transition_fps
            next_at = time.monotonic()
            for between in crossfade_jpegs(before, frame, fade, spec.quality):
                self._hub.publish(between, spec.width, spec.height)
                next_at += pace
                time.sleep(max(0.0, next_at - time.monotonic()))
        self._hub.publish(encode_jpeg(frame, spec.quality, optimize=True), spec.width, spec.height)
        self._shown, self._shown_image, self._shown_path = key, frame, slide.path
        self._resting = False

    def _take_commands(self) -> list[str]:
        """Apply pause and resume; return the "next" and "previous" asked for, in order."""
        with self._commands_lock:
            commands, self._commands = self._commands, []
        jumps = []
        for action in commands:
            if action in ("pause", "resume"):
                if self._paused != (action == "pause"):
                    log.info("Slideshow %s", "paused" if action == "pause" else "resumed")
                self._paused = action == "pause"
            else:
                jumps.append(action)
        return jumps

    def _ensure_playlist(self, settings: SlideshowSettings) -> FolderPlaylist:
        playlist = self._playlist
        if playlist and (playlist.folder, playlist.recursive, playlist.follow_symlinks) == (
            settings.folder,
            settings.recursive,
            settings.follow_symlinks,
        ):
            return playlist
        if playlist is not None:
            playlist.stop()
            log.info("Slide folder changed to %s", settings.folder)
        self._current = None
        self._playlist = self._playlist_factory(settings, self._wake.set)
        self._playlist.start()
        return self._playlist

    def _show_placeholder(self, playlist: FolderPlaylist, spec: RenderSpec) -> None:
        exists = playlist.folder_exists
        if exists is None:
            return
        folder = str(playlist.folder)
        if exists and playlist.count:
            title = "Nothing is scheduled now"
            lines = [f"{playlist.count} slide(s) are outside their times in schedule.toml"]
        elif exists:
            title, lines = "No images yet", [f"Drop images into {folder}"]
            skipped = len(playlist.skipped())
            if skipped:
                lines.append(f"{skipped} file(s) skipped: see /status")
        else:
            title, lines = "Folder not found", [f"Create {folder} and drop images into it"]
        # A show still to be set up names the address to open, with its QR code for a phone;
        # one that has slides, only waiting for their times, keeps its plain message.
        address = None if (exists and playlist.count) or self._address is None else self._address()
        self._show(
            ("placeholder", title, tuple(lines), address, spec),
            lambda: encode_jpeg(
                turn(render_message(title, lines, spec.upright, address), spec.rotate),
                spec.quality,
            ),
            spec,
        )

    def _show(self, key: tuple[object, ...], jpeg: Callable[[], bytes], spec: RenderSpec) -> None:
        """Publish the frame `key` names, unless it is already what the stream shows."""
        if not self._still_shown(key):
            self._hub.publish(jpeg(), spec.width, spec.height)
            self._shown, self._shown_image, self._resting = key, None, False

    def _still_shown(self, key: tuple[object, ...]) -> bool:
        """Whether the hub's frame is the one `key` names; after a rest it is confirmed, so that
        it counts as current again without being made twice."""
        if key != self._shown:
            return False
        if self._resting:
            self._hub.confirm()
            self._resting = False
        return True
