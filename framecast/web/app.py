"""The HTTP face: for every channel the player page, the MJPEG stream, a snapshot and control;
status and health for all.

The default channel is served at `/`, `/stream`, `/snapshot.jpg` and `/api/...` as before
channels existed; every channel also at `/c/<name>/...`; a TV known by id (`?tv=...`) at the
default paths, showing whatever channel `[tvs]` gives it now. The app reads hubs from a
`Channels` directory by name, a status callback and the settings; it knows nothing of how
frames are made.
"""

from __future__ import annotations

import html
import logging
import secrets
import socket
from collections.abc import Callable
from importlib import resources
from typing import Any, Protocol

from flask import Flask, Response, abort, jsonify, request

from ..browser.screenshot_service import ScreenshotService
from ..config import DEFAULT_CHANNEL, TV_ID, Settings
from ..hub import FrameHub
from ..render.imaging import SNAPSHOT_FORMATS
from . import mjpeg
from .access import NO_STORE, OncePerMinute, content_security_policy, install_guards, refusal
from .admin import AdminParts, add_admin
from .audio import MIMETYPES, SoundHubs, audio_body, bytes_per_second, prepare_socket, wav_header
from .fanout import FanOut
from .screenshots import add_screenshot_api
from .snapshot import (
    SNAPSHOT_BUSY_RETRY_SECONDS,
    SNAPSHOT_WAIT_SECONDS,
    BadParameter,
    RenderSlots,
    SnapshotCache,
    SnapshotRequest,
)
from .stream import MAX_STREAM_ID, RETRY_AFTER_SECONDS, STREAM_HEADERS, picture_delay, stream_body
from .viewers import OpenStreams, Viewer, Viewers

log = logging.getLogger(__name__)


class Channels(Protocol):
    """What the web layer needs of the shows: hubs by channel name, and control."""

    def names(self) -> list[str]: ...

    def hub(self, name: str) -> FrameHub | None: ...

    def watch(self, name: str) -> FrameHub: ...

    def channel_of(self, tv: str) -> str: ...

    def assigned(self, tv: str) -> bool: ...

    def clients(self) -> int: ...

    def command(self, name: str, action: str) -> None: ...

    def switch_source(self, name: str, source: str) -> None: ...


