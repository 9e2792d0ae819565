"""The slideshow as a source: the one thread that decides which slide is on the stream, has it
rendered once and publishes it.

It owns the folder playlist (replacing it when the folder setting changes), times the slides
(`timing`), has the current and the next slide prepared on a worker (so a big photo neither
stalls the stream nor comes late), and hands each slide to its presenter, which adds labels and
fades and publishes only when what is shown changes: a still show costs nothing here, and the
web layer re-sends for keepalive. A show nobody watches only keeps its place by the clock: it
prepares, renders and publishes nothing until a stream client or a snapshot wants a frame.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..announcements import Announcement
from ..audio.clip import ClipSink
from ..config import Settings, SlideshowSettings
from ..control import COMMANDS
from ..hub import FrameHub
from ..render.imaging import RenderSpec, UnreadableImage, render_spec
from ..supervise import STOP_SECONDS, Worker
from .folder import FolderPlaylist
from .ordering import Slide
from .playback import MovingSlide
from .preparer import Refused, SlidePreparer
from .presenter import SlidePresenter
from .renderer import SlideRenderer
from .timing import catch_up, next_slide_starts, slide_seconds, still_wait

log = logging.getLogger(__name__)

SCHEDULE_CHECK_SECONDS = 30.0
"""With nothing to show, look this often whether schedule.toml now allows a slide."""
REST_CHECK_SECONDS = 30.0
"""While nobody watches, the show catches up with the clock this often, for /status: a show
woken for every slide would cost the CPU of a watched one as channels add up."""
PREPARING_CHECK_SECONDS = 0.25
"""While the slide to show is still being prepared, look this often whether it took too long
(the preparer wakes the slideshow as soon as it is ready); and while a slide read half-written
awaits the look at its file's change."""
STALL_GRACE_SECONDS = 5.0

PlaylistFactory = Callable[[SlideshowSettings, Callable[[], None]], FolderPlaylist]


def folder_playlist(settings: SlideshowSettings, on_change: Callable[[], None]) -> FolderPlaylist:
    return FolderPlaylist(
        settings.folder,
        settings.recursive,
        settings.order,
        on_change,
        follow_symlinks=settings.follow_symlinks,
    )


class Phase(enum.Enum):
    """Where the slideshow's last step left it."""

    SHOWING = "showing"
    """The current slide (or the placeholder saying why there is none) is on the stream."""
    PREPARING = "preparing"
    """The slide to show is still being prepared: its time has not started."""
    RESTING = "resting"
    """Nobody wants frames: the show only keeps its place by the clock."""


