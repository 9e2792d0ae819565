"""What a person or a monitor reads of the server: `/status` (every channel, its viewers and
sound, as JSON) and `/healthz` (ok, or 503 and why)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..config import DEFAULT_CHANNEL
from .context import wanted_channel, web
from .responses import NO_STORE
from .stream import MAX_STREAM_ID

status = Blueprint("status", __name__)


@status.get("/status")
@status.get("/c/<name>/status")
def status_json(name: str | None = None) -> Response:
    """The shows' status with, per channel, what only the web layer knows: its streams, the
    frames sent, its viewers and its sound; the top level as for the channel asked about."""
    context = web()
    channels = context.channels
    sound = context.sound
    channel, _ = wanted_channel(name)
    body = context.status().as_json()
    shows: dict[str, dict[str, Any]] = body.get("channels", {})
    for each, show in shows.items():
        hub = channels.hub(each)
        show["clients"] = hub.clients if hub else 0
        show["frames"] = hub.frames if hub else 0
        show["viewers"] = context.viewers.of(each)
        if sound is not None:
            show["audio"] = sound.status(each)
    body["clients"] = channels.clients()
    body["frames"] = shows.get(DEFAULT_CHANNEL, {}).get("frames", 0)
    body["max_clients"] = context.settings().server.max_clients
    body["unassigned_tvs"] = [tv for tv in context.viewers.tvs() if not channels.assigned(tv)]
    heard = sound.status(channel) if sound is not None else {"format": None, "error": None}
    body["watching"] = {
        "channel": channel,
        "frames": shows.get(channel, {}).get("frames", 0),
        "audio": heard["format"],
    }
    body["audio_error"] = heard["error"]
    stream_id = request.args.get("stream")
    if stream_id is not None:
        body["stream_open"] = stream_id[:MAX_STREAM_ID] in context.open_streams
    response = jsonify(body)
    response.headers.update(NO_STORE)
    return response


@status.get("/healthz")
def healthz() -> Response:
    problem = web().health()
    if problem is not None:
        return Response(
            f"unhealthy: {problem}", status=503, mimetype="text/plain", headers=NO_STORE
        )
    return Response("ok", mimetype="text/plain", headers=NO_STORE)
