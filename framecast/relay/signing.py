"""What an origin and its edges write into Redis, signed with a secret they share, so that
whoever else can reach Redis can neither steer the origin nor put a picture on a TV.

Anyone on the LAN may reach a Redis; a password keeps most of them out, the signature keeps out
the rest (a Redis shared with other programs, a password that leaked). Each value is signed for
one purpose (a channel's frames, the control stream, the settings, an edge's heartbeat), so a
signed value cannot be moved into another key. A signed value can still be written again later
(a replay); the keys keep only the newest few entries, and every one was the origin's own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Mapping

from ..logtext import OncePerMinute

log = logging.getLogger(__name__)

SECRET_VARIABLE = "FRAMECAST_RELAY_SECRET"
MIN_SECRET_CHARACTERS = 16
SIGNATURE = "sig"
"""The field of a stream entry that holds its signature."""
_SEPARATOR = b"\n"


class Unsigned(ValueError):
    """A value in Redis that this secret did not sign: written by someone else, or by an origin
    or edge with another secret."""


def secret_from_environment() -> bytes:
    """The shared secret, from `$FRAMECAST_RELAY_SECRET` (main thread, at start); ValueError
    saying what is wanted when it is missing or too short to be one."""
    value = os.environ.get(SECRET_VARIABLE, "")
    if len(value.strip()) < MIN_SECRET_CHARACTERS:
        raise ValueError(
            f"--role needs ${SECRET_VARIABLE}, a secret of at least {MIN_SECRET_CHARACTERS} "
            "characters that the origin and every edge share (e.g. from `openssl rand -hex 32`)"
            + (" (it is set but shorter)" if value else "")
        )
    return value.strip().encode()


class Signer:
    """Signs and checks with one secret; any thread."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign_fields(
        self, purpose: str, fields: Mapping[str, bytes | int | str]
    ) -> dict[str, bytes]:
        """A stream entry's fields as the bytes Redis will hold, with their signature."""
        plain = {name: _bytes(value) for name, value in fields.items()}
        return {**plain, SIGNATURE: self._mac(purpose, plain).encode()}

    def check_fields(self, purpose: str, fields: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
        """A stream entry's fields without their signature; Unsigned when it does not hold."""
        plain = {name.decode(errors="replace"): value for name, value in fields.items()}
        given = plain.pop(SIGNATURE, b"")
        if not hmac.compare_digest(given, self._mac(purpose, plain).encode()):
            raise Unsigned(purpose)
        return {name.encode(): value for name, value in plain.items()}

    def seal(self, purpose: str, body: bytes) -> bytes:
        """A value for a plain key: its signature, a newline, the body."""
        return self._mac(purpose, {"": body}).encode() + _SEPARATOR + body

    def open(self, purpose: str, sealed: bytes) -> bytes:
        """The body of a sealed value; Unsigned when the signature does not hold."""
        given, _, body = sealed.partition(_SEPARATOR)
        if not hmac.compare_digest(given, self._mac(purpose, {"": body}).encode()):
            raise Unsigned(purpose)
        return body

    def _mac(self, purpose: str, fields: Mapping[str, bytes]) -> str:
        """HMAC-SHA256 over the purpose and every field, each length-prefixed so that no two
        different sets of fields read the same."""
        mac = hmac.new(self._secret, digestmod=hashlib.sha256)
        for part in (purpose.encode(), *_flat(fields)):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        return mac.hexdigest()


def _flat(fields: Mapping[str, bytes]) -> list[bytes]:
    return [part for name in sorted(fields) for part in (name.encode(), fields[name])]


def _bytes(value: bytes | int | str) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class Refusals:
    """What this process refused to take from Redis, counted per key for `/status`, with a log
    line per key at most once a minute: whoever writes junk must not flood the log. Any
    thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._once = OncePerMinute()

    def refused(self, key: str, why: str) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
        if self._once(key):
            log.warning(
                "Refused a value in Redis at %s: %s; further ones this minute are only counted "
                "(/status relay.refused)",
                key,
                why,
            )

    def refused_unsigned(self, key: str) -> None:
        self.refused(
            key,
            f"not signed with this machine's ${SECRET_VARIABLE} (someone else writes to this "
            "Redis, or the origin and an edge were given different secrets)",
        )

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
