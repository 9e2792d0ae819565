"""An edge's one reader of every channel's stream: `XREAD BLOCK` on all of them at once, each
entry into the channel's local hub.

It never works through a backlog: a reply holding several entries of a channel gives only the
last one to the hub; on (re)connecting, and after a reply that came long after it was asked for
(this process was stopped, or starved), it starts again from each stream's newest entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from ..supervise import Worker
from . import wire
from .edge_channels import EdgeChannels
from .link import OnceLog, RelayLink, channel_of_key, frames_key, newest, read_streams
from .signing import Refusals, Unsigned

BLOCK_MS = 500
"""Also how soon a channel added at the origin is read, and a still live frame confirmed."""
LATE_SECONDS = 1.0
"""A reply this much later than the block ended may hold an old frame: read the newest."""
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 5.0


class FrameSubscriber(Worker):
    """`start` and `stop` are called by the edge; `run` runs on the reader's own thread."""

    def __init__(
        self,
        link: RelayLink,
        names: Callable[[], list[str]],
        channels: EdgeChannels,
        heard: Callable[[], None],
        refusals: Refusals,
    ) -> None:
        super().__init__("edge-frames")
        self._client = link.client
        self._signer = link.signer
        self._refusals = refusals
        self._names = names
        self._channels = channels
        self._heard = heard
        self.link = OnceLog("The edge's frame reader")
        self._delivered: dict[str, bytes] = {}
        """The id of the entry each channel's hub has, so a re-read of the newest entry does
        not send TVs the same frame again."""

    def run(self) -> None:
        positions: dict[str, bytes | str] = {}
        retry = FIRST_RETRY_SECONDS
        while not self.stopping.is_set():
            try:
                self._read(positions)
                self.link.back()
                retry = FIRST_RETRY_SECONDS
            except redis.RedisError as error:
                self.link.lost(error)
                positions.clear()
                self.stopping.wait(retry)
                retry = min(MAX_RETRY_SECONDS, retry * 2)

    def _read(self, positions: dict[str, bytes | str]) -> None:
        """One `XREAD BLOCK` over every channel; channels new to this reader start from their
        newest entry."""
        names = self._names()
        for name in list(positions):
            if name not in names:
                del positions[name]
        for name in names:
            if name not in positions:
                positions[name] = self._newest(name)
        asked = time.monotonic()
        reply = read_streams(
            self._client,
            {frames_key(name): position for name, position in positions.items()},
            BLOCK_MS,
        )
        if time.monotonic() - asked > BLOCK_MS / 1000 + LATE_SECONDS:
            positions.clear()
            return
        fresh = set()
        for key, entries in reply:
            name = channel_of_key(key)
            entry_id, fields = entries[-1]
            positions[name] = entry_id
            fresh.add(name)
            self._deliver(name, entry_id, fields)
        for name in positions.keys() - fresh:
            self._channels.confirm(name)

    def _newest(self, name: str) -> bytes | str:
        """The id to read `name`'s stream after, having given its newest entry to the hub."""
        entry = newest(self._client, frames_key(name))
        if entry is None:
            return "0-0"
        self._deliver(name, *entry)
        return entry[0]

    def _deliver(self, name: str, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        if self._delivered.get(name) == entry_id:
            return
        self._delivered[name] = entry_id
        key = frames_key(name)
        try:
            frame = wire.parse(self._signer.check_fields(key, fields))
        except Unsigned:
            self._refusals.refused_unsigned(key)
            return
        except (KeyError, ValueError) as error:
            self._refusals.refused(key, f"not a frame ({error})")
            return
        self._heard()
        self._channels.deliver(name, frame)
