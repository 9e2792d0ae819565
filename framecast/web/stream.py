"""The multipart stream of one TV: the current frame at once, each newer one, and the current
one again after a silence; it follows its channel, which may change under it (a `[tvs]` edit)
or disappear and come back (a `[channels]` edit), on the same connection.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import select
import socket
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import DEFAULT_CHANNEL
from ..hub import Frame, FrameHub
from . import mjpeg
from .guard import NO_STORE

log = logging.getLogger("framecast.web")

STREAM_HEADERS = {**NO_STORE, "X-Accel-Buffering": "no"}
MAX_STREAM_ID = 64
HANG_UP_CHECK_SECONDS = 1.0
"""Also how soon a stream notices that its channel changed."""
RETRY_AFTER_SECONDS = 10
SMALL_SEND_BUFFER = 64 * 1024
LARGE_SEND_BUFFER = 512 * 1024
SLOW_WRITE_SECONDS = 0.1
QUICK_WRITE_SECONDS = 0.02
QUICK_WRITES_FOR_LARGE = 30

MAX_DELAY_MS = 2000
"""The most a page may hold its picture back (`?delay=`) to line it up with its sound."""

Resolve = Callable[[], tuple[str, FrameHub]]
"""The channel a stream shows now, and its hub."""


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


class SharedParts:
    """The wire bytes of each channel's newest frame, built once and shared by every client's
    thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: weakref.WeakKeyDictionary[FrameHub, tuple[int, bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, hub: FrameHub, frame: Frame) -> bytes:
        with self._lock:
            seq, part = self._parts.get(hub, (-1, b""))
            if frame.seq == seq:
                return part
            if frame.seq < seq:
                return mjpeg.part(frame.jpeg)
            part = mjpeg.part(frame.jpeg)
            self._parts[hub] = (frame.seq, part)
            return part


@dataclass
class Viewer:
    """One connected stream, for `/status`: who watches what, since when, how much was sent."""

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

    def of(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [v.as_json() for v in self._viewers if v.channel == channel]

    def tvs(self) -> list[str]:
        """The ids of the TVs connected now."""
        with self._lock:
            return sorted({v.tv for v in self._viewers if v.tv is not None})


class StreamSocket:
    """What one stream's HTTP thread needs of its client's socket.

    A send that blocks for `client_timeout` ends the stream (the TV is gone without a TCP
    close). The kernel send buffer is sized by how the client keeps up: at first room for the
    first frame, so it leaves in one write while the client has not yet shown its
    speed; small once it lags, so the kernel cannot queue seconds of old frames for it; large
    once it takes every frame at once, which costs fewer wake-ups per frame.
    """

    def __init__(self, sock: socket.socket | None, client_timeout: float) -> None:
        self._sock = sock
        self._writes = 0
        self._quick_writes = 0
        self._buffer = 0
        if sock is not None:
            sock.settimeout(client_timeout)

    def hung_up(self) -> bool:
        """Whether the client closed its end: a stream client sends nothing after its request,
        so a readable socket means end of file. Without this a TV switched off would only be
        noticed at the next write, up to a whole keepalive later."""
        if self._sock is None:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            return bool(readable) and self._sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def writing(self, part_bytes: int) -> None:
        """A frame of `part_bytes` is about to be written: the first gets room to leave at once."""
        if not self._writes:
            self._resize(max(part_bytes, SMALL_SEND_BUFFER))

    def wrote(self, seconds: float) -> None:
        """One frame took `seconds` to write. After the first the buffer is small until the
        client has taken `QUICK_WRITES_FOR_LARGE` frames in a row at once."""
        self._writes += 1
        if seconds >= SLOW_WRITE_SECONDS or self._writes == 1:
            self._quick_writes = 0
            self._resize(SMALL_SEND_BUFFER)
        elif seconds < QUICK_WRITE_SECONDS:
            self._quick_writes += 1
            if self._quick_writes >= QUICK_WRITES_FOR_LARGE:
                self._resize(LARGE_SEND_BUFFER)

    def _resize(self, size: int) -> None:
        if self._sock is None or size == self._buffer:
            return
        self._buffer = size
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def picture_delay(text: str) -> float:
    """Seconds from a page's `?delay=` milliseconds: whole digits, capped at `MAX_DELAY_MS`;
    anything else is no delay (a TV's stream must not fail on it)."""
    if not (text.isascii() and text.isdigit()):
        return 0.0
    if len(text) > len(str(MAX_DELAY_MS)):
        return MAX_DELAY_MS / 1000
    return min(int(text), MAX_DELAY_MS) / 1000


class DelayLine:
    """A TV's picture held back by `delay` seconds, to reach its screen with its sound (which a
    browser plays later than it shows an image). Frames wait in the order they were published,
    at most `delay` seconds' worth; a frame due while a newer one is also due is skipped, as a
    slow client skips. Used by one stream's HTTP thread."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._waiting: deque[Frame] = deque()
        self._seen = 0

    def clear(self) -> None:
        self._waiting.clear()
        self._seen = 0

    def wait_newer(self, hub: FrameHub, after_seq: int, timeout: float) -> Frame | None:
        """Like `hub.wait_newer`, for frames `delay` seconds after they were published."""
        if not self.delay:
            return hub.wait_newer(after_seq, timeout)
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            due: Frame | None = None
            while self._waiting and self._waiting[0].published_at + self.delay <= now:
                due = self._waiting.popleft()
            if due is not None and due.seq > after_seq:
                return due
            if now >= deadline or hub.closed:
                return None
            next_due = self._waiting[0].published_at + self.delay if self._waiting else deadline
            newer = hub.wait_newer(max(self._seen, after_seq), min(deadline, next_due) - now)
            if newer is not None:
                self._seen = newer.seq
                self._waiting.append(newer)


class Watching:
    """The hub one stream is subscribed to, switched when its channel changes (stream thread)."""

    def __init__(self) -> None:
        self.hub: FrameHub | None = None
        self._subscription: contextlib.AbstractContextManager[None] | None = None

    def follow(self, hub: FrameHub) -> bool:
        """Subscribe to `hub` instead of the one before; whether it is a different hub."""
        if hub is self.hub:
            return False
        self.leave()
        self._subscription = hub.subscribe()
        self._subscription.__enter__()
        self.hub = hub
        return True

    def leave(self) -> None:
        if self._subscription is not None:
            self._subscription.__exit__(None, None, None)
            self._subscription = None
        self.hub = None


def stream_body(
    resolve: Resolve,
    keepalive: Callable[[], float],
    client: StreamSocket,
    viewer: Viewer,
    viewers: Viewers,
    open_streams: OpenStreams,
    shared_parts: SharedParts,
    stream_id: str,
    delay: float = 0.0,
) -> Iterator[bytes]:
    """The multipart body for one client; runs on that client's HTTP thread.

    Ends when the client goes (the server closes the iterator) or its hub closes at shutdown.
    With `delay`, each frame is sent that many seconds after it was published.
    """
    watching = Watching()
    open_streams.add(stream_id)
    viewers.add(viewer)
    try:
        channel, hub = resolve()
        watching.follow(hub)
        viewer.channel = channel
        log.info("Client %s connected (%d watching)%s", viewer.address, hub.clients, _on(channel))
        yield mjpeg.PART_HEADERS
        line = DelayLine(delay)
        for hub, frame in _frames(resolve, watching, viewer, keepalive, client.hung_up, line):
            part = shared_parts.of(hub, frame)
            client.writing(len(part))
            started = time.monotonic()
            yield part
            client.wrote(time.monotonic() - started)
            viewer.frames += 1
            viewer.bytes += len(part)
    finally:
        left = watching.hub
        watching.leave()
        viewers.remove(viewer)
        open_streams.remove(stream_id)
        watching_now = left.clients if left is not None else 0
        log.info(
            "Client %s left (%d watching)%s", viewer.address, watching_now, _on(viewer.channel)
        )


def _capped(address: str) -> bool:
    """Whether streams from `address` count against the per-address cap."""
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _on(channel: str) -> str:
    """Where a client watches, for the log: nothing for the default channel."""
    return "" if channel == DEFAULT_CHANNEL else f" on channel {channel}"


def _frames(
    resolve: Resolve,
    watching: Watching,
    viewer: Viewer,
    keepalive: Callable[[], float],
    hung_up: Callable[[], bool],
    line: DelayLine,
) -> Iterator[tuple[FrameHub, Frame]]:
    """The current frame, then each newer one, the same again after `keepalive` of silence;
    the new channel's current frame at once when the stream's channel changes.

    A client that hung up is looked for only in quiet moments: while frames flow, the next
    write fails for it anyway, and a check per frame would cost every stream a system call.
    """
    frame: Frame | None = None
    resend_at = math.inf
    while True:
        channel, hub = resolve()
        if watching.follow(hub):
            if channel != viewer.channel:
                log.info("Client %s moved from %s to %s", viewer.address, viewer.channel, channel)
            viewer.channel = channel
            frame, resend_at = None, math.inf
            line.clear()
        if hub.closed or viewer.ended.is_set():
            return
        wait = max(0.0, min(HANG_UP_CHECK_SECONDS, resend_at - time.monotonic()))
        newer = line.wait_newer(hub, frame.seq if frame else 0, wait)
        if newer is not None:
            frame = newer
        elif hung_up():
            return
        elif frame is None or time.monotonic() < resend_at:
            continue
        resend_at = time.monotonic() + keepalive()
        yield hub, frame
