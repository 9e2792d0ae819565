"""The watched image folder: which files are complete, readable slides, and in what order.

Files are found three ways: watchdog events (a close-after-write or a rename-in means a file is
complete), a size-and-mtime check for events that say nothing of completeness (other platforms,
network shares), and a full rescan at start and every `RESCAN_SECONDS` as a safety net for lost
events. A file is only ever read, never written, moved or deleted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

try:
    from watchdog.observers.inotify import InotifyObserver
except ImportError:  # pragma: no cover - not Linux
    InotifyObserver = None  # type: ignore[assignment,misc]

from ..imaging import UnreadableImage, probe
from ..ordering import Rotation, Slide, natural_key
from ..schedule import SCHEDULE_FILE, Schedule, ScheduleError, parse_schedule

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = ("~", ".part", ".tmp", ".crdownload")
SETTLE_SECONDS = 1.0
"""Where no close events come, a file is complete once its size and mtime held this long."""
SAFETY_SETTLE_SECONDS = 10.0
"""Where close events do come (inotify), the same check is only a safety net, so a stalled copy
is not mistaken for a finished one."""
YOUNG_SECONDS = 10.0
"""A recently changed file that fails to read is retried, not reported: it may be half-copied."""
_HANDLED_EVENTS = {"created", "modified", "closed", "moved", "deleted"}
RESCAN_SECONDS = 30.0
MISSING_POLL_SECONDS = 0.5


def folder_observer() -> BaseObserver:
    """The platform's observer; on Linux one that reports a file moved in from elsewhere as a
    move (complete at once) rather than as a creation (which waits for a close that never comes)."""
    if InotifyObserver is not None:
        return InotifyObserver(generate_full_events=True)
    return Observer()


def is_ignored(name: str) -> bool:
    """Hidden and temporary files (and anything in a hidden folder) are never slides."""
    parts = name.split("/")
    return any(p.startswith(".") for p in parts) or parts[-1].endswith(IGNORED_SUFFIXES)


@dataclass
class _Pending:
    due: float
    complete: bool
    seen: tuple[int, int] | None = None
    announce: bool = True


class FolderPlaylist:
    """The slides of one folder, kept current by a worker thread and a watchdog observer.

    `start` and `stop` are called by the owner (the server); `advance`, `peek`, `lookup` and
    `report_unreadable` by the producer thread; `count`, `skipped` and `folder_exists` by HTTP
    threads. `on_change` is called on the worker thread whenever the set of slides changes.
    """

    def __init__(
        self,
        folder: Path,
        recursive: bool,
        order: str,
        on_change: Callable[[], None],
        observer_factory: Callable[[], BaseObserver] = folder_observer,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.folder = folder
        self.recursive = recursive
        self._on_change = on_change
        self._observer_factory = observer_factory
        self._observer: BaseObserver | None = None
        self._rotation = Rotation(order)
        self._clock = clock
        self._schedule = Schedule()
        self._schedule_error: str | None = None
        self._schedule_stamp: tuple[int, int] | None = None
        self._new_first = True
        self._arrivals: list[Path] = []
        self._interrupted: Slide | None = None
        self._cond = threading.Condition()
        self._slides: dict[Path, Slide] = {}
        self._skipped: dict[Path, tuple[tuple[int, int], str]] = {}
        self._pending: dict[Path, _Pending] = {}
        self._folder_exists: bool | None = None
        self._settle = SETTLE_SECONDS
        self._next_scan = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="folder-playlist", daemon=True)

    # --- owner ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        self._unwatch()

    def set_order(self, order: str, new_first: bool) -> None:
        with self._cond:
            if order != self._rotation.order:
                self._rotation = Rotation(order)
            self._new_first = new_first
            if not new_first:
                self._arrivals.clear()

    # --- producer --------------------------------------------------------------------------

    def advance(self, current: Slide | None) -> Slide | None:
        """The next slide: a file that arrived while running first (with new_first), then the
        normal order, picking up after the slide the arrival interrupted."""
        with self._cond:
            arrival = self._next_arrival()
            if arrival is not None:
                if self._interrupted is None:
                    self._interrupted = current
                return arrival
            if self._interrupted is not None:
                current, self._interrupted = self._interrupted, None
            return self._rotation.advance(self._showable(), current)

    def back(self, current: Slide | None) -> Slide | None:
        with self._cond:
            return self._rotation.back(self._showable(), current)

    def peek(self, current: Slide | None) -> Slide | None:
        with self._cond:
            arrival = self._next_arrival(take=False)
            if arrival is not None:
                return arrival
            after = self._interrupted or current
            return self._rotation.peek(self._showable(), after)

    def duration(self, slide: Slide) -> float | None:
        """How long `slide` stays on screen by schedule.toml, or None for the usual interval."""
        with self._cond:
            return self._schedule.duration(slide.name)

    @property
    def schedule_error(self) -> str | None:
        with self._cond:
            return self._schedule_error

    def _showable(self) -> list[Slide]:
        """The slides schedule.toml allows now (lock held)."""
        now = self._clock()
        return [s for s in self._slides.values() if self._schedule.allows(s.name, now)]

    def _next_arrival(self, take: bool = True) -> Slide | None:
        """The oldest arrival still in the folder (lock held)."""
        while self._arrivals:
            slide = self._slides.get(self._arrivals[0])
            if slide is not None and self._schedule.allows(slide.name, self._clock()):
                if take:
                    self._arrivals.pop(0)
                return slide
            self._arrivals.pop(0)
        return None

    def lookup(self, path: Path) -> Slide | None:
        """The slide at `path` as it is now (its size and mtime may have changed), or None."""
        with self._cond:
            return self._slides.get(path)

    def report_unreadable(self, slide: Slide, reason: str) -> None:
        """The producer could not decode `slide`: skip it until the file changes."""
        with self._cond:
            if self._slides.get(slide.path) != slide:
                return
            del self._slides[slide.path]
            self._skip(slide.path, slide.name, (slide.mtime_ns, slide.size), reason)
        self._on_change()

    # --- status ----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._slides)

    @property
    def folder_exists(self) -> bool | None:
        """None until the first look at the folder is complete."""
        with self._cond:
            return self._folder_exists

    def skipped(self) -> list[dict[str, str]]:
        with self._cond:
            items = [(self._name(p), reason) for p, (_, reason) in self._skipped.items()]
        return [{"file": name, "reason": reason} for name, reason in sorted(items)]

    # --- observer thread -------------------------------------------------------------------

    def _event(self, event: FileSystemEvent) -> None:
        """Called on the watchdog observer thread for every event under the folder."""
        if event.event_type not in _HANDLED_EVENTS:
            return
        with self._cond:
            if event.is_directory:
                if event.event_type != "modified":
                    self._next_scan = 0.0
            else:
                complete = event.event_type in ("closed", "moved", "deleted")
                for raw in {event.src_path, event.dest_path} - {"", b""}:
                    path = Path(os.fsdecode(raw))
                    if path.parent == self.folder or self.recursive:
                        known = self._pending.get(path)
                        delay = 0.0 if complete else self._settle
                        self._pending[path] = _Pending(
                            time.monotonic() + delay, complete, known.seen if known else None
                        )
            self._cond.notify_all()

    # --- worker thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    due = [p for p, item in self._pending.items() if item.due <= now]
                    if due or now >= self._next_scan:
                        break
                    wake = min([i.due for i in self._pending.values()] + [self._next_scan])
                    self._cond.wait(wake - now)
                if self._stopping:
                    return
                work = [(p, self._pending.pop(p)) for p in due]
            if time.monotonic() >= self._next_scan:
                self._rescan()
            for path, item in work:
                self._examine(path, item)

    def _rescan(self) -> None:
        """Compare the folder with what is known: the start, and the net for lost events."""
        exists = self.folder.is_dir()
        if exists and self._observer is None:
            self._watch()
        elif not exists and self._observer is not None:
            self._unwatch()
        found = self._list_files() if exists else {}
        self._load_schedule()
        first_look = exists and not self._folder_exists
        with self._cond:
            self._next_scan = time.monotonic() + (
                RESCAN_SECONDS if self._observer is not None else MISSING_POLL_SECONDS
            )
            gone = (self._slides.keys() | self._skipped.keys()) - found.keys()
            changed = [self._forget(path) for path in gone].count(True) > 0
            if not exists and self._folder_exists is not False:
                self._folder_exists = False
                changed = True
                log.warning("Image folder %s is missing: waiting for it to appear", self.folder)
        now = time.time()
        for path in sorted(found, key=lambda p: natural_key(self._name(p))):
            signature = found[path]
            settled = first_look or now - signature[0] / 1e9 >= SETTLE_SECONDS
            item = _Pending(0.0, settled, None if settled else signature, not first_look)
            if settled:
                self._examine(path, item)
            else:
                with self._cond:
                    self._pending.setdefault(path, item)
        if first_look:
            with self._cond:
                self._folder_exists = True
                slides, skipped = len(self._slides), len(self._skipped)
            log.info("Watching %s: %d slides, %d skipped", self.folder, slides, skipped)
            changed = True
        if changed:
            self._on_change()

    def _list_files(self) -> dict[Path, tuple[int, int]]:
        files: dict[Path, tuple[int, int]] = {}
        for root, dirs, names in os.walk(self.folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")] if self.recursive else []
            for name in names:
                path = Path(root) / name
                if is_ignored(self._name(path)) or self._name(path) == SCHEDULE_FILE:
                    continue
                try:
                    info = path.stat()
                except OSError:
                    continue
                files[path] = (info.st_mtime_ns, info.st_size)
        return files

    def _examine(self, path: Path, item: _Pending) -> None:
        """Decide what one changed path is now: a slide, skipped, pending, or gone."""
        name = self._name(path)
        if name == SCHEDULE_FILE:
            self._load_schedule()
            return
        if is_ignored(name):
            return
        try:
            info = path.stat()
        except OSError:
            info = None
        if info is None or not path.is_file():
            with self._cond:
                changed = self._forget(path)
            if changed:
                self._on_change()
            return
        signature = (info.st_mtime_ns, info.st_size)
        if not item.complete and item.seen != signature:
            with self._cond:
                self._pending[path] = _Pending(
                    time.monotonic() + self._settle, False, signature, item.announce
                )
                self._cond.notify_all()
            return
        with self._cond:
            slide = self._slides.get(path)
            skipped = self._skipped.get(path)
        if (slide and (slide.mtime_ns, slide.size) == signature) or (
            skipped and skipped[0] == signature
        ):
            return
        try:
            width, height = probe(path)
        except UnreadableImage as error:
            self._refuse(path, name, signature, item, str(error))
            return
        new = Slide(path, name, *signature)
        with self._cond:
            self._skipped.pop(path, None)
            old = self._slides.get(path)
            self._slides[path] = new
            if item.announce and old is None and self._new_first:
                self._arrivals.append(path)
        if item.announce:
            verb = "changed" if old else "added"
            log.info("Slide %s: %s (%d×%d)", verb, name, width, height)
        self._on_change()

    def _refuse(
        self, path: Path, name: str, signature: tuple[int, int], item: _Pending, reason: str
    ) -> None:
        young = time.time() - signature[0] / 1e9 < YOUNG_SECONDS
        with self._cond:
            if young and not item.complete:
                self._pending[path] = _Pending(
                    time.monotonic() + self._settle, False, signature, item.announce
                )
                self._cond.notify_all()
                return
            had_slide = self._slides.pop(path, None) is not None
            self._skip(path, name, signature, reason)
        if had_slide:
            self._on_change()

    def _skip(self, path: Path, name: str, signature: tuple[int, int], reason: str) -> None:
        """Record a skipped file (lock held); logged once per change of the file."""
        if self._skipped.get(path) != (signature, reason):
            log.warning("Skipped %s: %s", name, reason)
        self._skipped[path] = (signature, reason)

    def _forget(self, path: Path) -> bool:
        """Drop a path that is gone (lock held); True if a slide left the show."""
        self._pending.pop(path, None)
        self._skipped.pop(path, None)
        slide = self._slides.pop(path, None)
        if slide is not None:
            log.info("Slide removed: %s", slide.name)
        return slide is not None

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
                schedule, error = parse_schedule(path.read_text(encoding="utf-8")), None
                log.info("Schedule loaded: %d rule(s)", len(schedule.rules))
            except (OSError, UnicodeDecodeError, ScheduleError) as problem:
                schedule, error = self._schedule, f"{SCHEDULE_FILE}: {problem}"
                log.error("Schedule not applied, keeping the last good one: %s", error)
        with self._cond:
            self._schedule, self._schedule_error = schedule, error
        self._on_change()

    def _name(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return path.name

    def _watch(self) -> None:
        observer = self._observer_factory()
        handler = FileSystemEventHandler()
        handler.on_any_event = self._event  # type: ignore[method-assign]
        try:
            observer.schedule(handler, str(self.folder), recursive=self.recursive)
            observer.start()
        except OSError as error:
            log.warning("Cannot watch %s (%s): rescanning it every second", self.folder, error)
            return
        self._observer = observer
        closes = InotifyObserver is not None and isinstance(observer, InotifyObserver)
        self._settle = SAFETY_SETTLE_SECONDS if closes else SETTLE_SECONDS

    def _unwatch(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
