"""Which files of the watched image folder are complete, readable slides.

Files are found three ways: watchdog events (a close-after-write or a rename-in means a file is
complete), a size-and-mtime check for events that say nothing of completeness (other platforms,
network shares), and a full rescan at start and every `RESCAN_SECONDS` as a safety net for lost
events. The folder's parent is watched too, so a folder renamed away or re-created is rescanned
at once. A file is only ever read, never written, moved or deleted.

With [slideshow] follow_symlinks = "inside" (the default) a link is shown only when its real path
is inside the folder: whoever can drop files here must not be able to show the server's other
files on every screen.
"""

from __future__ import annotations

import logging
import math
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..logtext import OncePerMinute, printable
from ..render.imaging import UnreadableImage
from ..render.kinds import Probe, probe_file
from ..supervise import STOP_SECONDS, Worker
from . import scan
from .events import FolderEvents
from .ordering import Slide, natural_key
from .scan import is_ignored
from .schedule import SCHEDULE_FILE

log = logging.getLogger(__name__)

SETTLE_SECONDS = 1.0
"""Where no close events come, a file is complete once its size and mtime held this long."""
SAFETY_SETTLE_SECONDS = 10.0
"""Where close events do come (inotify), the same check is only a safety net, so a stalled copy
is not mistaken for a finished one."""
YOUNG_SECONDS = 10.0
"""A recently changed file that fails to read is retried, not reported: it may be half-copied."""
RESCAN_SECONDS = 30.0
IDLE_RESCAN_SECONDS = 300.0
"""The safety-net rescan of a folder whose show nobody watches: its events still come, and
twenty channels' rescans every 30 s showed in what unwatched channels cost (docs/benchmarks.md)."""
MISSING_POLL_SECONDS = 0.5
QUIET_SECONDS = 0.25
"""A file whose writing ends again within this time of its last end (a slide rewritten many
times a second) is looked at once it has been this quiet ..."""
BURST_SECONDS = 1.0
"""... or at the latest this long after the first change held back: a file rewritten all the
time shows its newest picture once a second, not at every write."""
ENDINGS_KEPT = 1000


@dataclass
class _Pending:
    due: float
    complete: bool
    seen: tuple[int, int] | None = None
    announce: bool = True
    since: float = field(default_factory=time.monotonic)
    """When the first change this look stands for came: it waits no more than BURST_SECONDS."""
    burst: bool = False
    """The file's writing ended again within QUIET_SECONDS: a failure to read it may be of a
    write under way, and is looked at again once before it counts."""


