"""`--role edge`: a server with no shows of its own, serving every channel of the origin from
Redis. It owns its threads (the frame reader and the beat) as `Framecast` owns the shows'."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace

import redis
from flask import Flask

from ..config import ServerSettings
from ..control import Unreachable
from ..status import ServerStatus
from ..web import create_app
from .edge_channels import EdgeChannels
from .heartbeat import EdgeBeat
from .link import CONTROL, CONTROL_KEPT, RelayLink, append
from .remote import RemoteSettings
from .signing import Refusals
from .subscriber import FrameSubscriber

log = logging.getLogger(__name__)


class Edge:
    """Built, started and stopped by the server's main thread; `status` and `health` are read
    by HTTP threads. `watcher` holds the settings, as `Framecast.watcher` does."""

    def __init__(self, link: RelayLink, server: ServerSettings, port: int) -> None:
        self.host = server.host
        self._link = link
        self.edge_id = f"{socket.gethostname()}:{port}"
        self._refusals = Refusals()
        self.watcher = RemoteSettings(link, server, self._refusals)
        self.channels = EdgeChannels(lambda: self.watcher.settings, self._send, self._wake)
        self._beat = EdgeBeat(
            link, self.edge_id, f"{server.host}:{port}", self.watcher, self.channels
        )
        self._frames = FrameSubscriber(
            link, self.channels.names, self.channels, self.watcher.heard, self._refusals
        )
        self.app: Flask = create_app(
            self.channels, self.status, lambda: self.watcher.settings, self.health
        )
        self._started = time.monotonic()

    def start(self) -> None:
        self.watcher.reload()
        self._frames.start()
        self._beat.start()

    def stop(self) -> None:
        self.channels.close()
        self._frames.stop()
        self._beat.stop()

    def status(self) -> ServerStatus:
        """The origin's status as last read, for this edge's channels, with this edge's own
        part under `edge`."""
        origin = self.watcher.origin_status()
        told = ServerStatus.from_json(origin.get("status") or {})
        edge = {
            **self._beat.heartbeat(),
            "origin": origin.get("origin"),
            "origin_silent_s": round(self.watcher.silent_for(), 1),
            "redis_error": self._frames.link.error or self._beat.link.error,
            "settings_error": self.watcher.error,
            "refused": self._refusals.counts(),
        }
        return replace(
            told,
            channels={name: told.channels.get(name, {}) for name in self.channels.names()},
            uptime_s=time.monotonic() - self._started,
            parts={**told.parts, "edge": edge},
        )

    def health(self) -> str | None:
        """An edge cut off from the origin still serves its last frames: not a fault to restart
        it for."""
        return None

    def warn_if_exposed(self) -> None:
        """An edge shows no screen of its own machine: nothing to warn of."""

    def _send(self, fields: dict[str, str]) -> None:
        """A command for the origin (HTTP thread); Unreachable while Redis does not answer."""
        signed = self._link.signer.sign_fields(CONTROL, {**fields, "edge": self.edge_id})
        try:
            append(self._link.client, CONTROL, signed, CONTROL_KEPT)
        except redis.RedisError:
            raise Unreachable("the origin cannot be reached: its Redis does not answer") from None

    def _wake(self) -> None:
        self._beat.wake()