class SlideshowSource(Worker):
    """Turns the folder's playlist into published frames.

    `start`, `stop` and `wake` are called by the channel's director (wake also from the config
    watcher's thread); `command` by HTTP threads; everything else runs on the slideshow's own
    thread. Status properties are read by HTTP threads. The settings are read from `settings`
    at every step, never kept.
    """

    def __init__(
        self,
        hub: FrameHub,
        settings: Callable[[], Settings],
        renderer: SlideRenderer | None = None,
        playlist_factory: PlaylistFactory = folder_playlist,
        clock: Callable[[], datetime] = datetime.now,
        address: Callable[[], str] | None = None,
        banner: Callable[[], Announcement | None] = lambda: None,
        clip_sound: Callable[[], ClipSink | None] = lambda: None,
    ) -> None:
        super().__init__("slideshow")
        self._hub = hub
        self._settings = settings
        self._clip_sound = clip_sound
        """Where a clip's own sound goes now, or None when its channel does not play it."""
        self._banner = banner
        self._renderer = renderer or SlideRenderer()
        self._playlist_factory = playlist_factory
        self._clock = clock
        self._wake = threading.Event()
        self._playlist: FolderPlaylist | None = None
        self._current: Slide | None = None
        self._on_screen: Slide | None = None
        self._presenter = SlidePresenter(hub, clock, address, banner)
        self._moving = MovingSlide()
        self._preparer = SlidePreparer(self._renderer, self._wake.set)
        self._phase = Phase.SHOWING
        self._shown_at = 0.0
        self._step_due_by = time.monotonic()
        self._commands: list[str] = []
        self._commands_lock = threading.Lock()
        self._paused = False
        hub.on_demand(self._wake.set)

    def start(self) -> None:
        """Show the folder from its first slide (again, after a stop: another source had the
        stream, and the next slide is made afresh, with no fade)."""
        self._step_due_by = time.monotonic()
        self._presenter.forget()
        self._preparer = SlidePreparer(self._renderer, self._wake.set)
        super().start()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop the slideshow and everything it started, each wait bounded by `timeout`."""
        stopped = super().stop(timeout)
        self._preparer.stop(timeout)
        self._moving.stop()
        playlist, self._playlist, self._current = self._playlist, None, None
        self._on_screen = None
        if playlist is not None:
            playlist.stop()
        return stopped

    def wake(self) -> None:
        """Look again now: new settings, or an announcement came or went; any thread."""
        self._wake.set()

    def command(self, action: str) -> None:
        """Ask for "next", "previous", "pause" or "resume" (from an HTTP thread); the slideshow
        thread acts on it at once."""
        if action not in COMMANDS:
            raise ValueError(f"unknown command {action!r}")
        with self._commands_lock:
            self._commands.append(action)
        self._wake.set()

    # --- status (HTTP threads) --------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def slide(self) -> str | None:
        """The slide on the stream now (the next one may still be being prepared), or the one
        the show is on by the clock while nobody watches."""
        shown = self._on_screen
        return shown.title if shown else None

    @property
    def position(self) -> float | None:
        """Seconds into the moving slide on the stream, or None."""
        return self._moving.position

    @property
    def playlist(self) -> FolderPlaylist | None:
        return self._playlist

    def stall_reason(self) -> str | None:
        """Why the show is stuck, or None: its next step is overdue by an interval and 5 s
        (for /healthz)."""
        late = time.monotonic() - self._step_due_by
        if late <= self._settings().slideshow.interval + STALL_GRACE_SECONDS:
            return None
        shown = f" (on {self.slide})" if self.slide else ""
        return f"the show has not moved on for {late:.0f} s past its time{shown}"

    def status(self) -> dict[str, Any]:
        playlist = self._playlist
        return {
            "slide": self.slide,
            "slides": playlist.count if playlist else 0,
            "skipped": playlist.skipped() if playlist else [],
            "schedule_error": playlist.schedule_error if playlist else None,
            "paused": self._paused,
            "position": self.position,
        }

    # --- the slideshow's thread -------------------------------------------------------------

    def run(self) -> None:
        """The slideshow's loop (restarted by its supervisor after an unexpected error)."""
        while not self.stopping.is_set():
            self._wake.clear()
            timeout = self._step(self._settings())
            self._step_due_by = time.monotonic() + timeout
            self._wake.wait(timeout)

    def _step(self, settings: Settings) -> float:
        """Show the current slide, advance when it is due, prepare the next one; while nobody
        watches, only advance. Returns how long to sleep unless woken."""
        playlist = self._ensure_playlist(settings.slideshow)
        playlist.set_order(settings.slideshow.order, settings.slideshow.new_first)
        spec = render_spec(settings)
        current = self._current and playlist.now(self._current)
        seconds = self._seconds(settings, playlist, current)
        self._current = current = self._choose(settings, playlist, current, seconds, spec)
        if not self._hub.wanted:
            return self._rest(settings, playlist, spec)
        if self._phase is Phase.RESTING:
            playlist.set_idle(False)
        self._phase = Phase.SHOWING
        if current is None:
            self._on_screen = None
            self._presenter.show_placeholder(playlist, spec)
            return min(seconds, SCHEDULE_CHECK_SECONDS)
        return self._show(settings, playlist, current, spec)

    def _choose(
        self,
        settings: Settings,
        playlist: FolderPlaylist,
        current: Slide | None,
        seconds: float,
        spec: RenderSpec,
    ) -> Slide | None:
        """The slide to be on now: the first, one asked for, a file just dropped in, or the
        next one once `current` (of `seconds`) has had its time; sets when its time began."""
        now = time.monotonic()
        due = self._shown_at + seconds
        jumps = self._take_commands()
        if current is None:
            # Nothing shown yet, or the slide on screen has just left the folder.
            chosen, self._shown_at = playlist.advance(self._current), now
        elif jumps:
            chosen = current
            for jump in jumps:
                step = playlist.advance(chosen) if jump == "next" else playlist.back(chosen)
                chosen = step or chosen
            self._shown_at = now
        elif self._paused or self._phase is Phase.PREPARING:
            # Paused, or the slide is not on the stream yet: its time has not started.
            self._shown_at = now
            return current
        elif playlist.arrival_waiting():
            # A file dropped in while running shows at once (with new_first).
            chosen, self._shown_at = playlist.advance(current), now
        elif self._moving.finished(current, spec, now, due):
            chosen, self._shown_at = self._moved_on(settings, playlist, current, due, now)
        else:
            return current
        self._moving.stop()  # even the same clip again plays from its start
        return chosen

    def _show(
        self, settings: Settings, playlist: FolderPlaylist, slide: Slide, spec: RenderSpec
    ) -> float:
        """Put `slide` on the stream once it is prepared (the next one prepared behind it);
        returns how long until something on the frame changes."""
        upcoming = playlist.peek(slide)
        wanted = [slide] if upcoming in (None, slide) else [slide, upcoming]
        self._preparer.want(wanted, spec, settings.slideshow.prepare_timeout)
        prepared = self._preparer.result(slide, spec)
        if prepared is None:
            self._phase = Phase.PREPARING
            return PREPARING_CHECK_SECONDS
        if isinstance(prepared, Refused):
            retry = settings.web.refresh if slide.kind == "web" else None
            if playlist.report_unreadable(slide, prepared.reason, retry):
                return 0
            # Rewritten while it was read: its time runs while its next look is awaited.
            return PREPARING_CHECK_SECONDS
        if not self._moving.plays(slide, spec):
            self._presenter.show_slide(slide, prepared, settings, spec)
        self._on_screen = slide
        if slide.moving:
            return self._play(settings, playlist, slide, spec)
        self._moving.stop()
        left = self._shown_at + self._seconds(settings, playlist, slide) - time.monotonic()
        banner = self._banner()
        return still_wait(
            left,
            self._clock() if settings.overlay.clock else None,
            banner.until - time.time() if banner is not None and banner.until is not None else None,
        )

    def _play(
        self, settings: Settings, playlist: FolderPlaylist, slide: Slide, spec: RenderSpec
    ) -> float:
        """Step the moving slide's playback, started once its first frame is on the stream
        (which is when its time begins); returns how long until its next frame or its end."""
        now = time.monotonic()
        if not self._moving.plays(slide, spec):
            try:
                self._moving.start(
                    slide,
                    spec,
                    settings.stream.max_fps,
                    now,
                    lambda picture: self._presenter.show_frame(
                        slide, picture, self._settings(), spec
                    ),
                    self._clip_sound(),
                )
            except UnreadableImage as error:
                if playlist.report_unreadable(slide, str(error)):
                    return 0.0
                return PREPARING_CHECK_SECONDS
            self._shown_at = now
        next_at = self._moving.step(now, self._paused)
        if next_at is None:
            return 0.0 if not self._paused else SCHEDULE_CHECK_SECONDS
        due = self._shown_at + self._seconds(settings, playlist, slide)
        return max(0.0, min(next_at, due) - time.monotonic())

    def _moved_on(
        self, settings: Settings, playlist: FolderPlaylist, slide: Slide, due: float, now: float
    ) -> tuple[Slide | None, float]:
        """The slide after `slide`, whose time was due at `due`, and when its time began. After a
        rest, as many slides on as the time that passed holds, so that a show nobody watches
        needs no step per slide to keep its place by the clock."""
        current = playlist.advance(slide)
        if self._phase is not Phase.RESTING:
            return current, next_slide_starts(due, now, self._seconds(settings, playlist, slide))
        return catch_up(
            current,
            due,
            now,
            playlist.advance,
            lambda slide: self._seconds(settings, playlist, slide),
        )

    def _rest(self, settings: Settings, playlist: FolderPlaylist, spec: RenderSpec) -> float:
        """Nobody wants frames: make none, stop preparing, and sleep until somebody does (or a
        while: /status shows where the show is by the clock); the step woken then catches up
        with the clock and shows the slide the show is on."""
        self._presenter.rest()
        self._moving.stop()
        self._phase = Phase.RESTING
        playlist.set_idle(True)
        self._preparer.want([], spec, settings.slideshow.prepare_timeout)
        self._on_screen = self._current
        return REST_CHECK_SECONDS

    @staticmethod
    def _seconds(settings: Settings, playlist: FolderPlaylist, slide: Slide | None) -> float:
        return slide_seconds(
            playlist.duration(slide) if slide else None,
            slide.seconds if slide and slide.kind == "video" else None,
            settings.slideshow.interval,
        )

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
