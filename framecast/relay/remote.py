"""What an edge knows of the origin: its settings and its status as last read from Redis, and
when it last heard from it."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import redis

from ..config import ServerSettings, Settings
from . import settings_wire
from .link import SETTINGS, STATUS, get_bytes

log = logging.getLogger(__name__)


class RemoteSettings:
    """The origin's settings with this edge's own `[server]`. `settings` and `status` are read
    by HTTP threads; `read` is called by the edge's beat thread, and by the main thread at start
    and on SIGHUP (`reload`)."""

    def __init__(self, client: redis.Redis, server: ServerSettings) -> None:
        self._client = client
        self._server = server
        self._lock = threading.Lock()
        self._settings = Settings(server=server)
        self._settings_bytes: bytes | None = None
        self._status_bytes: bytes | None = None
        self._status: dict[str, Any] = {}
        self._heard = time.monotonic()
        """time.monotonic() when the origin's status last changed, or a frame last came (or
        this edge started: silence is counted from then)."""
        self.error: str | None = None

    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def origin_status(self) -> dict[str, Any]:
        with self._lock:
            return self._status

    def heard(self) -> None:
        """The origin was heard from (a frame, on the subscriber thread)."""
        with self._lock:
            self._heard = time.monotonic()

    def silent_for(self) -> float:
        with self._lock:
            return time.monotonic() - self._heard

    def reload(self) -> None:
        """Read the settings again now (SIGHUP); a Redis error is logged."""
        try:
            self.read()
        except redis.RedisError as error:
            log.warning("Cannot read the origin's settings from Redis: %s", error)

    def read(self) -> None:
        """Read the origin's settings and status once; RedisError when Redis cannot be used."""
        settings_bytes, status_bytes = get_bytes(self._client, SETTINGS, STATUS)
        with self._lock:
            if status_bytes is not None and status_bytes != self._status_bytes:
                self._status_bytes = status_bytes
                self._heard = time.monotonic()
                try:
                    status = json.loads(status_bytes)
                except ValueError:
                    status = None
                self._status = status if isinstance(status, dict) else {}
            if settings_bytes is None or settings_bytes == self._settings_bytes:
                return
            self._settings_bytes = settings_bytes
        try:
            settings = settings_wire.decode(settings_bytes, self._server)
        except ValueError as error:
            self.error = str(error)
            log.error("%s: keeping the last settings", error)
            return
        self.error = None
        with self._lock:
            changed = settings != self._settings
            self._settings = settings
        if changed:
            log.info("Settings from the origin: channels %s", ", ".join(settings.shows()))
