"""The TV's face: the player page, its script and the MJPEG stream of a channel, at `/` for the
default channel (or the one `[tvs]` gives a `?tv=`) and at `/c/<name>/` for every channel."""

from __future__ import annotations

import functools
import html
import logging
import socket
from importlib import resources

from flask import Blueprint, Response, request

from ..hub import FrameHub
from . import mjpeg
from .access import content_security_policy
from .context import client_address, connections, known, wanted_channel, web
from .responses import NO_STORE, refusal
from .stream import MAX_STREAM_ID, RETRY_AFTER_SECONDS, STREAM_HEADERS, picture_delay, stream_body
from .viewers import Viewer

log = logging.getLogger(__name__)

player = Blueprint("player", __name__)


@functools.cache
def template(name: str) -> bytes:
    """A file of the package's templates (read once per process: they ship with the code)."""
    return resources.files(__package__).joinpath("templates", name).read_bytes()


@functools.cache
def page_headers() -> dict[str, str]:
    return {**NO_STORE, "Content-Security-Policy": content_security_policy(template("index.html"))}


@player.app_errorhandler(404)
def not_found(error: Exception) -> Response:
    """A channel's page that does not exist lists the channels there are; anything else is a
    JSON 404."""
    if request.path.startswith("/c/") and request.path.count("/") <= 3:
        items = "".join(
            f'<li><a href="/c/{html.escape(n)}/">{html.escape(n)}</a></li>'
            for n in web().channels.names()
        )
        body = f"<!DOCTYPE html><title>Channels</title><h1>No such channel</h1><ul>{items}</ul>"
        return Response(body, status=404, mimetype="text/html", headers=NO_STORE)
    return refusal(404, "not found")


def full(what: str, address: str, max_clients: int) -> Response:
    """A stream or a listener refused: `[server] max_clients` are connected already."""
    if web().log_refusal(f"full {address}"):
        log.warning(
            "Refused a %s to %s: %d clients already connected ([server] max_clients)",
            what,
            address,
            max_clients,
        )
    return Response(
        "too many clients, retry later\n",
        status=503,
        mimetype="text/plain",
        headers={**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@player.get("/")
@player.get("/c/<name>/")
def index(name: str | None = None) -> Response:
    if name is not None:
        known(name)
    page = template("index.html")
    return Response(page, mimetype="text/html", headers=page_headers())


@player.get("/player.js")
def player_js() -> Response:
    return Response(template("player.js"), mimetype="text/javascript", headers=NO_STORE)


@player.get("/stream")
@player.get("/c/<name>/stream")
def stream(name: str | None = None) -> Response:
    """A TV's stream: headers here, then frames from the fan-out thread until the TV leaves."""
    context = web()
    channels = context.channels
    channel, tv = wanted_channel(name)
    server = context.settings().server
    address = client_address()
    if connections() >= server.max_clients:
        return full("stream", address, server.max_clients)

    def resolve() -> tuple[str, FrameHub]:
        now = channels.channel_of(tv) if tv is not None else channel
        return now, channels.watch(now)

    sock = request.environ.get("werkzeug.socket")
    viewer = Viewer(address, request.headers.get("User-Agent", "")[:200], tv, channel)
    body = stream_body(
        resolve,
        sock if isinstance(sock, socket.socket) else None,
        server.client_timeout,
        context.fanout,
        viewer,
        context.viewers,
        context.open_streams,
        request.args.get("id", "")[:MAX_STREAM_ID],
        picture_delay(request.args.get("delay", "")),
    )
    return Response(body, mimetype=mjpeg.MIMETYPE, headers=STREAM_HEADERS)
