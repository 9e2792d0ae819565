"""The slides of the watched image folder in the order they show: the folder's order, files that
arrive while running first, and what schedule.toml allows now."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ..supervise import STOP_SECONDS
from . import scan
from .ordering import Rotation, Slide
from .schedule import SCHEDULE_FILE, Schedule, ScheduleError
from .watch import FolderWatch

log = logging.getLogger(__name__)


class FolderPlaylist:
    """The slides of one folder in order; the folder itself is kept by a `FolderWatch`.

    `start` and `stop` are called by the owner (the slideshow); `advance`, `peek`, `lookup` and
    `report_unreadable` by the slideshow's thread; `count`, `skipped` and `folder_exists` by HTTP
    threads. `on_change` is called on the watch's worker thread whenever the set of slides
    changes. `follow_symlinks` is [slideshow] follow_symlinks: "inside" or "all".
    """

    def __init__(
        self,
        folder: Path,
        recursive: bool,
        order: str,
        on_change: Callable[[], None],
        follow_symlinks: str = "inside",
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.folder = folder
        self.recursive = recursive
        self.follow_symlinks = follow_symlinks
        self._on_change = on_change
        self._rotation = Rotation(order)
        self._clock = clock
        self._schedule = Schedule()
        self._schedule_error: str | None = None
        self._schedule_stamp: tuple[int, int] | None = None
        self._new_first = True
        self._arrivals: list[Path] = []
        self._interrupted: Slide | None = None
        self._lock = threading.Lock()
        self._watch = FolderWatch(
            folder,
            recursive,
            follow_symlinks,
            on_change,
            self._arrived,
            self._load_schedule,
        )

    # --- owner ---------------------------------------------------------------------------

    def start(self) -> None:
        self._watch.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """End the watch's worker and its watches, each wait bounded by `timeout`."""
        self._watch.stop(timeout)

    def set_order(self, order: str, new_first: bool) -> None:
        with self._lock:
            if order != self._rotation.order:
                self._rotation = Rotation(order)
                self._rotation.listed = _places(self._schedule)
            self._new_first = new_first
            if not new_first:
                self._arrivals.clear()

    # --- slideshow ---------------------------------------------------------------------------

    def advance(self, current: Slide | None) -> Slide | None:
        """The next slide: a file that arrived while running first (with new_first), then the
        normal order, picking up after the slide the arrival interrupted."""
        with self._lock:
            arrival = self._next_arrival()
            if arrival is not None:
                if self._interrupted is None:
                    self._interrupted = current
                return arrival
            if self._interrupted is not None:
                current, self._interrupted = self._interrupted, None
            return self._rotation.advance(self._showable(), current)

    def back(self, current: Slide | None) -> Slide | None:
        with self._lock:
            return self._rotation.back(self._showable(), current)

    def peek(self, current: Slide | None) -> Slide | None:
        with self._lock:
            arrival = self._next_arrival(take=False)
            if arrival is not None:
                return arrival
            after = self._interrupted or current
            return self._rotation.peek(self._showable(), after)

    def arrival_waiting(self) -> bool:
        """Whether a file that arrived while running waits to be shown (with new_first)."""
        with self._lock:
            return self._next_arrival(take=False) is not None

    def duration(self, slide: Slide) -> float | None:
        """How long `slide` stays on screen by schedule.toml, or None for the usual interval."""
        with self._lock:
            return self._schedule.duration(slide.name)

    @property
    def schedule_error(self) -> str | None:
        with self._lock:
            return self._schedule_error

    def _showable(self) -> list[Slide]:
        """The slides schedule.toml allows now (lock held)."""
        now = self._clock()
        return [
            replace(slide, page=page)
            for slide in self._watch.slides()
            if self._schedule.allows(slide.name, now)
            for page in range(slide.pages)
        ]

    def _next_arrival(self, take: bool = True) -> Slide | None:
        """The oldest arrival still in the folder (lock held)."""
        while self._arrivals:
            slide = self._watch.lookup(self._arrivals[0])
            if slide is not None and self._schedule.allows(slide.name, self._clock()):
                if take:
                    self._arrivals.pop(0)
                return slide
            self._arrivals.pop(0)
        return None

    def lookup(self, path: Path) -> Slide | None:
        """The file's slide (its first page) as it is now (its size and mtime may have
        changed), or None."""
        return self._watch.lookup(path)

    def now(self, slide: Slide) -> Slide | None:
        """`slide` (the same page) as it is now, or None when its file or its page is gone."""
        found = self._watch.lookup(slide.path)
        if found is None or slide.page >= found.pages:
            return None
        return replace(found, page=slide.page)

    def set_idle(self, idle: bool) -> None:
        """Nobody watches the show (or somebody does again): the folder is rescanned seldom."""
        self._watch.set_idle(idle)

    def report_unreadable(self, slide: Slide, reason: str, retry: float | None = None) -> bool:
        """The slideshow could not decode `slide`: skip it until the file changes (or, with
        `retry`, until a rescan that many seconds from now). False when the file was rewritten
        while it was read: it is not skipped, and its new look comes."""
        return self._watch.report_unreadable(slide, reason, retry)

    # --- status ----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._watch.count

    @property
    def folder_exists(self) -> bool | None:
        """None until the first look at the folder is complete."""
        return self._watch.folder_exists

    def skipped(self) -> list[dict[str, str]]:
        return self._watch.skipped()

    # --- the watch's worker thread -------------------------------------------------------

    def _arrived(self, path: Path) -> None:
        """A slide arrived while running: with new_first it shows next."""
        with self._lock:
            if self._new_first:
                self._arrivals.append(path)

    def _load_schedule(self) -> None:
        """Read schedule.toml again if it changed; keep the last good one if it is invalid."""
        path = self.folder / SCHEDULE_FILE
        try:
            info = path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp == self._schedule_stamp:
            return
        self._schedule_stamp = stamp
        if stamp is None:
            schedule, error = Schedule(), None
            log.info("No %s: every slide shows all the time", SCHEDULE_FILE)
        else:
            try:
                schedule, error = (
                    scan.read_schedule(path, self.folder, self.follow_symlinks == "all"),
                    None,
                )
                log.info("Schedule loaded: %d rule(s)", len(schedule.rules))
            except (OSError, UnicodeDecodeError, ScheduleError) as problem:
                schedule, error = self._schedule, f"{SCHEDULE_FILE}: {problem}"
                log.error("Schedule not applied, keeping the last good one: %s", error)
        with self._lock:
            self._schedule, self._schedule_error = schedule, error
            self._rotation.listed = _places(schedule)
        self._on_change()


def _places(schedule: Schedule) -> dict[str, int]:
    """Each file name of schedule.toml `order` and its place (the first, if named twice)."""
    places: dict[str, int] = {}
    for place, name in enumerate(schedule.order):
        places.setdefault(name, place)
    return places
