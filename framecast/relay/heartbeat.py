"""An edge's beat thread: every second (and at once when a channel's demand changes here) it
writes the edge's heartbeat, reads the origin's settings and status, and marks the TVs' frames
"offline" when the origin has been silent for `[edge] stale_seconds`."""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import redis

from ..supervise import STOP_SECONDS, Worker
from .edge_channels import EdgeChannels
from .link import (
    BEAT_SECONDS,
    CONTROL,
    CONTROL_KEPT,
    EDGES,
    OnceLog,
    RelayLink,
    append,
    heartbeat_key,
)
from .remote import RemoteSettings

log = logging.getLogger(__name__)


class EdgeBeat(Worker):
    """`start`, `wake` (any thread) and `stop` are called by the edge; `run` runs on the beat
    thread."""

    def __init__(
        self,
        link: RelayLink,
        edge_id: str,
        address: str,
        remote: RemoteSettings,
        channels: EdgeChannels,
    ) -> None:
        super().__init__("edge-beat")
        self.edge_id = edge_id
        self._address = address
        self._client = link.client
        self._signer = link.signer
        self._remote = remote
        self._channels = channels
        self._due = threading.Event()
        self._beats = 0
        self._wants: list[str] = []
        self.stale = False
        self.link = OnceLog("The edge")

    def wake(self) -> None:
        """A channel's demand changed here: tell the origin now, not at the next beat. Also
        ends the beat's sleep when the edge stops it."""
        self._due.set()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop beating, then take this edge off Redis's list of edges."""
        stopped = super().stop(timeout)
        try:
            self._client.hdel(EDGES, self.edge_id)
        except redis.RedisError as error:
            log.info("Could not take this edge off Redis's list: %s", error)
        return stopped

    def heartbeat(self) -> dict[str, Any]:
        """What the origin's `/status` says of this edge."""
        return {
            "id": self.edge_id,
            "address": self._address,
            "pid": os.getpid(),
            "viewers": self._channels.clients(),
            **self._channels.reception.summary(),
            "wants": self._channels.wants(),
            "stale": self.stale,
            "beat": self._beats,
        }

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._beat()
                self.link.back()
            except redis.RedisError as error:
                self.link.lost(error)
            self._check_stale()
            self._due.wait(BEAT_SECONDS)
            self._due.clear()

    def _beat(self) -> None:
        self._beats += 1
        wants = self._channels.wants()
        with self._client.pipeline(transaction=False) as pipe:
            beat = json.dumps(self.heartbeat()).encode()
            pipe.hset(EDGES, self.edge_id, self._signer.seal(heartbeat_key(self.edge_id), beat))
            if wants != self._wants:
                demand = {"kind": "demand", "edge": self.edge_id}
                append(pipe, CONTROL, self._signer.sign_fields(CONTROL, demand), CONTROL_KEPT)
            pipe.execute()
        self._wants = wants
        self._remote.read()

    def _check_stale(self) -> None:
        stale = self._remote.silent_for() > self._remote.settings.edge.stale_seconds
        if stale and not self.stale:
            log.warning(
                "Nothing from the origin for %g s: TVs see the last frame marked offline",
                self._remote.settings.edge.stale_seconds,
            )
        elif self.stale and not stale:
            log.info("The origin is heard again")
        self.stale = stale
        if stale:
            self._channels.mark_offline()
        else:
            self._channels.unmark()
