"""Who watches: every connected stream, by address, TV and channel, for `/status` and for the
cap on streams per address; and which page-chosen stream ids are connected now."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


class OpenStreams:
    """Which page-chosen stream ids are connected now, so a page can tell its stream was cut."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: Counter[str] = Counter()

    def add(self, stream_id: str) -> None:
        with self._lock:
            self._ids[stream_id] += 1

    def remove(self, stream_id: str) -> None:
        with self._lock:
            self._ids[stream_id] -= 1
            if self._ids[stream_id] <= 0:
                del self._ids[stream_id]

    def __contains__(self, stream_id: str) -> bool:
        with self._lock:
            return stream_id in self._ids


@dataclass
class Viewer:
    """One connected stream, for `/status`: who watches what, since when, how much was sent
    (counted by the fan-out thread as it sends)."""

    address: str
    user_agent: str
    tv: str | None
    channel: str
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    frames: int = 0
    bytes: int = 0
    ended: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set when a newer stream from the same address takes this one's place."""

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "user_agent": self.user_agent,
            "tv": self.tv,
            "connected_since": self.since,
            "frames": self.frames,
            "bytes": self.bytes,
        }


class Viewers:
    """Every connected stream; added and removed by its own HTTP thread, read for `/status`.

    An address holds at most `per_address()` streams: a newer one ends its oldest, which is
    what a TV in a reload loop leaves behind (its newest stream is the one it shows). Loopback
    addresses are not capped: behind a reverse proxy on this machine every TV has one."""

    def __init__(self, per_address: Callable[[], int] = lambda: 1_000_000) -> None:
        self._lock = threading.Lock()
        self._viewers: list[Viewer] = []
        self._per_address = per_address

    def add(self, viewer: Viewer) -> None:
        limit = self._per_address() if _capped(viewer.address) else 1_000_000
        with self._lock:
            same = [
                v for v in self._viewers if v.address == viewer.address and not v.ended.is_set()
            ]
            ended = same[: max(0, len(same) + 1 - limit)]
            for old in ended:
                old.ended.set()
            self._viewers.append(viewer)
        if ended:
            log.warning(
                "Client %s opened stream %d of its own: ended its oldest "
                "([server] max_streams_per_address = %d)",
                viewer.address,
                len(same) + 1,
                limit,
            )

    def remove(self, viewer: Viewer) -> None:
        with self._lock:
            self._viewers.remove(viewer)

    def count(self) -> int:
        with self._lock:
            return len(self._viewers)

    def of(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [v.as_json() for v in self._viewers if v.channel == channel]

    def tvs(self) -> list[str]:
        """The ids of the TVs connected now."""
        with self._lock:
            return sorted({v.tv for v in self._viewers if v.tv is not None})


def _capped(address: str) -> bool:
    """Whether streams from `address` count against the per-address cap: not from this machine,
    also as an IPv4 address seen by a server listening on `::` (`::ffff:127.0.0.1`)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return not parsed.is_loopback
