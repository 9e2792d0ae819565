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
from .link import SETTINGS, STATUS, RelayLink, get_bytes
from .signing import Refusals, Unsigned

log = logging.getLogger(__name__)


class RemoteSettings:
    """The origin's settings with this edge's own `[server]`. `settings` and `status` are read
    by HTTP threads; `read` is called by the edge's beat thread, and by the main thread at start
    and on SIGHUP (`reload`)."""

    def __init__(self, link: RelayLink, server: ServerSettings, refusals: Refusals) -> None:
        self._client = link.client
        self._signer = link.signer
        self._refusals = refusals
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
            status_changed = status_bytes is not None and status_bytes != self._status_bytes
            settings_changed = settings_bytes is not None and settings_bytes != self._settings_bytes
            self._status_bytes = status_bytes
            self._settings_bytes = settings_bytes
        if status_changed and status_bytes is not None:
            self._read_status(status_bytes)
        if settings_changed and settings_bytes is not None:
            self._read_settings(settings_bytes)

    def _read_status(self, sealed: bytes) -> None:
        try:
            status = json.loads(self._signer.open(STATUS, sealed))
        except Unsigned:
            self._refusals.refused_unsigned(STATUS)
            return
        except ValueError:
            status = None
        with self._lock:
            self._heard = time.monotonic()
            self._status = status if isinstance(status, dict) else {}

    def _read_settings(self, sealed: bytes) -> None:
        try:
            settings = settings_wire.decode(self._signer.open(SETTINGS, sealed), self._server)
        except Unsigned:
            self.error = "settings in Redis not signed with the shared secret: kept the last"
            self._refusals.refused_unsigned(SETTINGS)
            return
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
