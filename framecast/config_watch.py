"""Applies edits of config.toml while the server runs, keeping the last good settings on error.

It watches the config file's *folder* (editors save by writing a new file and renaming it over
the old one, which a watch on the file itself would lose), and also compares the file's size and
mtime every `POLL_SECONDS` in case an event is lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from .config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1
"""Editors write in several steps; read once they are done."""
POLL_SECONDS = 2.0

OnChange = Callable[[Settings, Settings], None]


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Every `table.key` whose value differs, for the log."""
    changes = []
    for table in fields(Settings):
        before, after = getattr(old, table.name), getattr(new, table.name)
        for key in fields(before):
            if getattr(before, key.name) != getattr(after, key.name):
                changes.append(f"{table.name}.{key.name}")
    return changes


class ConfigWatcher:
    """Holds the current settings and the last reload error.

    `start` and `stop` are called by the server; `on_change(old, new)` is called on the
    watcher's own thread after a successful reload that changed something.
    """

    def __init__(self, path: Path, settings: Settings, on_change: OnChange) -> None:
        self.path = path.resolve()
        self._settings = settings
        self._on_change = on_change
        self._error: str | None = None
        self._cond = threading.Condition()
        self._due: float | None = None
        self._stopping = False
        self._stamp = self._file_stamp()
        self._observer: BaseObserver | None = None
        self._thread = threading.Thread(target=self._run, name="config-watcher", daemon=True)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def error(self) -> str | None:
        return self._error

    def start(self) -> None:
        observer = Observer()
        handler = FileSystemEventHandler()
        handler.on_any_event = self._event  # type: ignore[method-assign]
        try:
            observer.schedule(handler, str(self.path.parent), recursive=False)
            observer.start()
            self._observer = observer
        except OSError as error:
            log.warning(
                "Cannot watch %s (%s): checking it every %gs", self.path, error, POLL_SECONDS
            )
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()

    def _event(self, event: FileSystemEvent) -> None:
        """Called on the watchdog observer thread."""
        paths = {event.src_path, event.dest_path} - {""}
        if self.path not in {Path(os.fsdecode(p)) for p in paths}:
            return
        if event.event_type in ("opened", "closed_no_write"):
            return
        with self._cond:
            self._due = time.monotonic() + DEBOUNCE_SECONDS
            self._cond.notify_all()

    def _run(self) -> None:
        """The watcher thread: waits for a due reload or the next poll."""
        next_poll = time.monotonic() + POLL_SECONDS
        while True:
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if (self._due is not None and now >= self._due) or now >= next_poll:
                        break
                    wake = next_poll if self._due is None else min(self._due, next_poll)
                    self._cond.wait(wake - now)
                if self._stopping:
                    return
                forced, self._due = self._due is not None, None
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
            stamp = self._file_stamp()
            if forced or stamp != self._stamp:
                self._stamp = stamp
                self.reload()

    def reload(self) -> None:
        """Read the file again; apply it if valid, else keep the old settings and say why."""
        try:
            new = load_settings(self.path)
        except ConfigError as error:
            if str(error) != self._error:
                log.error("Config not applied, keeping the last good settings: %s", error)
            self._error = str(error)
            return
        if self._error is not None:
            log.info("Config is valid again")
            self._error = None
        old, self._settings = self._settings, new
        changes = changed_keys(old, new)
        if changes:
            log.info("Config reloaded: %s changed", ", ".join(changes))
            self._on_change(old, new)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size
