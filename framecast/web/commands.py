"""The control API: a phone or a script on the LAN drives a channel's slideshow with
`POST /api/next` (`previous` or `prev`, `pause`, `resume`), or `/c/<name>/api/...`."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from ..control import Unreachable
from .context import client_address, wanted_channel, web
from .responses import NO_STORE, refusal, unreachable

log = logging.getLogger(__name__)

commands = Blueprint("commands", __name__)


@commands.post("/api/<action>")
@commands.post("/c/<name>/api/<action>")
def command(action: str, name: str | None = None) -> Response:
    channel, _ = wanted_channel(name)
    try:
        web().channels.command(channel, "previous" if action == "prev" else action)
    except (ValueError, KeyError) as unknown:
        return refusal(404, str(unknown))
    except Unreachable as away:
        return unreachable(away)
    log.info("Control: %s on %s, from %s", action, channel, client_address())
    response = jsonify(ok=True, action=action, channel=channel)
    response.headers.update(NO_STORE)
    return response