def create_app(
    channels: Channels,
    status: Callable[[], dict[str, Any]],
    settings: Callable[[], Settings],
    health: Callable[[], str | None] = lambda: None,
    screenshots: ScreenshotService | None = None,
    admin: AdminParts | None = None,
    sound: SoundHubs | None = None,
) -> Flask:
    """A Flask app serving every channel of `channels`; `status` and `settings` are read on
    every request. `channels.command` is called with "next", "previous", "pause" or "resume"
    when a phone on the LAN drives a show. `health` says what is wrong, or None when all is
    well, for `/healthz`. `screenshots` renders web pages for the screenshot API; `admin`
    holds what the admin page needs besides the shows; `sound` gives each channel's sound."""
    app = Flask(__name__)
    templates = resources.files(__package__).joinpath("templates")
    page = templates.joinpath("index.html").read_bytes()
    script = templates.joinpath("player.js").read_bytes()
    page_headers = {**NO_STORE, "Content-Security-Policy": content_security_policy(page)}
    open_streams = OpenStreams()
    fanout = FanOut(lambda: settings().stream.keepalive)
    viewers = Viewers(lambda: settings().server.max_streams_per_address)
    snapshots = SnapshotCache()
    render_slots = RenderSlots()
    log_refusal = OncePerMinute()
    instance = secrets.token_hex(4)
    wav_head = wav_header()
    install_guards(app, settings, log_refusal)
    if screenshots is not None:
        add_screenshot_api(app, screenshots, settings, log_refusal)
    if admin is not None:
        add_admin(app, channels, status, settings, admin)

    def known(name: str) -> str:
        """`name` if it is a channel now; otherwise the request ends with 404."""
        if channels.hub(name) is None:
            abort(404)
        return name

    def wanted_channel(name: str | None) -> tuple[str, str | None]:
        """The channel a request is for, and its TV id: the path's channel, else `?tv=`'s."""
        if name is not None:
            return known(name), None
        tv = request.args.get("tv")
        if tv is None:
            return DEFAULT_CHANNEL, None
        if not TV_ID.fullmatch(tv):
            abort(refusal(400, "tv: expected 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'"))
        return channels.channel_of(tv), tv

    @app.errorhandler(404)
    def not_found(error: Exception) -> Response:
        if request.path.startswith("/c/") and request.path.count("/") <= 3:
            items = "".join(
                f'<li><a href="/c/{html.escape(n)}/">{html.escape(n)}</a></li>'
                for n in channels.names()
            )
            body = f"<!DOCTYPE html><title>Channels</title><h1>No such channel</h1><ul>{items}</ul>"
            return Response(body, status=404, mimetype="text/html", headers=NO_STORE)
        return refusal(404, "not found")

    @app.get("/")
    @app.get("/c/<name>/")
    def index(name: str | None = None) -> Response:
        if name is not None:
            known(name)
        return Response(page, mimetype="text/html", headers=page_headers)

    @app.get("/player.js")
    def player_js() -> Response:
        return Response(script, mimetype="text/javascript", headers=NO_STORE)

    @app.get("/stream")
    @app.get("/c/<name>/stream")
    def stream(name: str | None = None) -> Response:
        channel, tv = wanted_channel(name)
        server = settings().server
        address = request.remote_addr or "?"
        if channels.clients() >= server.max_clients:
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

        def resolve() -> tuple[str, FrameHub]:
            now = channels.channel_of(tv) if tv is not None else channel
            return now, channels.watch(now)

        sock = request.environ.get("werkzeug.socket")
        viewer = Viewer(address, request.headers.get("User-Agent", "")[:200], tv, channel)
        stream_id = request.args.get("id", "")[:MAX_STREAM_ID]
        body = stream_body(
            resolve,
            sock if isinstance(sock, socket.socket) else None,
            server.client_timeout,
            fanout,
            viewer,
            viewers,
            open_streams,
            stream_id,
            picture_delay(request.args.get("delay", "")),
        )
        return Response(body, mimetype=mjpeg.MIMETYPE, headers=STREAM_HEADERS)

    @app.get("/audio.<fmt>")
    @app.get("/c/<name>/audio.<fmt>")
    def audio(fmt: str, name: str | None = None) -> Response:
        channel, tv = wanted_channel(name)
        if fmt not in MIMETYPES:
            abort(404)
        hub = sound.hub(channel, fmt) if sound is not None else None
        if hub is None:
            return refusal(404, f"channel {channel} has no sound ([audio] source)")
        current = settings()
        prepare_socket(
            request.environ.get("werkzeug.socket"),
            current.server.client_timeout,
            bytes_per_second(fmt, current.audio.bitrate),
        )

        def still_on() -> bool:
            now = channels.channel_of(tv) if tv is not None else channel
            return sound is not None and sound.hub(now, fmt) is hub

        body = audio_body(
            hub, wav_head if fmt == "wav" else b"", still_on, request.remote_addr or "?", channel
        )
        return Response(body, mimetype=MIMETYPES[fmt], headers=STREAM_HEADERS)

    @app.get("/snapshot.jpg")
    @app.get("/snapshot")
    @app.get("/c/<name>/snapshot.jpg")
    @app.get("/c/<name>/snapshot")
    def snapshot(name: str | None = None) -> Response:
        channel, _ = wanted_channel(name)
        hub = channels.watch(channel)
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
        etag = f'"{instance}-{channel}-{frame.seq}-{wanted.key if wanted else "as-sent"}"'
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
                response = refusal(429, "too many snapshots being made, retry in a second")
                response.headers["Retry-After"] = str(SNAPSHOT_BUSY_RETRY_SECONDS)
                return response
            try:
                body = snapshots.render(frame, wanted)
            finally:
                render_slots.give_back()
        return Response(body, mimetype=SNAPSHOT_FORMATS[wanted.fmt], headers=headers)

    @app.get("/status")
    @app.get("/c/<name>/status")
    def status_json(name: str | None = None) -> Response:
        channel, _ = wanted_channel(name)
        body = status()
        for each, show in body.get("channels", {}).items():
            hub = channels.hub(each)
            show["clients"] = hub.clients if hub else 0
            show["frames"] = hub.frames if hub else 0
            show["viewers"] = viewers.of(each)
            if sound is not None:
                show["audio"] = sound.status(each)
        default = body.get("channels", {}).get(DEFAULT_CHANNEL, {})
        body["clients"] = channels.clients()
        body["frames"] = default.get("frames", 0)
        body["max_clients"] = settings().server.max_clients
        body["unassigned_tvs"] = [tv for tv in viewers.tvs() if not channels.assigned(tv)]
        heard = sound.status(channel) if sound is not None else {"format": None, "error": None}
        body["watching"] = {
            "channel": channel,
            "frames": body.get("channels", {}).get(channel, {}).get("frames", 0),
            "audio": heard["format"],
        }
        body["audio_error"] = heard["error"]
        stream_id = request.args.get("stream")
        if stream_id is not None:
            body["stream_open"] = stream_id[:MAX_STREAM_ID] in open_streams
        response = jsonify(body)
        response.headers.update(NO_STORE)
        return response

    @app.post("/api/<action>")
    @app.post("/c/<name>/api/<action>")
    def api(action: str, name: str | None = None) -> Response:
        channel, _ = wanted_channel(name)
        try:
            channels.command(channel, "previous" if action == "prev" else action)
        except (ValueError, KeyError) as unknown:
            return refusal(404, str(unknown))
        log.info("Control: %s on %s, from %s", action, channel, request.remote_addr or "?")
        response = jsonify(ok=True, action=action, channel=channel)
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
