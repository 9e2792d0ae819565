"""Applies edits of config.toml while the server runs, keeping the last good settings on error.

It watches the config file's *folder* (editors save by writing a new file and renaming it over
the old one, which a watch on the file itself would lose), and also compares the file's size and
mtime every `POLL_SECONDS` in case an event is lost.

A reload whose file lacks the [server] token keeps the token in force: an editor saving in
place passes through states that parse but lack it, and so does a save cut short by a full
disk. Only `token = ""` takes it away.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from .config import (
    ConfigError,
    Settings,
    declares_no_token,
    read_config,
    replaced_everywhere,
    settings_from_bytes,
)
from .supervise import STOP_SECONDS, Worker

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.1
"""Editors write in several steps; read once they are done."""
POLL_SECONDS = 2.0

OnChange = Callable[[Settings, Settings], None]


Stamp = tuple[int, int] | None
"""The file's mtime and size, None if it cannot be seen."""


def removes_token(old: Settings, new: Settings) -> bool:
    """Whether `new` opens what `old` protects; a change to another token does not."""
    return old.server.token is not None and new.server.token is None


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """Every `table.key` whose value differs, then each channel added, removed or changed and
    each TV moved, for the log."""
    changes = []
    for table in fields(Settings):
        before, after = getattr(old, table.name), getattr(new, table.name)
        if table.name in ("channels", "tvs"):
            continue
        for key in fields(before):
            if getattr(before, key.name) != getattr(after, key.name):
                changes.append(f"{table.name}.{key.name}")
    channels_before, channels_after = dict(old.channels), dict(new.channels)
    for name in sorted(channels_before.keys() | channels_after.keys()):
        if name not in channels_after:
            changes.append(f"channels.{name} (removed)")
        elif name not in channels_before:
            changes.append(f"channels.{name} (added)")
        elif channels_before[name] != channels_after[name]:
            changes.append(f"channels.{name}")
    tvs_before, tvs_after = dict(old.tvs), dict(new.tvs)
    changes += [
        f"tvs.{tv}"
        for tv in sorted(tvs_before.keys() | tvs_after.keys())
        if tvs_before.get(tv) != tvs_after.get(tv)
    ]
    return changes


class ConfigWatcher(Worker):
    """Holds the current settings and the last reload error.

    `start` and `stop` are called by the server; `on_change(old, new)` is called on the
    watcher's own thread after a successful reload that changed something.
    """

    def __init__(self, path: Path, settings: Settings, on_change: OnChange) -> None:
        super().__init__("config-watcher")
        self.path = path.resolve()
        self._settings = settings
        self._on_change = on_change
        self._error: str | None = None
        self._cond = threading.Condition()
        self._due: float | None = None
        self._stamp = self._file_stamp()
        self._observer: BaseObserver | None = None
        self._reload_lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def error(self) -> str | None:
        return self._error

    def start(self) -> None:
        """Start the watchdog observer, then the watcher thread."""
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
        super().start()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop the watcher thread, then the watchdog observer, each wait bounded by
        `timeout`."""
        stopped = super().stop(timeout)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        return stopped

    def wake(self) -> None:
        """Ends the watcher thread's wait for a due reload or the next poll."""
        with self._cond:
            self._cond.notify_all()

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

    def run(self) -> None:
        """The watcher thread: waits for a due reload or the next poll. An unexpected error is
        logged with its traceback and watching goes on: a dead thread would never reload again."""
        next_poll = time.monotonic() + POLL_SECONDS
        while True:
            with self._cond:
                while not self.stopping.is_set():
                    now = time.monotonic()
                    if (self._due is not None and now >= self._due) or now >= next_poll:
                        break
                    wake = next_poll if self._due is None else min(self._due, next_poll)
                    self._cond.wait(wake - now)
                if self.stopping.is_set():
                    return
                forced, self._due = self._due is not None, None
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + POLL_SECONDS
            try:
                stamp = self._file_stamp()
                if forced or stamp != self._stamp:
                    self._stamp = stamp
                    self.reload()
            except Exception as error:
                self.errors.report("the config watcher", error)

    def reload(self) -> None:
        """Read the file again; apply it if valid, else keep the old settings and say why.

        Called on the watcher thread, and on the main thread for SIGHUP: one at a time."""
        with self._reload_lock:
            self._reload()

    def _reload(self) -> None:
        try:
            data = read_config(self.path)
            new = settings_from_bytes(self.path, data)
        except ConfigError as error:
            if str(error) != self._error:
                log.error("Config not applied, keeping the last good settings: %s", error)
            self._error = str(error)
            return
        if self._error is not None:
            log.info("Config is valid again")
            self._error = None
        if removes_token(self._settings, new):
            if declares_no_token(data):
                log.warning('Config says [server] token = "": the server is open to everyone')
            else:
                new = replaced_everywhere(
                    new, server=replace(new.server, token=self._settings.server.token)
                )
                log.warning(
                    "Config has no [server] token: the one in force is kept; to run without "
                    'one, write token = "" under [server]'
                )
        self._apply(new)

    def _apply(self, new: Settings) -> None:
        old, self._settings = self._settings, new
        changes = changed_keys(old, new)
        if changes:
            log.info("Config reloaded: %s changed", ", ".join(changes))
            self._on_change(old, new)

    def _file_stamp(self) -> Stamp:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size
