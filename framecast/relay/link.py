"""The Redis connection both roles share, and the names of everything they keep in it.

Keys (all under `framecast:`): `<channel>:frames` one stream per channel; `control` a small
stream of commands and wake-ups from edges to the origin; `origin` the origin's claim (a TTL
the origin refreshes); `settings` and `status` what the origin publishes every second;
`edges` a hash of every edge's heartbeat.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.client import Pipeline

from ..logtext import redacted_url
from .signing import Signer

log = logging.getLogger(__name__)

PREFIX = "framecast:"
CONTROL = PREFIX + "control"
ORIGIN = PREFIX + "origin"
SETTINGS = PREFIX + "settings"
STATUS = PREFIX + "status"
EDGES = PREFIX + "edges"
FRAMES_KEPT = 2
"""`MAXLEN ~ 2`: a slow reader skips to the newest frame instead of queueing old ones."""
CONTROL_KEPT = 100
CONNECT_SECONDS = 2.0
SOCKET_SECONDS = 5.0
"""Longer than any `XREAD BLOCK`, short enough that a vanished Redis is noticed."""
DEFAULT_BULK_LIMIT = 512 * 1024 * 1024
"""Redis's default `proto-max-bulk-len`: the largest value one command may carry."""
BEAT_SECONDS = 1.0
"""How often the origin publishes its settings and status, and edges their heartbeat."""
PASSWORD_VARIABLE = "FRAMECAST_REDIS_PASSWORD"
"""Redis's password, when the URL carries none: not on the command line, where every user of
the machine could read it."""


class RelayError(Exception):
    """Redis cannot be used; the message is one line for the person who started Framecast."""


def frames_key(channel: str) -> str:
    return f"{PREFIX}{channel}:frames"


def heartbeat_key(edge_id: str) -> str:
    """What an edge's heartbeat is signed for: its field in the `edges` hash."""
    return f"{EDGES}:{edge_id}"


def channel_of_key(key: str) -> str:
    return key.removeprefix(PREFIX).removesuffix(":frames")


@dataclass(frozen=True)
class RelayLink:
    """A Redis client, checked at start, and the signer that the origin and its edges share."""

    client: redis.Redis
    signer: Signer


def connect(url: str, secret: bytes) -> RelayLink:
    """A client for `url`, checked by a PING (called once, on the main thread at start).
    A user and password in `url`, or `$FRAMECAST_REDIS_PASSWORD`, are never written to the
    log."""
    shown = redacted_url(url)
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_SECONDS,
            socket_timeout=SOCKET_SECONDS,
            password=os.environ.get(PASSWORD_VARIABLE) or None,
        )
    except ValueError:
        raise RelayError(
            f"--redis {shown!r} is not a Redis URL: expected redis://[USER:PASSWORD@]HOST:6379/0"
        ) from None
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise RelayError(f"cannot use Redis at {shown}: {error}") from None
    return RelayLink(client, Signer(secret))


class BulkLimit:
    """The largest frame Redis accepts (`proto-max-bulk-len`): a larger value makes Redis drop
    the connection, so the origin skips such a frame instead. Refreshed by the origin's beat
    thread, read by its publishers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = DEFAULT_BULK_LIMIT

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes

    def refresh(self, client: redis.Redis) -> None:
        """Ask Redis; where CONFIG is refused (a managed Redis) keep the default."""
        try:
            answer = client.config_get("proto-max-bulk-len")
        except redis.ResponseError:
            return
        reply: Any = answer
        value = reply.get("proto-max-bulk-len") or reply.get(b"proto-max-bulk-len")
        if value is not None:
            with self._lock:
                self._bytes = int(value)


class OnceLog:
    """Logs a lost link once, and once again when it is back (any thread)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self.error: str | None = None

    def lost(self, error: Exception) -> None:
        with self._lock:
            first, self.error = self.error is None, str(error) or type(error).__name__
        if first:
            log.warning("%s lost Redis (%s): retrying", self._what, self.error)

    def back(self) -> None:
        with self._lock:
            was, self.error = self.error, None
        if was is not None:
            log.info("%s reached Redis again", self._what)


Entry = tuple[bytes, dict[bytes, bytes]]
"""A stream entry: its id and its fields."""
Fields = Mapping[str, bytes | int | float | str]


def append(client: redis.Redis | Pipeline, key: str, fields: Fields, kept: int) -> None:
    """`XADD key MAXLEN ~ kept * fields...`."""
    client.xadd(key, cast(Any, dict(fields)), maxlen=kept, approximate=True)


def read_streams(
    client: redis.Redis, positions: Mapping[str, bytes | str], block_ms: int
) -> list[tuple[str, list[Entry]]]:
    """`XREAD BLOCK block_ms STREAMS key... id...`: each stream that has entries after its
    position, with those entries, oldest first."""
    reply: Any = client.xread(cast(Any, dict(positions)), block=block_ms)
    return [
        (key.decode(), [(bytes(entry_id), dict(fields)) for entry_id, fields in entries])
        for key, entries in reply or []
    ]


def newest(client: redis.Redis, key: str) -> Entry | None:
    """The stream's newest entry, or None when it is empty or missing."""
    reply: Any = client.xrevrange(key, count=1)
    return (bytes(reply[0][0]), dict(reply[0][1])) if reply else None


def get_bytes(client: redis.Redis, *keys: str) -> list[bytes | None]:
    """`MGET`: each key's value, None where it is missing."""
    reply: Any = client.mget(keys)
    return [None if value is None else bytes(value) for value in reply]


def hash_bytes(client: redis.Redis, key: str) -> dict[str, bytes]:
    """`HGETALL`, the field names decoded."""
    reply: Any = client.hgetall(key)
    return {field.decode(errors="replace"): bytes(value) for field, value in reply.items()}
