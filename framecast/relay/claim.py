"""One origin per Redis: the origin holds a key with a short TTL and refreshes it every second.

A second origin finds the key and refuses to start, naming the first. A claim left by an origin
that died on this very machine (same host name, its process gone) is taken over at once, so a
crashed origin can be restarted without waiting for the TTL.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

from .link import ORIGIN, RelayLink, get_bytes

CLAIM_TTL_MS = 5000
"""Refreshed every second: an origin gone without a word frees Redis after this long."""

_REFRESH = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
elseif held == false then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Claimant:
    """Who holds the origin's claim."""

    host: str
    pid: int
    port: int

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, port {self.port}"


class OriginClaim:
    """`take` on the main thread at start; `refresh` on the origin's beat thread; `release`
    at stop."""

    def __init__(self, link: RelayLink, port: int) -> None:
        self.link = link
        self.client = link.client
        self.me = Claimant(socket.gethostname(), os.getpid(), port)
        self._value = json.dumps(self.me.__dict__).encode()

    def take(self) -> Claimant | None:
        """Claim Redis for this origin; the origin that holds it instead, if any."""
        for _ in range(2):
            if self.client.set(ORIGIN, self._value, nx=True, px=CLAIM_TTL_MS):
                return None
            raw = get_bytes(self.client, ORIGIN)[0]
            holder = _claimant(raw)
            if holder is None or not self._dead_here(holder):
                return holder
            if raw is not None:
                self.client.eval(_RELEASE, 1, ORIGIN, raw)
        return _claimant(get_bytes(self.client, ORIGIN)[0])

    def refresh(self) -> bool:
        """Keep the claim (taking it again after Redis lost it); False if another origin holds
        it now."""
        return bool(self.client.eval(_REFRESH, 1, ORIGIN, self._value, CLAIM_TTL_MS))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, ORIGIN, self._value)

    def _dead_here(self, holder: Claimant) -> bool:
        if holder.host != self.me.host or holder.pid <= 0:
            return False
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


def _claimant(raw: bytes | None) -> Claimant | None:
    if raw is None:
        return None
    try:
        held = json.loads(raw)
        return Claimant(str(held["host"]), int(held["pid"]), int(held["port"]))
    except (ValueError, KeyError, TypeError):
        return Claimant("?", 0, 0)
