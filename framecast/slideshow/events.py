"""watchdog's events for one folder and its parent, turned into the two things the folder watch
needs to hear: this file may have changed (and whether its writing is over), and the folder
itself or a subfolder came or went."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

try:
    from watchdog.observers.inotify import InotifyObserver
except ImportError:  # pragma: no cover - not Linux
    InotifyObserver = None  # type: ignore[assignment,misc]

from ..logtext import printable

log = logging.getLogger(__name__)

_HANDLED_EVENTS = {"created", "modified", "closed", "moved", "deleted"}
_PARENT_EVENTS = {"created", "moved", "deleted"}
_COMINGS_AND_GOINGS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]
_INSIDE = [*_COMINGS_AND_GOINGS, FileModifiedEvent, FileClosedEvent]
"""What the kernel is asked to report. Not opens and reads: every rescan, preparation and
neighbouring channel's look at its own folder would wake every watch on the shared parent."""


IDLE_WAKE_SECONDS = 30.0
"""How often an idle observer's dispatch thread wakes (watchdog's default is every second;
stopping it does not wait for this): twenty channels' folders were 20 wake-ups a second."""


def _observer() -> BaseObserver:
    """The platform's observer; on Linux one that reports a file moved in from elsewhere as a
    move (complete at once) rather than as a creation (which waits for a close that never comes)."""
    if InotifyObserver is not None:
        return InotifyObserver(generate_full_events=True, timeout=IDLE_WAKE_SECONDS)
    return Observer()


class FolderEvents:
    """A watchdog observer on `folder` (and on its parent, so that the folder renamed away or
    re-created is heard of).

    `start` and `stop` are called by the folder watch's worker thread (`stop` also by the
    watch's owner, once that thread has ended). On the observer's thread, `on_file(path,
    complete)` is called for a file under the folder that was created, changed, closed, moved
    or deleted (`complete`: the event says its writing is over), and `on_folder()` when the
    folder or a subfolder was created, moved or deleted.
    """

    def __init__(
        self,
        folder: Path,
        recursive: bool,
        on_file: Callable[[Path, bool], None],
        on_folder: Callable[[], None],
    ) -> None:
        self._folder = folder
        self._recursive = recursive
        self._on_file = on_file
        self._on_folder = on_folder
        self._observer = _observer()

    @property
    def reports_closes(self) -> bool:
        """Whether a file's end of writing is reported (inotify), not only guessed from its
        size and mtime holding still."""
        return InotifyObserver is not None and isinstance(self._observer, InotifyObserver)

    def start(self) -> bool:
        """Watch; False (with a log line) when the folder cannot be watched."""
        inside = FileSystemEventHandler()
        inside.on_any_event = self._event  # type: ignore[method-assign]
        try:
            self._observer.schedule(
                inside, str(self._folder), recursive=self._recursive, event_filter=_INSIDE
            )
            self._observer.start()
        except OSError as error:
            log.warning(
                "Cannot watch %s (%s): rescanning it every second",
                printable(str(self._folder)),
                error,
            )
            return False
        parent = self._folder.parent
        if parent != self._folder:
            around = FileSystemEventHandler()
            around.on_any_event = self._parent_event  # type: ignore[method-assign]
            try:
                self._observer.schedule(
                    around, str(parent), recursive=False, event_filter=_COMINGS_AND_GOINGS
                )
            except OSError as error:
                log.info(
                    "Cannot watch %s (%s): a re-created image folder is seen at the next rescan",
                    printable(str(parent)),
                    error,
                )
        return True

    def stop(self, timeout: float) -> None:
        self._observer.stop()
        self._observer.join(timeout)

    def _event(self, event: FileSystemEvent) -> None:
        """Called on the observer thread for every event under the folder."""
        if event.event_type not in _HANDLED_EVENTS:
            return
        if event.is_directory:
            if event.event_type != "modified":
                self._on_folder()
            return
        complete = event.event_type in ("closed", "moved", "deleted")
        for raw in {event.src_path, event.dest_path} - {"", b""}:
            path = Path(os.fsdecode(raw))
            if path.parent == self._folder or self._recursive:
                self._on_file(path, complete)

    def _parent_event(self, event: FileSystemEvent) -> None:
        """Called on the observer thread for events in the folder's parent."""
        if event.event_type not in _PARENT_EVENTS:
            return
        paths = {Path(os.fsdecode(raw)) for raw in {event.src_path, event.dest_path} - {"", b""}}
        if self._folder in paths:
            self._on_folder()
