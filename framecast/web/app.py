"""The HTTP face: the player page, the MJPEG stream, a snapshot, status and health.

It reads the hub, a status callback and the settings; it knows nothing of how frames are made.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import math
import secrets
import select
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request

from . import mjpeg
from .config import Settings
from .hub import Frame, FrameHub
from .imaging import SNAPSHOT_FORMATS, convert_frame
from .logtext import printable
from .netinfo import is_ip_literal, machine_names, split_host

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"}
STREAM_HEADERS = {**NO_STORE, "X-Accel-Buffering": "no"}
MAX_STREAM_ID = 64
HANG_UP_CHECK_SECONDS = 1.0
RETRY_AFTER_SECONDS = 10
SMALL_SEND_BUFFER = 64 * 1024
LARGE_SEND_BUFFER = 512 * 1024
SLOW_WRITE_SECONDS = 0.1
QUICK_WRITE_SECONDS = 0.02
QUICK_WRITES_FOR_LARGE = 30
OPEN_PATHS = {"/healthz", "/player.js", "/favicon.ico"}
"""Paths served without the token: health checks, the page's script (public code), and the
icon browsers ask for by themselves (there is none: 404)."""
SNAPSHOT_MAX = (3840, 2160)
DEFAULT_SNAPSHOT_QUALITY = 85
SNAPSHOT_CACHE_ENTRIES = 16
SNAPSHOT_CACHE_BYTES = 32 * 1024 * 1024
SNAPSHOT_BUSY_RETRY_SECONDS = 1
MAX_NUMBER_DIGITS = 6
"""Longer numbers are refused before `int` reads them (and long before Python's own limit)."""
STATE_CHANGING = {"POST", "PUT", "DELETE", "PATCH"}
CONTROL_HEADER = "X-Framecast"
"""A header no browser sends across sites without asking first (a CORS preflight, which this
server never grants), so a page elsewhere cannot drive the show."""
DEFAULT_PORTS = {"http": 80, "https": 443}
SNAPSHOT_WAIT_SECONDS = 2.0
"""How long a snapshot waits for a live source (the screen) to start and look again."""


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
    """The wire bytes of the newest frame, built once and shared by every client's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = -1
        self._part = b""

    def of(self, frame: Frame) -> bytes:
        with self._lock:
            if frame.seq == self._seq:
                return self._part
            if frame.seq < self._seq:
                return mjpeg.part(frame.jpeg)
            self._seq, self._part = frame.seq, mjpeg.part(frame.jpeg)
            return self._part


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
        self._entries: OrderedDict[tuple[int, str], bytes] = OrderedDict()

    def cached(self, frame: Frame, wanted: SnapshotRequest) -> bytes | None:
        with self._lock:
            return self._entries.get((frame.seq, wanted.key))

    def render(self, frame: Frame, wanted: SnapshotRequest) -> bytes:
        """Convert `frame` as `wanted` and keep the result; the caller holds a render slot."""
        body = self.cached(frame, wanted)
        if body is not None:
            return body
        body = convert_frame(frame.jpeg, wanted.size, wanted.fmt, wanted.quality)
        key = (frame.seq, wanted.key)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = body
                self._bytes += len(body)
            while self._entries and (
                len(self._entries) > SNAPSHOT_CACHE_ENTRIES or self._bytes > self._max_bytes
            ):
                self._bytes -= len(self._entries.popitem(last=False)[1])
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


class OncePerMinute:
    """Rate-limits a log line per key (an address), so a flood cannot flood the log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -math.inf) < 60:
                return False
            if len(self._last) > 10_000:
                self._last = {k: t for k, t in self._last.items() if now - t < 60}
            self._last[key] = now
            return True


