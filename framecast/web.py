"""The HTTP face: the player page, the MJPEG stream, a snapshot, status and health.

It only reads the hub and a status callback; it knows nothing of how frames are made.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import math
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

from flask import Flask, Response, jsonify, request

from . import mjpeg
from .config import Settings
from .hub import Frame, FrameHub

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
    hub: FrameHub, status: Callable[[], dict[str, Any]], settings: Callable[[], Settings]
) -> Flask:
    """A Flask app serving `hub`; `status` and `settings` are read on every request."""
    app = Flask(__name__)
    templates = resources.files(__package__).joinpath("templates")
    page = templates.joinpath("index.html").read_bytes()
    script = templates.joinpath("player.js").read_bytes()
    page_headers = {**NO_STORE, "Content-Security-Policy": content_security_policy(page)}
    open_streams = OpenStreams()
    shared_parts = SharedParts()
    log_refusal = OncePerMinute()

    def keepalive() -> float:
        return settings().stream.keepalive

    app.extensions["framecast"] = {"hub": hub, "open_streams": open_streams}

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
        response = jsonify(error="a valid token is needed: add ?token=... to the address")
        response.status_code = 401
        response.headers.update({**NO_STORE, "WWW-Authenticate": "Bearer"})
        return response

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
        if not isinstance(sock, socket.socket):
            sock = None
        else:
            # A send blocked this long means the TV is gone without a TCP close: drop it.
            sock.settimeout(server.client_timeout)
        stream_id = request.args.get("id", "")[:MAX_STREAM_ID]
        hung_up = _hang_up_check(sock)
        body = _stream_body(
            hub,
            keepalive,
            hung_up,
            SendBuffer(sock),
            open_streams,
            shared_parts,
            stream_id,
            address,
        )
        return Response(body, mimetype=mjpeg.MIMETYPE, headers=STREAM_HEADERS)

    @app.get("/snapshot.jpg")
    def snapshot() -> Response:
        with hub.demand():
            frame = hub.current(SNAPSHOT_WAIT_SECONDS)
        if frame is None:
            return Response("no frame yet\n", status=503, mimetype="text/plain", headers=NO_STORE)
        return Response(frame.jpeg, mimetype="image/jpeg", headers=NO_STORE)

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

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain", headers=NO_STORE)

    return app


class SendBuffer:
    """Sizes one stream socket's kernel send buffer by how the client keeps up.

    A client that lags gets a small buffer, so the kernel cannot queue seconds of old frames for
    it; one that takes every frame at once gets a large one, which costs fewer wake-ups per
    frame. Called on the client's HTTP thread after each frame is written.
    """

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock
        self._quick_writes = 0
        self._large = True
        self._resize(large=False)

    def wrote(self, seconds: float) -> None:
        if seconds >= SLOW_WRITE_SECONDS:
            self._quick_writes = 0
            self._resize(large=False)
        elif seconds < QUICK_WRITE_SECONDS:
            self._quick_writes += 1
            if self._quick_writes >= QUICK_WRITES_FOR_LARGE:
                self._resize(large=True)

    def _resize(self, large: bool) -> None:
        if self._sock is None or large == self._large:
            return
        self._large = large
        with contextlib.suppress(OSError):
            size = LARGE_SEND_BUFFER if large else SMALL_SEND_BUFFER
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def _hang_up_check(sock: socket.socket | None) -> Callable[[], bool]:
    """Whether the client has closed its end: a stream client sends nothing after its request,
    so a readable socket means end of file. Without this a closed TV would only be noticed at
    the next write, up to a whole keepalive later."""

    def hung_up() -> bool:
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    return hung_up


def _stream_body(
    hub: FrameHub,
    keepalive: Callable[[], float],
    hung_up: Callable[[], bool],
    send_buffer: SendBuffer,
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
            for frame in _frames(hub, keepalive, hung_up):
                started = time.monotonic()
                yield shared_parts.of(frame)
                send_buffer.wrote(time.monotonic() - started)
        finally:
            open_streams.remove(stream_id)
            log.info("Client %s left (%d watching)", address, hub.clients - 1)


def _frames(
    hub: FrameHub, keepalive: Callable[[], float], hung_up: Callable[[], bool]
) -> Iterator[Frame]:
    """The current frame, then each newer one, the same again after `keepalive` of silence."""
    frame: Frame | None = None
    resend_at = math.inf
    while not hub.closed and not hung_up():
        wait = max(0.0, min(HANG_UP_CHECK_SECONDS, resend_at - time.monotonic()))
        newer = hub.wait_newer(frame.seq if frame else 0, wait)
        if newer is not None:
            frame = newer
        elif frame is None or time.monotonic() < resend_at:
            continue
        resend_at = time.monotonic() + keepalive()
        yield frame
