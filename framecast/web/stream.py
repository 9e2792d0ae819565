"""The multipart stream of one TV, on its HTTP thread: the headers, then the fan-out thread
writes the frames while this thread follows the stream's channel, which may change under it (a
`[tvs]` edit) or disappear and come back (a `[channels]` edit), and watches for the TV leaving.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

from ..config import DEFAULT_CHANNEL
from ..hub import FrameHub
from . import mjpeg
from .fanout import FanOut, FanOutStream
from .responses import NO_STORE
from .viewers import OpenStreams, Viewer, Viewers

log = logging.getLogger(__name__)

STREAM_HEADERS = {**NO_STORE, "X-Accel-Buffering": "no"}
MAX_STREAM_ID = 64
HANG_UP_CHECK_SECONDS = 1.0
"""Also how soon a stream notices that its channel changed."""
RETRY_AFTER_SECONDS = 10
RELAY_READ_BYTES = 1 << 20

MAX_DELAY_MS = 2000
"""The most a page may hold its picture back (`?delay=`) to line it up with its sound."""

Resolve = Callable[[], tuple[str, FrameHub]]
"""The channel a stream shows now, and its hub."""


def picture_delay(text: str) -> float:
    """Seconds from a page's `?delay=` milliseconds: whole digits, capped at `MAX_DELAY_MS`;
    anything else is no delay (a TV's stream must not fail on it)."""
    if not (text.isascii() and text.isdigit()):
        return 0.0
    if len(text) > len(str(MAX_DELAY_MS)):
        return MAX_DELAY_MS / 1000
    return min(int(text), MAX_DELAY_MS) / 1000


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
    sock: socket.socket | None,
    client_timeout: float,
    fanout: FanOut,
    viewer: Viewer,
    viewers: Viewers,
    open_streams: OpenStreams,
    stream_id: str,
    delay: float = 0.0,
) -> Iterator[bytes]:
    """The multipart body for one client; runs on that client's HTTP thread.

    After the first part's headers the fan-out thread writes the frames to `sock`, each
    `delay` seconds after it was published. Without a socket of the client's (Flask's test
    client gives none) the frames come through a socket pair and are yielded here. Ends when
    the client goes, stops reading for `client_timeout`, or its hub closes at shutdown.
    """
    watching = Watching()
    open_streams.add(stream_id)
    viewers.add(viewer)
    relay: socket.socket | None = None
    if sock is None:
        sock, relay = socket.socketpair()
        relay.settimeout(HANG_UP_CHECK_SECONDS)
    stream: FanOutStream | None = None
    try:
        channel, hub = resolve()
        watching.follow(hub)
        viewer.channel = channel
        log.info("Client %s connected (%d watching)%s", viewer.address, hub.clients, _on(channel))
        yield mjpeg.PART_HEADERS
        stream = FanOutStream(sock, hub, viewer, delay, client_timeout)
        fanout.add(stream)
        while not stream.ended.is_set():
            channel, hub = resolve()
            if watching.follow(hub):
                if channel != viewer.channel:
                    log.info(
                        "Client %s moved from %s to %s", viewer.address, viewer.channel, channel
                    )
                viewer.channel = channel
                fanout.move(stream, hub)
            if hub.closed or viewer.ended.is_set() or stream.client_left():
                return
            if relay is None:
                stream.ended.wait(HANG_UP_CHECK_SECONDS)
            else:
                with contextlib.suppress(TimeoutError):
                    yield relay.recv(RELAY_READ_BYTES)
    finally:
        if stream is not None:
            fanout.remove(stream)
        if relay is not None:
            relay.close()
            sock.close()
        left = watching.hub
        watching.leave()
        viewers.remove(viewer)
        open_streams.remove(stream_id)
        watching_now = left.clients if left is not None else 0
        log.info(
            "Client %s left (%d watching)%s", viewer.address, watching_now, _on(viewer.channel)
        )


def _on(channel: str) -> str:
    """Where a client watches, for the log: nothing for the default channel."""
    return "" if channel == DEFAULT_CHANNEL else f" on channel {channel}"
