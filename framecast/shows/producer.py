"""The one thread that decides what is on the stream, renders it once and publishes it.

It owns the folder playlist (replacing it when the folder setting changes) and the screen
capture (running it only while someone watches), times the slides, has the current and the next
slide prepared on a worker (so a big photo neither stalls the stream nor comes late), and hands
each slide to its presenter, which adds labels and fades and publishes only when what is shown
changes: a still show costs nothing here, and the web layer re-sends for keepalive. A show
nobody watches only keeps its place by the clock: it prepares, renders and publishes nothing
until a stream client or a snapshot wants a frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from ..announcements import Announcement
from ..audio.clip import ClipSink
from ..config import Settings, SlideshowSettings
from ..control import COMMANDS
from ..hub import FrameHub
from ..render.imaging import RenderSpec, UnreadableImage, render_spec
from ..screen.capture import ScreenCapture
from ..screen.feed import ScreenFeeds
from ..slideshow.folder import FolderPlaylist
from ..slideshow.ordering import Slide
from ..slideshow.playback import MovingSlide
from ..slideshow.preparer import Refused, SlidePreparer
from ..slideshow.presenter import SlidePresenter
from ..slideshow.renderer import SlideRenderer
from ..supervise import SupervisedThread

log = logging.getLogger(__name__)

SCREEN_CHECK_SECONDS = 1.0
"""How often the producer looks at the screen source's demand when nothing wakes it."""
SCHEDULE_CHECK_SECONDS = 30.0
"""With nothing to show, look this often whether schedule.toml now allows a slide."""
REST_CHECK_SECONDS = 30.0
"""While nobody watches, the show catches up with the clock this often, for /status: a show
woken for every slide would cost the CPU of a watched one as channels add up."""
CATCH_UP_STEPS = 1000
"""The most slides a show moves on by in one catch-up; past that it starts afresh on the next."""
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
        banner: Callable[[], Announcement | None] = lambda: None,
        clip_sound: Callable[[], ClipSink | None] = lambda: None,
    ) -> None:
        self._hub = hub
        self._clip_sound = clip_sound
        """Where a clip's own sound goes now, or None when its channel does not play it."""
        self._banner = banner
        self._renderer = renderer or SlideRenderer()
        self._playlist_factory = playlist_factory
        self._settings = settings
        self._wake = threading.Event()
        self._stopping = False
        self._playlist: FolderPlaylist | None = None
        self._current: Slide | None = None
        self._presenter = SlidePresenter(hub, clock, address, banner)
        self._moving = MovingSlide()
        self._shown_at = 0.0
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
        self._moving.stop()
        self._screen.stop(timeout)
        if self._playlist is not None:
            self._playlist.stop()

    def apply(self, settings: Settings) -> None:
        """Take new settings; the producer thread acts on them at once."""
        self._settings = settings
        self._wake.set()

    def switch_source(self, source: str) -> None:
        """Show `source` ("slideshow" or "screen") until new settings come (a config edit of
        this channel, or a restart): the admin page's switch. Any thread."""
        settings = self._settings
        self._settings = replace(settings, stream=replace(settings.stream, source=source))
        self._wake.set()

    @property
    def source(self) -> str:
        """What the show shows now: its settings' source, or the admin page's switch."""
        return self._settings.stream.source

    def wake(self) -> None:
        """Look again now (an announcement came or went); any thread."""
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
        return shown.title if shown else None

    @property
    def position(self) -> float | None:
        """Seconds into the moving slide on the stream, or None."""
        return self._moving.position

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
        self._presenter.forget()
        self._moving.stop()
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
        current = self._current and playlist.now(self._current)
        interval = self._interval(settings, playlist, current)
        due = self._shown_at + interval
        jumps = self._take_commands()
        moved = True
        if current is None:
            # Nothing shown yet, or the slide on screen has just left the folder.
            current = playlist.advance(self._current)
            self._shown_at = now
        elif jumps:
            for jump in jumps:
                step = playlist.advance(current) if jump == "next" else playlist.back(current)
                current = step or current
            self._shown_at = now
        elif self._paused or self._preparing:
            # Paused, or the slide is not on the stream yet: its time has not started.
            self._shown_at, moved = now, False
        elif playlist.arrival_waiting():
            # A file dropped in while running shows at once (with new_first).
            current, self._shown_at = playlist.advance(current), now
        elif self._moving.finished(current, spec, now, due):
            current, self._shown_at = self._moved_on(settings, playlist, current, due, now)
        else:
            moved = False
        if moved:
            self._moving.stop()  # even the same clip again plays from its start
        self._current = current
        self._preparing = False
        if not self._hub.wanted:
            return self._rest(settings, playlist, spec)
        if self._resting:
            playlist.set_idle(False)
        self._resting = False
        if current is None:
            self._on_screen = None
            self._presenter.show_placeholder(playlist, spec)
            return min(interval, SCHEDULE_CHECK_SECONDS)
        upcoming = playlist.peek(current)
        wanted = [current] if upcoming in (None, current) else [current, upcoming]
        self._preparer.want(wanted, spec, settings.slideshow.prepare_timeout)
        prepared = self._preparer.result(current, spec)
        if prepared is None:
            self._preparing = True
            return PREPARING_CHECK_SECONDS
        if isinstance(prepared, Refused):
            retry = settings.web.refresh if current.kind == "web" else None
            playlist.report_unreadable(current, prepared.reason, retry)
            return 0
        if not self._moving.plays(current, spec):
            self._presenter.show_slide(current, prepared, settings, spec)
        self._on_screen = current
        if current.moving:
            return self._play(settings, playlist, current, spec)
        self._moving.stop()
        interval = self._interval(settings, playlist, current)
        wait = self._shown_at + interval - time.monotonic()
        if settings.overlay.clock:
            wait = min(wait, 60.0 - self._clock().second - self._clock().microsecond / 1e6)
        banner = self._banner()
        if banner is not None and banner.until is not None:
            wait = min(wait, banner.until - time.time())
        return max(0.0, wait)

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
                        slide, picture, self._settings, spec
                    ),
                    self._clip_sound(),
                )
            except UnreadableImage as error:
                playlist.report_unreadable(slide, str(error))
                return 0.0
            self._shown_at = now
        next_at = self._moving.step(now, self._paused)
        if next_at is None:
            return 0.0 if not self._paused else SCHEDULE_CHECK_SECONDS
        due = self._shown_at + self._interval(settings, playlist, slide)
        return max(0.0, min(next_at, due) - time.monotonic())

    def _moved_on(
        self, settings: Settings, playlist: FolderPlaylist, slide: Slide, due: float, now: float
    ) -> tuple[Slide | None, float]:
        """The slide after `slide`, whose time was due at `due`, and when its time began. After a
        rest, as many slides on as the time that passed holds, so that a show nobody watches
        needs no step per slide to keep its place by the clock."""
        current = playlist.advance(slide)
        if not self._resting:
            # A little late keeps to the schedule, so fast shows do not drift.
            return current, due if now - due < self._interval(settings, playlist, slide) else now
        for _ in range(CATCH_UP_STEPS):
            ends = due + self._interval(settings, playlist, current)
            if current is None or ends > now:
                return current, due
            current, due = playlist.advance(current), ends
        return current, now

    def _rest(self, settings: Settings, playlist: FolderPlaylist, spec: RenderSpec) -> float:
        """Nobody wants frames: make none, stop preparing, and sleep until somebody does (or a
        while: /status shows where the show is by the clock); the step woken then catches up
        with the clock and shows the slide the show is on."""
        self._presenter.rest()
        self._moving.stop()
        self._resting = True
        playlist.set_idle(True)
        self._preparer.want([], spec, settings.slideshow.prepare_timeout)
        self._on_screen = self._current
        return REST_CHECK_SECONDS

    @staticmethod
    def _interval(settings: Settings, playlist: FolderPlaylist, slide: Slide | None) -> float:
        """The slide's own duration from schedule.toml, a clip's length, or [slideshow]
        interval."""
        own = playlist.duration(slide) if slide else None
        clip = slide.seconds if slide and slide.kind == "video" else None
        return own or clip or settings.slideshow.interval

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
