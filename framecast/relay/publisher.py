"""One channel's frames into its Redis stream, on a thread of its own.

A thread per channel, not one for the app: a `FrameHub` is waited on one at a time, and a
channel whose large frames wait on a slow Redis must not hold back another's. The source
only publishes into its hub; this thread takes the newest frame whenever it is free again, so
a slow Redis costs skipped frames, never a stalled show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from ..hub import Frame, FrameHub
from ..supervise import Worker
from . import wire
from .link import FRAMES_KEPT, BulkLimit, OnceLog, append, frames_key
from .signing import Signer

log = logging.getLogger(__name__)

WAIT_SECONDS = 1.0
"""With no new frame, look this often whether Redis lost the stream (a restarted Redis) and
whether the channel's hub changed (the channel was removed and added again)."""
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 2.0


class ChannelPublisher(Worker):
    """`start` and `stop` are called by the origin; `run` runs on the publisher's own thread."""

    def __init__(
        self,
        client: redis.Redis,
        signer: Signer,
        channel: str,
        hub: Callable[[], FrameHub | None],
        limit: BulkLimit,
    ) -> None:
        super().__init__(f"publish-{channel}")
        self.channel = channel
        self._client = client
        self._signer = signer
        self._hub = hub
        self._limit = limit
        self._key = frames_key(channel)
        self._link = OnceLog(f"Channel {channel}'s publisher")
        self.published = 0
        self.skipped = 0

    def run(self) -> None:
        hub: FrameHub | None = None
        sent = 0
        retry = FIRST_RETRY_SECONDS
        while not self.stopping.is_set():
            now = self._hub()
            if now is None or now.closed:
                self.stopping.wait(WAIT_SECONDS)
                continue
            if now is not hub:
                hub, sent = now, 0
            frame = hub.wait_newer(sent, WAIT_SECONDS)
            try:
                if frame is None:
                    self._restore(hub)
                else:
                    self._publish(frame)
                    sent = frame.seq
                self._link.back()
                retry = FIRST_RETRY_SECONDS
            except redis.RedisError as error:
                self._link.lost(error)
                self.stopping.wait(retry)
                retry = min(MAX_RETRY_SECONDS, retry * 2)

    def _restore(self, hub: FrameHub) -> None:
        """A Redis that restarted has lost the stream: publish the last frame again, or edges
        that connect now would have nothing to show until the slide changes."""
        frame = hub.latest()
        if frame is not None and not self._client.exists(self._key):
            self._publish(frame)

    def _publish(self, frame: Frame) -> None:
        limit = self._limit.bytes
        if len(frame.jpeg) > limit:
            self.skipped += 1
            if self.skipped == 1:
                log.error(
                    "Channel %s: a frame of %d bytes is larger than Redis takes "
                    "(proto-max-bulk-len %d): skipped; further ones are only counted "
                    "(/status: relay.skipped_frames)",
                    self.channel,
                    len(frame.jpeg),
                    limit,
                )
            return
        signed = self._signer.sign_fields(self._key, wire.entry(frame))
        append(self._client, self._key, signed, FRAMES_KEPT)
        self.published += 1
