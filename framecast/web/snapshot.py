"""Snapshots: the current frame of a channel as sent, or converted to another size or format.

Parameters are checked strictly, both sides of every output are capped, conversions of recent
frames are cached (bounded by entries and bytes), and at most `[server] snapshot_workers`
conversions run at once: the rest are refused, so a burst of requests cannot take the memory.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, request

from ..hub import Frame
from ..render.imaging import SNAPSHOT_FORMATS, convert_frame
from .context import client_address, wanted_channel, web
from .responses import NO_STORE, refusal

log = logging.getLogger(__name__)

SNAPSHOT_MAX = (3840, 2160)
DEFAULT_SNAPSHOT_QUALITY = 85
SNAPSHOT_CACHE_ENTRIES = 16
SNAPSHOT_CACHE_BYTES = 32 * 1024 * 1024
SNAPSHOT_BUSY_RETRY_SECONDS = 1
MAX_NUMBER_DIGITS = 6
"""Longer numbers are refused before `int` reads them (and long before Python's own limit)."""
SNAPSHOT_WAIT_SECONDS = 2.0
"""How long a snapshot waits for a live source (the screen) to start and look again."""


class BadParameter(ValueError):
    def __init__(self, name: str, allowed: str) -> None:
        super().__init__(f"{name}: expected {allowed}")
        self.name = name
        self.allowed = allowed


@dataclass(frozen=True)
class SnapshotRequest:
    """What a snapshot request asks for; `key` names it in caches and ETags."""

    size: tuple[int, int]
    fmt: str
    quality: int

    @property
    def key(self) -> str:
        return f"{self.size[0]}x{self.size[1]}-{self.fmt}-q{self.quality}"

    @classmethod
    def parse(cls, args: Mapping[str, str], frame: Frame) -> SnapshotRequest | None:
        """The request's parameters, checked; None when it has none (the frame as sent)."""
        if not {"width", "height", "format", "quality"} & set(args):
            return None
        width = _whole(args, "width", SNAPSHOT_MAX[0])
        height = _whole(args, "height", SNAPSHOT_MAX[1])
        if width and not height:
            height = max(1, round(width * frame.height / frame.width))
        elif height and not width:
            width = max(1, round(height * frame.width / frame.height))
        fmt = args.get("format", "jpeg").lower()
        if fmt == "jpg":
            fmt = "jpeg"
        if fmt not in SNAPSHOT_FORMATS:
            raise BadParameter("format", ", ".join(SNAPSHOT_FORMATS))
        quality = _whole(args, "quality", 95) or DEFAULT_SNAPSHOT_QUALITY
        size = _within((width or frame.width, height or frame.height), SNAPSHOT_MAX)
        return cls(size, fmt, quality)


def _within(size: tuple[int, int], bound: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled down, keeping its aspect, until both sides fit `bound`; at least 1×1.

    A side computed from the other (only a width given, on a portrait frame) can be far
    larger than any side a client may ask for, and so can a frame of a large stream."""
    scale = min(1.0, bound[0] / size[0], bound[1] / size[1])
    if scale == 1.0:
        return size
    return (
        min(bound[0], max(1, round(size[0] * scale))),
        min(bound[1], max(1, round(size[1] * scale))),
    )


def _whole(args: Mapping[str, str], name: str, highest: int) -> int:
    """A whole number from 1 to `highest`, or 0 when the parameter is absent.

    Only ASCII digits: `str.isdigit` also takes "²" and "①", which `int` then refuses."""
    raw = args.get(name)
    if raw is None:
        return 0
    if (
        not (raw.isascii() and raw.isdigit())
        or len(raw) > MAX_NUMBER_DIGITS
        or not 1 <= int(raw) <= highest
    ):
        raise BadParameter(name, f"a whole number from 1 to {highest}")
    return int(raw)


class SnapshotCache:
    """Converted snapshots of recent frames, so many viewers of one size cost one conversion.

    Bounded by entries and by bytes: a few large PNGs must not hold hundreds of megabytes.
    Called on the HTTP threads of snapshot requests."""

    def __init__(self, max_bytes: int = SNAPSHOT_CACHE_BYTES) -> None:
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._bytes = 0
        # Keyed by the frame object's identity (each channel numbers its own frames); an entry
        # holds its frame, so the identity cannot be reused while the entry exists.
        self._entries: OrderedDict[tuple[int, str], tuple[Frame, bytes]] = OrderedDict()

    def cached(self, frame: Frame, wanted: SnapshotRequest) -> bytes | None:
        with self._lock:
            entry = self._entries.get((id(frame), wanted.key))
        return entry[1] if entry is not None and entry[0] is frame else None

    def render(self, frame: Frame, wanted: SnapshotRequest) -> bytes:
        """Convert `frame` as `wanted` and keep the result; the caller holds a render slot."""
        body = self.cached(frame, wanted)
        if body is not None:
            return body
        body = convert_frame(frame.jpeg, wanted.size, wanted.fmt, wanted.quality)
        key = (id(frame), wanted.key)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (frame, body)
                self._bytes += len(body)
            while self._entries and (
                len(self._entries) > SNAPSHOT_CACHE_ENTRIES or self._bytes > self._max_bytes
            ):
                self._bytes -= len(self._entries.popitem(last=False)[1][1])
        return body


class RenderSlots:
    """How many snapshot renders run at once, against a limit read on every request so a config
    edit applies at once. A bounded semaphore that never waits: a render that finds every slot
    taken is refused. Called on the HTTP threads of snapshot requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    def take(self, limit: int) -> bool:
        with self._lock:
            if self._running >= limit:
                return False
            self._running += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._running -= 1


snapshot = Blueprint("snapshot", __name__)


@snapshot.get("/snapshot.jpg")
@snapshot.get("/snapshot")
@snapshot.get("/c/<name>/snapshot.jpg")
@snapshot.get("/c/<name>/snapshot")
def current_frame(name: str | None = None) -> Response:
    """The channel's frame now, as sent or converted; a live source is woken for it."""
    context = web()
    channel, _ = wanted_channel(name)
    hub = context.channels.watch(channel)
    with hub.demand():
        frame = hub.current(SNAPSHOT_WAIT_SECONDS)
    if frame is None:
        return Response("no frame yet\n", status=503, mimetype="text/plain", headers=NO_STORE)
    address = client_address()
    try:
        wanted = SnapshotRequest.parse(request.args, frame)
    except BadParameter as bad:
        if context.log_refusal(f"snapshot {address}"):
            log.warning("Refused a snapshot for %s: %s", address, bad)
        response = jsonify(error=str(bad), parameter=bad.name, allowed=bad.allowed)
        response.status_code = 400
        return response
    etag = f'"{context.instance}-{channel}-{frame.seq}-{wanted.key if wanted else "as-sent"}"'
    headers = {**NO_STORE, "ETag": etag}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    if wanted is None:
        return Response(frame.jpeg, mimetype="image/jpeg", headers=headers)
    body = context.snapshots.cached(frame, wanted)
    if body is None:
        workers = context.settings().server.snapshot_workers
        if not context.render_slots.take(workers):
            if context.log_refusal(f"busy {address}"):
                log.warning(
                    "Refused a snapshot for %s: %d already being made ([server] snapshot_workers)",
                    address,
                    workers,
                )
            response = refusal(429, "too many snapshots being made, retry in a second")
            response.headers["Retry-After"] = str(SNAPSHOT_BUSY_RETRY_SECONDS)
            return response
        try:
            body = context.snapshots.render(frame, wanted)
        finally:
            context.render_slots.give_back()
    return Response(body, mimetype=SNAPSHOT_FORMATS[wanted.fmt], headers=headers)
