"""The sound of a channel on the wire: an endless WAV (PCM, for the LAN) or MP3 stream.

A listener gets the last second at once, so its player starts at once, then each new block;
one that falls behind skips ahead (the hub's doing), one that stops reading is dropped after
`client_timeout`. Nothing here knows where the sound comes from.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..audio.audio_hub import AudioHub
from ..audio.pcm import CHANNELS, FRAME_BYTES, RATE, SAMPLE_BYTES

log = logging.getLogger(__name__)

MIMETYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
WAIT_SECONDS = 1.0
"""How often a quiet listener's thread looks whether its channel's sound is still on."""
SEND_BUFFER_SECONDS = 0.25
"""The kernel holds at most about this much sound for a listener: a slow link skips instead."""
MIN_SEND_BUFFER = 8 * 1024
UNKNOWN_SIZE = 0xFFFFFFFF
"""The RIFF and data sizes of an endless WAV: players read it as a stream of unknown length."""


class SoundHubs(Protocol):
    """What the web layer needs of the sound: a channel's hub in a format, and its status."""

    def hub(self, channel: str, fmt: str) -> AudioHub | None: ...

    def status(self, channel: str) -> dict[str, Any]: ...


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