def content_security_policy(page: bytes) -> str:
    """Only this server's script, images and status; the page's one inline style by its hash."""
    style = page.split(b"<style>", 1)[1].split(b"</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    return (
        f"default-src 'none'; script-src 'self'; style-src 'sha256-{digest}'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def create_app(
    hub: FrameHub,
    status: Callable[[], dict[str, Any]],
    settings: Callable[[], Settings],
    control: Callable[[str], None],
    health: Callable[[], str | None] = lambda: None,
) -> Flask:
    """A Flask app serving `hub`; `status` and `settings` are read on every request, and
    `control` is called with "next", "previous", "pause" or "resume" when a phone on the LAN
    drives the show (it raises ValueError for anything else). `health` says what is wrong, or
    None when all is well, for `/healthz`."""
    app = Flask(__name__)
    templates = resources.files(__package__).joinpath("templates")
    page = templates.joinpath("index.html").read_bytes()
    script = templates.joinpath("player.js").read_bytes()
    page_headers = {**NO_STORE, "Content-Security-Policy": content_security_policy(page)}
    open_streams = OpenStreams()
    shared_parts = SharedParts()
    snapshots = SnapshotCache()
    render_slots = RenderSlots()
    log_refusal = OncePerMinute()
    instance = secrets.token_hex(4)

    def keepalive() -> float:
        return settings().stream.keepalive

    @app.before_request
    def check_host() -> Response | None:
        """Refuse a `Host` that is not this machine: a page whose name was made to resolve to
        this address (DNS rebinding) must not read the status or the snapshots."""
        header = request.headers.get("Host")
        if header is None or request.path == "/healthz":
            return None
        name = split_host(header)[0]
        allowed = settings().server.allowed_hosts
        if (
            name == "localhost"
            or is_ip_literal(name)
            or name in (machine_names() if allowed is None else allowed)
        ):
            return None
        shown = printable(name, 100)
        address = request.remote_addr or "?"
        # Per host, and one name a minute per address: a client making up names cannot flood.
        if log_refusal(f"host {name[:100]}") and log_refusal(f"hosts from {address}"):
            log.warning(
                "Refused requests for host %s from %s: not a name of this machine "
                "(add it to [server] allowed_hosts if it is one)",
                shown,
                address,
            )
        return _refusal(
            400,
            f"{shown} is not a name of this server: use its address, "
            "or add the name to [server] allowed_hosts in config.toml",
        )

    @app.before_request
    def check_token() -> Response | None:
        token = settings().server.token
        if token is None or request.path in OPEN_PATHS:
            return None
        given = request.args.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header.removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), token.encode()):
            return None
        address = request.remote_addr or "?"
        if log_refusal(f"token {address}"):
            log.warning(
                "Refused %s %s from %s: missing or wrong token",
                request.method,
                request.path,
                address,
            )
        response = _refusal(401, "a valid token is needed: add ?token=... to the address")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.before_request
    def check_same_site() -> Response | None:
        """Refuse a state-changing request that a page on another site could have made: one
        that names another site in Origin (or Referer), or is a plain form post. A form post
        needs no CORS preflight; a JSON body or a custom header does, and is never granted."""
        if request.method not in STATE_CHANGING or request.routing_exception is not None:
            return None
        origin = request.headers.get("Origin")
        source = "Origin" if origin is not None else "Referer"
        page = origin if origin is not None else request.headers.get("Referer")
        if page is not None and not _same_host(page, request.headers.get("Host", "")):
            problem = f"sent from a page on {printable(page, 100)} ({source})"
            error = "refused: this request came from a page on another site"
        elif not (
            request.mimetype == "application/json"
            or CONTROL_HEADER in request.headers
            or "Authorization" in request.headers
        ):
            problem = f"neither a JSON body nor the {CONTROL_HEADER} header"
            error = (
                f"send the header {CONTROL_HEADER}: 1 (or a JSON body), so that pages on "
                "other sites cannot do this"
            )
        else:
            return None
        address = request.remote_addr or "?"
        if log_refusal(f"site {address}"):
            log.warning(
                "Refused %s %s from %s: %s",
                request.method,
                printable(request.path, 100),
                address,
                problem,
            )
        return _refusal(403, error)

    @app.get("/")
    def index() -> Response:
        return Response(page, mimetype="text/html", headers=page_headers)

    @app.get("/player.js")
    def player_js() -> Response:
        return Response(script, mimetype="text/javascript", headers=NO_STORE)

    @app.get("/stream")
    def stream() -> Response:
        server = settings().server
        address = request.remote_addr or "?"
        if hub.clients >= server.max_clients:
            if log_refusal(f"full {address}"):
                log.warning(
                    "Refused a stream to %s: %d clients already watching ([server] max_clients)",
                    address,
                    server.max_clients,
                )
            return Response(
                "too many clients, retry later\n",
                status=503,
                mimetype="text/plain",
                headers={**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        sock = request.environ.get("werkzeug.socket")
        client = StreamSocket(
            sock if isinstance(sock, socket.socket) else None, server.client_timeout
        )
        stream_id = request.args.get("id", "")[:MAX_STREAM_ID]
        body = _stream_body(hub, keepalive, client, open_streams, shared_parts, stream_id, address)
        return Response(body, mimetype=mjpeg.MIMETYPE, headers=STREAM_HEADERS)

    @app.get("/snapshot.jpg")
    @app.get("/snapshot")
    def snapshot() -> Response:
        with hub.demand():
            frame = hub.current(SNAPSHOT_WAIT_SECONDS)
        if frame is None:
            return Response("no frame yet\n", status=503, mimetype="text/plain", headers=NO_STORE)
        address = request.remote_addr or "?"
        try:
            wanted = SnapshotRequest.parse(request.args, frame)
        except BadParameter as bad:
            if log_refusal(f"snapshot {address}"):
                log.warning("Refused a snapshot for %s: %s", address, bad)
            response = jsonify(error=str(bad), parameter=bad.name, allowed=bad.allowed)
            response.status_code = 400
            return response
        etag = f'"{instance}-{frame.seq}-{wanted.key if wanted else "as-sent"}"'
        headers = {**NO_STORE, "ETag": etag}
        if etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        if wanted is None:
            return Response(frame.jpeg, mimetype="image/jpeg", headers=headers)
        body = snapshots.cached(frame, wanted)
        if body is None:
            workers = settings().server.snapshot_workers
            if not render_slots.take(workers):
                if log_refusal(f"busy {address}"):
                    log.warning(
                        "Refused a snapshot for %s: %d already being made "
                        "([server] snapshot_workers)",
                        address,
                        workers,
                    )
                response = _refusal(429, "too many snapshots being made, retry in a second")
                response.headers["Retry-After"] = str(SNAPSHOT_BUSY_RETRY_SECONDS)
                return response
            try:
                body = snapshots.render(frame, wanted)
            finally:
                render_slots.give_back()
        return Response(body, mimetype=SNAPSHOT_FORMATS[wanted.fmt], headers=headers)

    @app.get("/status")
    def status_json() -> Response:
        body = status()
        body["clients"] = hub.clients
        body["max_clients"] = settings().server.max_clients
        body["frames"] = hub.frames
        stream_id = request.args.get("stream")
        if stream_id is not None:
            body["stream_open"] = stream_id[:MAX_STREAM_ID] in open_streams
        response = jsonify(body)
        response.headers.update(NO_STORE)
        return response

    @app.post("/api/<action>")
    def api(action: str) -> Response:
        try:
            control(action)
        except ValueError as unknown:
            response = jsonify(error=str(unknown))
            response.status_code = 404
            return response
        log.info("Control: %s, from %s", action, request.remote_addr or "?")
        response = jsonify(ok=True, action=action)
        response.headers.update(NO_STORE)
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        problem = health()
        if problem is not None:
            return Response(
                f"unhealthy: {problem}", status=503, mimetype="text/plain", headers=NO_STORE
            )
        return Response("ok", mimetype="text/plain", headers=NO_STORE)

    return app


def _refusal(status: int, error: str) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(NO_STORE)
    return response


def _same_host(page: str, host_header: str) -> bool:
    """Whether the page at URL `page` (an Origin or a Referer) is on the host and port that the
    request's `Host` header names. A `Host` without a port matches the page scheme's default
    port: behind a TLS proxy the page is https and the `Host` still carries no port."""
    try:
        parts = urlsplit(page)
        page_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return False
    name, port = split_host(host_header)
    if name != parts.hostname.lower().removesuffix("."):
        return False
    default = DEFAULT_PORTS[parts.scheme]
    if not port:
        return page_port in (None, default)
    return (
        port.isascii() and port.isdigit() and len(port) <= 5 and int(port) == (page_port or default)
    )


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


def _stream_body(
    hub: FrameHub,
    keepalive: Callable[[], float],
    client: StreamSocket,
    open_streams: OpenStreams,
    shared_parts: SharedParts,
    stream_id: str,
    address: str,
) -> Iterator[bytes]:
    """The multipart body for one client; runs on that client's HTTP thread.

    Sends the current frame at once, then each newer frame, and the current frame again after
    `keepalive` seconds of silence. Ends when the client goes (the server closes the iterator)
    or the hub closes at shutdown.
    """
    with hub.subscribe():
        open_streams.add(stream_id)
        log.info("Client %s connected (%d watching)", address, hub.clients)
        try:
            yield mjpeg.PART_HEADERS
            for frame in _frames(hub, keepalive, client.hung_up):
                part = shared_parts.of(frame)
                client.writing(len(part))
                started = time.monotonic()
                yield part
                client.wrote(time.monotonic() - started)
        finally:
            open_streams.remove(stream_id)
            log.info("Client %s left (%d watching)", address, hub.clients - 1)


def _frames(
    hub: FrameHub, keepalive: Callable[[], float], hung_up: Callable[[], bool]
) -> Iterator[Frame]:
    """The current frame, then each newer one, the same again after `keepalive` of silence.

    A client that hung up is looked for only in quiet moments: while frames flow, the next
    write fails for it anyway, and a check per frame would cost every stream a system call.
    """
    frame: Frame | None = None
    resend_at = math.inf
    while not hub.closed:
        wait = max(0.0, min(HANG_UP_CHECK_SECONDS, resend_at - time.monotonic()))
        newer = hub.wait_newer(frame.seq if frame else 0, wait)
        if newer is not None:
            frame = newer
        elif hung_up():
            return
        elif frame is None or time.monotonic() < resend_at:
            continue
        resend_at = time.monotonic() + keepalive()
        yield frame
