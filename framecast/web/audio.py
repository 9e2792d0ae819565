"""The sound of a channel on the wire: an endless WAV (PCM, for the LAN) or MP3 stream.

A listener gets the last second at once, so its player starts at once, then each new block;
one that falls behind skips ahead (the hub's doing), one that stops reading is dropped after
`client_timeout`. Nothing here knows where the sound comes from.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, request

from ..audio.audio_hub import AudioHub
from ..audio.pcm import CHANNELS, FRAME_BYTES, RATE, SAMPLE_BYTES
from .context import client_address, connections, wanted_channel, web
from .player import full
from .responses import refusal
from .stream import STREAM_HEADERS
from .viewers import Viewer, Viewers

log = logging.getLogger(__name__)

MIMETYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
WAIT_SECONDS = 1.0
"""How often a quiet listener's thread looks whether its channel's sound is still on."""
SEND_BUFFER_SECONDS = 0.25
"""The kernel holds at most about this much sound for a listener: a slow link skips instead."""
MIN_SEND_BUFFER = 8 * 1024
UNKNOWN_SIZE = 0xFFFFFFFF
"""The RIFF and data sizes of an endless WAV: players read it as a stream of unknown length."""


sound = Blueprint("sound", __name__)


@sound.get("/audio.<fmt>")
@sound.get("/c/<name>/audio.<fmt>")
def audio(fmt: str, name: str | None = None) -> Response:
    """A listener's sound: the channel's (or its TV's channel's) hub in `fmt`, while it lasts."""
    context = web()
    hubs = context.sound
    channel, tv = wanted_channel(name)
    if fmt not in MIMETYPES:
        abort(404)
    hub = hubs.hub(channel, fmt) if hubs is not None else None
    if hub is None:
        return refusal(404, f"channel {channel} has no sound ([audio] source)")
    current = context.settings()
    address = client_address()
    if connections() >= current.server.max_clients:
        return full("listener", address, current.server.max_clients)
    listener = Viewer(address, request.headers.get("User-Agent", "")[:200], tv, channel)
    prepare_socket(
        request.environ.get("werkzeug.socket"),
        current.server.client_timeout,
        bytes_per_second(fmt, current.audio.bitrate),
    )

    def still_on() -> bool:
        now = context.channels.channel_of(tv) if tv is not None else channel
        return not listener.ended.is_set() and hubs is not None and hubs.hub(now, fmt) is hub

    head = wav_header() if fmt == "wav" else b""
    body = audio_body(hub, head, still_on, address, channel)
    return Response(
        listened(body, listener, context.listeners), mimetype=MIMETYPES[fmt], headers=STREAM_HEADERS
    )


def listened(body: Iterator[bytes], listener: Viewer, listeners: Viewers) -> Iterator[bytes]:
    """`body`, with `listener` counted while it is sent (on the listener's HTTP thread): a
    newer listener from the same address past the cap ends it."""
    listeners.add(listener)
    try:
        yield from body
    finally:
        listeners.remove(listener)


@functools.cache
def wav_header() -> bytes:
    """A canonical 44-byte PCM WAV header with sizes left unknown."""
    fmt = struct.pack(
        "<HHIIHH", 1, CHANNELS, RATE, RATE * FRAME_BYTES, FRAME_BYTES, SAMPLE_BYTES * 8
    )
    return (
        b"RIFF"
        + struct.pack("<I", UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", UNKNOWN_SIZE)
    )


def bytes_per_second(fmt: str, bitrate: int) -> int:
    return RATE * FRAME_BYTES if fmt == "wav" else bitrate * 1000 // 8


def prepare_socket(sock: Any, client_timeout: float, per_second: int) -> None:
    """A listener's socket: a send blocked for `client_timeout` ends it; a small send buffer
    keeps the kernel from queueing seconds of old sound for a slow link."""
    if not isinstance(sock, socket.socket):
        return
    sock.settimeout(client_timeout)
    size = max(MIN_SEND_BUFFER, int(per_second * SEND_BUFFER_SECONDS))
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def audio_body(
    hub: AudioHub, head: bytes, still_on: Callable[[], bool], address: str, channel: str
) -> Iterator[bytes]:
    """The body for one listener, on its HTTP thread: `head`, the last second, then live;
    it ends when the listener goes, the channel's sound is turned off, or at shutdown."""
    with hub.listening():
        log.info(
            "Listener %s connected to the sound of %s (%d listening)",
            address,
            channel,
            hub.listeners,
        )
        try:
            data, seq = hub.recent()
            yield head + data
            while not hub.closed and still_on():
                data, seq = hub.after(seq, WAIT_SECONDS)
                if data:
                    yield data
        finally:
            log.info(
                "Listener %s left the sound of %s (%d listening)",
                address,
                channel,
                hub.listeners - 1,
            )
