"""One frame as a Redis stream entry, and back: the JPEG bytes with what an edge needs to serve
it and to say how late it came."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ..hub import Frame


@dataclass(frozen=True)
class RemoteFrame:
    """A frame as an edge reads it from the origin's stream."""

    jpeg: bytes
    seq: int
    width: int
    height: int
    standing: bool
    sent: float
    """The origin's wall-clock time when the frame was published into its hub."""


def entry(frame: Frame) -> dict[str, bytes | int | str]:
    """The fields of one stream entry (the origin's publisher thread). `sent` is the frame's
    publish time on the origin's wall clock, so an edge can tell its lag."""
    sent = time.time() - (time.monotonic() - frame.published_at)
    return {
        "jpeg": frame.jpeg,
        "seq": frame.seq,
        "width": frame.width,
        "height": frame.height,
        "standing": int(frame.standing),
        "sent": repr(sent),
    }


def parse(fields: dict[bytes, bytes]) -> RemoteFrame:
    """A stream entry's fields as a frame (an edge's subscriber thread); KeyError or ValueError
    for an entry that is not a frame, or whose bytes are not a JPEG of the size it states."""
    frame = RemoteFrame(
        jpeg=fields[b"jpeg"],
        seq=int(fields[b"seq"]),
        width=int(fields[b"width"]),
        height=int(fields[b"height"]),
        standing=fields[b"standing"] == b"1",
        sent=float(fields[b"sent"]),
    )
    _check_jpeg(frame)
    return frame


def _check_jpeg(frame: RemoteFrame) -> None:
    """Only the header is read: a TV is never sent bytes that no browser would show as this
    frame, and reading it costs next to nothing."""
    try:
        with Image.open(io.BytesIO(frame.jpeg), formats=["JPEG"]) as image:
            size = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise ValueError("the bytes are not a JPEG") from None
    if size != (frame.width, frame.height):
        raise ValueError(
            f"the JPEG is {size[0]}×{size[1]}, the entry says {frame.width}×{frame.height}"
        )
