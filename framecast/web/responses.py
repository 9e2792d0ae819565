"""The answers every face of the web app gives alike: a JSON refusal, and the headers that keep
a browser or a proxy from storing what changes."""

from __future__ import annotations

from flask import Response, jsonify

NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"}


def refusal(status: int, error: str) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    response.headers.update(NO_STORE)
    return response


RETRY_UNREACHABLE_SECONDS = 5


def unreachable(error: Exception) -> Response:
    """A command that cannot reach its show now: 503, to be tried again shortly."""
    response = refusal(503, str(error))
    response.headers["Retry-After"] = str(RETRY_UNREACHABLE_SECONDS)
    return response