class FolderWatch(Worker):
    """The complete, readable slides of one folder, kept current by a worker thread and a
    watchdog observer.

    `start` and `stop` are called by the owner (the playlist's owner); `slides`, `lookup` and
    `report_unreadable` by the slideshow's thread; `count`, `skipped` and `folder_exists` by HTTP
    threads. On the worker thread, `on_change` is called whenever the set of slides changes,
    `on_arrival` with the path of a slide that arrived while running, and `on_schedule` when
    schedule.toml may have changed.
    """

    def __init__(
        self,
        folder: Path,
        recursive: bool,
        follow_symlinks: str,
        on_change: Callable[[], None],
        on_arrival: Callable[[Path], None],
        on_schedule: Callable[[], None],
    ) -> None:
        super().__init__("folder-watch")
        self.folder = folder
        self.recursive = recursive
        self.follow_symlinks = follow_symlinks
        self._on_change = on_change
        self._on_arrival = on_arrival
        self._on_schedule = on_schedule
        self._events: FolderEvents | None = None
        self._watched: tuple[int, int] | None = None
        """The device and inode of the folder the observer watches: a watch follows the folder
        it was set on when that is renamed, not the path."""
        self._cond = threading.Condition()
        self._slides: dict[Path, Slide] = {}
        self._skipped: dict[Path, tuple[tuple[int, int], str]] = {}
        self._idle = False
        self._retry_at: dict[Path, float] = {}
        """Skipped files to examine again, though unchanged, at the first rescan after then."""
        self._pending: dict[Path, _Pending] = {}
        self._ended: dict[Path, float] = {}
        """When each file's writing last ended, to tell a file rewritten in a loop."""
        self._change_lines = OncePerMinute()
        self._unlogged: dict[Path, int] = {}
        """Changes of a file not logged since its last "changed" line."""
        self._folder_exists: bool | None = None
        self._settle = SETTLE_SECONDS
        self._next_scan = 0.0

    # --- owner ---------------------------------------------------------------------------

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """End the worker and the watches, each wait bounded by `timeout` (called by the owner)."""
        stopped = super().stop(timeout)
        self._unwatch(timeout)
        return stopped

    def wake(self) -> None:
        """Ends the worker thread's wait for a file or a rescan that is due."""
        with self._cond:
            self._cond.notify_all()

    # --- slideshow ---------------------------------------------------------------------------

    def slides(self) -> list[Slide]:
        with self._cond:
            return list(self._slides.values())

    def lookup(self, path: Path) -> Slide | None:
        """The slide at `path` as it is now (its size and mtime may have changed), or None."""
        with self._cond:
            return self._slides.get(path)

    def set_idle(self, idle: bool) -> None:
        """Whether the folder's show is watched: a show nobody watches is rescanned only every
        `IDLE_RESCAN_SECONDS`; watched again, it is rescanned at once."""
        with self._cond:
            if idle == self._idle:
                return
            self._idle = idle
            if not idle:
                self._next_scan = 0.0
                self._cond.notify_all()

    def report_unreadable(self, slide: Slide, reason: str, retry: float | None = None) -> bool:
        """The slideshow could not decode `slide`: skip it until the file changes, or until
        the first rescan `retry` seconds from now (a web page may load later). False, and
        nothing skipped, when the file changed since it was looked at: it was rewritten while
        it was read, and its change is looked at anyway."""
        if _signature(slide.path) != (slide.mtime_ns, slide.size):
            return False
        with self._cond:
            if self._slides.get(slide.path) != replace(slide, page=0):
                return True
            del self._slides[slide.path]
            self._skip(slide.path, slide.name, (slide.mtime_ns, slide.size), reason)
            if retry is not None:
                self._retry_at[slide.path] = time.monotonic() + retry
        self._on_change()
        return True

    # --- status ----------------------------------------------------------------------------

    @property
    def count(self) -> int:
        with self._cond:
            return sum(slide.pages for slide in self._slides.values())

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

    def _file_event(self, path: Path, complete: bool) -> None:
        """Called on the observer thread: look at `path` again, at once when its writing is
        over (unless it was over moments ago too: then once it is quiet), else once it has
        held still."""
        with self._cond:
            now = time.monotonic()
            known = self._pending.get(path)
            since = known.since if known else now
            # Whether a link may be shown at all does not wait for it to settle.
            burst = False
            if complete or path.is_symlink():
                burst = not self._calm(path, now)
                due = min(now + QUIET_SECONDS, since + BURST_SECONDS) if burst else now
            else:
                due = now + self._settle
            seen = known.seen if known else None
            self._pending[path] = _Pending(due, complete, seen, since=since, burst=burst)
            self._cond.notify_all()

    def _calm(self, path: Path, now: float) -> bool:
        """Whether the writing of `path`, over now, had not been over within QUIET_SECONDS
        (observer thread, lock held)."""
        last = self._ended.get(path, -math.inf)
        self._ended[path] = now
        if len(self._ended) > ENDINGS_KEPT:
            self._ended = {p: t for p, t in self._ended.items() if now - t < QUIET_SECONDS}
        return now - last >= QUIET_SECONDS

    def _folder_event(self) -> None:
        """Called on the observer thread: the folder or a subfolder came or went: rescan now."""
        with self._cond:
            self._next_scan = 0.0
            self._cond.notify_all()

    # --- worker thread ---------------------------------------------------------------------

    def run(self) -> None:
        """The worker thread. Whatever a file makes it raise only gets that file skipped, and an
        unexpected error is logged and the loop goes on: a dead thread would freeze the show."""
        while True:
            with self._cond:
                while not self.stopping.is_set():
                    now = time.monotonic()
                    due = [p for p, item in self._pending.items() if item.due <= now]
                    if due or now >= self._next_scan:
                        break
                    wake = min([i.due for i in self._pending.values()] + [self._next_scan])
                    self._cond.wait(wake - now)
                if self.stopping.is_set():
                    return
                work = [(p, self._pending.pop(p)) for p in due]
            if time.monotonic() >= self._next_scan:
                self._rescan_safely()
            for path, item in work:
                self._examine_safely(path, item)

    def _rescan_safely(self) -> None:
        try:
            self._rescan()
        except Exception as error:
            self.errors.report("the folder watcher (rescanning)", error)
            with self._cond:
                self._next_scan = time.monotonic() + self._rescan_every()

    def _rescan_every(self) -> float:
        return IDLE_RESCAN_SECONDS if self._idle else RESCAN_SECONDS

    def _examine_safely(self, path: Path, item: _Pending) -> None:
        try:
            self._examine(path, item)
        except Exception as error:
            name = self._name(path)
            self.errors.report("the folder watcher (examining a file)", error)
            signature = _signature(path) or (0, 0)
            reason = f"cannot examine it ({type(error).__name__}: {printable(str(error))})"
            self._drop(path, name, signature, reason)

    def _rescan(self) -> None:
        """Compare the folder with what is known: the start, and the net for lost events."""
        identity = scan.identity(self.folder)
        if self._events is not None and identity != self._watched:
            self._unwatch()
            if identity is not None:
                log.info("Image folder %s was replaced: watching the new one", self._shown())
        if identity is not None and self._events is None:
            self._watch(identity)
        exists = identity is not None
        found = self._list_files() if exists else {}
        self._on_schedule()
        first_look = exists and not self._folder_exists
        with self._cond:
            self._next_scan = time.monotonic() + (
                self._rescan_every() if self._events is not None else MISSING_POLL_SECONDS
            )
            gone = (self._slides.keys() | self._skipped.keys()) - found.keys()
            changed = [self._forget(path) for path in gone].count(True) > 0
            if not exists and self._folder_exists is not False:
                self._folder_exists = False
                changed = True
                log.warning("Image folder %s is missing: waiting for it to appear", self._shown())
        now = time.time()
        for path in sorted(found, key=lambda p: natural_key(self._name(p))):
            signature = found[path]
            settled = first_look or now - signature[0] / 1e9 >= SETTLE_SECONDS
            item = _Pending(0.0, settled, None if settled else signature, not first_look)
            if settled:
                self._examine_safely(path, item)
            else:
                with self._cond:
                    self._pending.setdefault(path, item)
        if first_look:
            with self._cond:
                self._folder_exists = True
                slides = sum(slide.pages for slide in self._slides.values())
                skipped = len(self._skipped)
            log.info("Watching %s: %d slides, %d skipped", self._shown(), slides, skipped)
            changed = True
        if changed:
            self._on_change()

    def _list_files(self) -> dict[Path, tuple[int, int]]:
        return scan.list_files(self.folder, self.recursive, self._follow)

    def _examine(self, path: Path, item: _Pending) -> None:
        """Decide what one changed path is now: a slide, skipped, pending, or gone."""
        name = self._name(path)
        if name == SCHEDULE_FILE:
            self._on_schedule()
            return
        if is_ignored(name):
            return
        try:
            info = path.stat()
        except OSError:
            info = None
        linked_folder = (
            info is not None and stat.S_ISDIR(info.st_mode) and self.recursive and path.is_symlink()
        )
        if info is None or not (stat.S_ISREG(info.st_mode) or linked_folder):
            self._gone(path)
            return
        signature = (info.st_mtime_ns, info.st_size)
        outside = scan.outside(path, self.folder, self._follow)
        if outside is not None:
            self._drop(path, name, signature, outside)
            return
        if linked_folder:
            self._gone(path)
            return
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
            retry = self._retry_at.get(path, math.inf) <= time.monotonic()
        if (slide and (slide.mtime_ns, slide.size) == signature) or (
            skipped and skipped[0] == signature and not retry
        ):
            return
        try:
            found = probe_file(path)
        except Exception as error:
            if _signature(path) != signature:
                return  # rewritten while it was read: its own events bring it back
            if item.burst:
                with self._cond:
                    again = _Pending(time.monotonic() + QUIET_SECONDS, True, None, item.announce)
                    self._pending.setdefault(path, again)
                    self._cond.notify_all()
                return
            reason = (
                str(error)
                if isinstance(error, UnreadableImage)
                else f"cannot read it ({type(error).__name__}: {printable(str(error))})"
            )
            self._refuse(path, name, signature, item, reason)
            return
        new = Slide(path, name, *signature, found.kind, found.pages, seconds=found.seconds)
        with self._cond:
            self._skipped.pop(path, None)
            self._retry_at.pop(path, None)
            old = self._slides.get(path)
            self._slides[path] = new
        if item.announce and old is None:
            log.info("Slide added: %s (%s)", printable(name), _described(found))
            self._on_arrival(path)
        elif item.announce:
            self._log_change(path, name, found)
        self._on_change()

    def _log_change(self, path: Path, name: str, found: Probe) -> None:
        """Log that a slide changed, once a minute at most for a file, saying how often it
        changed since its last line: a file rewritten all the time would fill the log (worker
        thread)."""
        times = self._unlogged.pop(path, 0) + 1
        if not self._change_lines(str(path)):
            self._unlogged[path] = times
            return
        often = f", {times} times since its last line" if times > 1 else ""
        log.info("Slide changed: %s (%s)%s", printable(name), _described(found), often)

    def _gone(self, path: Path) -> None:
        """`path` is no longer a file to show (worker thread)."""
        with self._cond:
            changed = self._forget(path)
        if changed:
            self._on_change()

    def _refuse(
        self, path: Path, name: str, signature: tuple[int, int], item: _Pending, reason: str
    ) -> None:
        young = time.time() - signature[0] / 1e9 < YOUNG_SECONDS
        if young and not item.complete:
            with self._cond:
                self._pending[path] = _Pending(
                    time.monotonic() + self._settle, False, signature, item.announce
                )
                self._cond.notify_all()
            return
        self._drop(path, name, signature, reason)

    def _drop(self, path: Path, name: str, signature: tuple[int, int], reason: str) -> None:
        """Skip `path` for `reason`, taking it out of the show if it was in (worker thread)."""
        with self._cond:
            had_slide = self._slides.pop(path, None) is not None
            self._skip(path, name, signature, reason)
        if had_slide:
            self._on_change()

    def _skip(self, path: Path, name: str, signature: tuple[int, int], reason: str) -> None:
        """Record a skipped file (lock held); logged once per change of the file."""
        if self._skipped.get(path) != (signature, reason):
            log.warning("Skipped %s: %s", printable(name), printable(reason))
        self._skipped[path] = (signature, reason)

    def _forget(self, path: Path) -> bool:
        """Drop a path that is gone (lock held); True if a slide left the show."""
        self._pending.pop(path, None)
        self._skipped.pop(path, None)
        self._retry_at.pop(path, None)
        self._unlogged.pop(path, None)
        slide = self._slides.pop(path, None)
        if slide is not None:
            log.info("Slide removed: %s", printable(slide.name))
        return slide is not None

    def _name(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return path.name

    @property
    def _follow(self) -> bool:
        """Whether links are followed wherever they lead."""
        return self.follow_symlinks == "all"

    def _shown(self) -> str:
        """The folder as log lines show it."""
        return printable(str(self.folder))

    def _watch(self, identity: tuple[int, int]) -> None:
        events = FolderEvents(self.folder, self.recursive, self._file_event, self._folder_event)
        if not events.start():
            return
        self._events, self._watched = events, identity
        self._settle = SAFETY_SETTLE_SECONDS if events.reports_closes else SETTLE_SECONDS

    def _unwatch(self, timeout: float = STOP_SECONDS) -> None:
        if self._events is not None:
            self._events.stop(timeout)
            self._events, self._watched = None, None


def _signature(path: Path) -> tuple[int, int] | None:
    """The file's mtime and size now, or None when it cannot be looked at."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _described(found: Probe) -> str:
    """What a log line says of a new slide."""
    if found.kind == "document":
        return f"{found.pages} page{'s' if found.pages != 1 else ''}"
    if found.kind == "web":
        return "a web page"
    size = f"{found.width}×{found.height}"
    if found.kind == "video":
        return f"{size} clip" + (f", {found.seconds:.1f} s" if found.seconds else "")
    return f"{size}, animated" if found.kind == "animation" else size
