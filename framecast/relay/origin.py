"""`--role origin`: every channel's frames, the settings and the status into Redis; edges'
commands and demand back out of it.

Threads: one publisher per channel (publisher.py); the beat thread, which every second keeps
the origin's claim, publishes the settings and the status, and reads Redis's size limit; the
control thread, which reads the control stream (commands from edges' TVs and phones, and
wake-ups when an edge's demand changes) and the edges' heartbeats, and holds demand on the
hubs edges watch, so that a show nobody watches here still runs for the TVs of the edges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from ..config import Settings
from ..hub import FrameHub
from ..shows.registry import ShowRegistry
from ..status import ServerStatus
from ..supervise import LoopWorker
from . import settings_wire
from .claim import OriginClaim
from .link import (
    BEAT_SECONDS,
    CONTROL,
    EDGES,
    SETTINGS,
    STATUS,
    BulkLimit,
    OnceLog,
    hash_bytes,
    heartbeat_key,
    newest,
    read_streams,
)
from .publisher import ChannelPublisher
from .signing import Refusals, Signer, Unsigned

log = logging.getLogger(__name__)

STATUS_TTL_SECONDS = 30
EDGE_FRESH_SECONDS = 3.0
"""An edge whose heartbeat has not changed for this long no longer holds demand here."""
EDGE_FORGET_SECONDS = 60.0
"""An edge silent this long is taken off `/status` (and out of Redis)."""
CONTROL_BLOCK_MS = 1000


class _Edge:
    """One edge's last heartbeat, and when it last changed by this origin's clock."""

    def __init__(self, raw: bytes, seen: float, info: dict[str, Any]) -> None:
        self.raw = raw
        self.seen = seen
        self.info = info


def read_heartbeat(raw: bytes) -> dict[str, Any]:
    """An edge's heartbeat as written by `EdgeBeat`; ValueError for anything else (junk that
    someone else put in Redis must not break `/status`)."""
    info = json.loads(raw)
    if not isinstance(info, dict):
        raise ValueError("a heartbeat is a JSON object")
    return info


class Origin:
    """`start`, `apply` (config watcher's thread) and `stop` are called by the app that owns it;
    `status` by HTTP threads."""

    def __init__(
        self,
        claim: OriginClaim,
        shows: ShowRegistry,
        status: Callable[[], ServerStatus],
        settings: Callable[[], Settings],
    ) -> None:
        self._claim = claim
        self._client = claim.client
        self._signer: Signer = claim.link.signer
        self._refusals = Refusals()
        self._shows = shows
        self._status = status
        self._settings = settings
        self._limit = BulkLimit()
        self._lock = threading.Lock()
        self._publishers: dict[str, ChannelPublisher] = {}
        self._edges: dict[str, _Edge] = {}
        self._held: dict[str, tuple[FrameHub, contextlib.AbstractContextManager[None]]] = {}
        self._beat_due = threading.Event()
        self._beat_link = OnceLog("The origin")
        self._control_link = OnceLog("The origin's control reader")
        self._lost_claim = False
        self._beat = LoopWorker("origin-beat", self._beat_loop, self._beat_due.set)
        self._control = LoopWorker("origin-control", self._control_loop)

    # --- owner ------------------------------------------------------------------------------

    def start(self) -> None:
        self._sync_publishers()
        self._beat.start()
        self._control.start()

    def apply(self) -> None:
        """New settings were applied to the shows: publish them now, and each new channel."""
        self._sync_publishers()
        self._beat_due.set()

    def stop(self) -> None:
        # Told first, not once the beat has ended: its read of Redis blocks for up to a second.
        self._control.stopping.set()
        self._beat.stop()
        self._control.stop()
        with self._lock:
            publishers = list(self._publishers.values())
        for publisher in publishers:
            publisher.stop()
        self._hold(set())
        with contextlib.suppress(redis.RedisError):
            self._claim.release()

    def _sync_publishers(self) -> None:
        names = set(self._shows.names())
        with self._lock:
            added = [n for n in names if n not in self._publishers]
            removed = [p for n, p in self._publishers.items() if n not in names]
            for name in added:
                self._publishers[name] = ChannelPublisher(
                    self._client, self._signer, name, self._hub_of(name), self._limit
                )
            for publisher in removed:
                del self._publishers[publisher.channel]
            started = [self._publishers[name] for name in added]
        for publisher in removed:
            publisher.stop()
        for publisher in started:
            publisher.start()

    def _hub_of(self, name: str) -> Callable[[], FrameHub | None]:
        return lambda: self._shows.hub(name)

    # --- HTTP threads -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the origin's `/status` says of Redis and of every edge seen in the last
        minute."""
        now = time.monotonic()
        with self._lock:
            edges = [
                {
                    "id": edge.info.get("id"),
                    "address": edge.info.get("address"),
                    "viewers": edge.info.get("viewers"),
                    "fps": edge.info.get("fps"),
                    "lag_ms": edge.info.get("lag_ms"),
                    "online": not edge.info.get("stale", False),
                    "last_seen_s": round(now - edge.seen, 1),
                }
                for edge in self._edges.values()
            ]
            published = {name: p.published for name, p in self._publishers.items()}
            skipped = {name: p.skipped for name, p in self._publishers.items() if p.skipped}
        return {
            "relay": {
                "role": "origin",
                "redis_error": self._beat_link.error,
                "published_frames": published,
                "skipped_frames": skipped,
                "refused": self._refusals.counts(),
            },
            "edges": sorted(edges, key=lambda edge: str(edge["id"])),
        }

    # --- beat thread ------------------------------------------------------------------------

    def _beat_loop(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self._publish_state()
                self._beat_link.back()
            except redis.RedisError as error:
                self._beat_link.lost(error)
            self._beat_due.wait(BEAT_SECONDS)
            self._beat_due.clear()

    def _publish_state(self) -> None:
        if not self._claim.refresh():
            if not self._lost_claim:
                log.error("Another origin has claimed Redis: this one's edges may show either")
            self._lost_claim = True
        else:
            self._lost_claim = False
        self._limit.refresh(self._client)
        status = {
            "origin": self._claim.me.__dict__,
            "at": time.time(),
            "status": self._status().as_json(),
        }
        settings = self._signer.seal(SETTINGS, settings_wire.encode(self._settings()))
        status_bytes = self._signer.seal(STATUS, json.dumps(status, default=str).encode())
        with self._client.pipeline(transaction=False) as pipe:
            pipe.set(SETTINGS, settings)
            pipe.set(STATUS, status_bytes, ex=STATUS_TTL_SECONDS)
            pipe.execute()

    # --- control thread ---------------------------------------------------------------------

    def _control_loop(self, stopping: threading.Event) -> None:
        last: bytes | str | None = None
        while not stopping.is_set():
            try:
                if last is None:
                    entry = newest(self._client, CONTROL)
                    last = "0-0" if entry is None else entry[0]
                reply = read_streams(self._client, {CONTROL: last}, CONTROL_BLOCK_MS)
                for _, entries in reply:
                    for entry_id, fields in entries:
                        last = entry_id
                        self._obey(fields)
                self._read_edges()
                self._control_link.back()
            except redis.RedisError as error:
                self._control_link.lost(error)
                last = None
                stopping.wait(BEAT_SECONDS)

    def _obey(self, fields: dict[bytes, bytes]) -> None:
        try:
            fields = self._signer.check_fields(CONTROL, fields)
        except Unsigned:
            self._refusals.refused_unsigned(CONTROL)
            return
        kind = fields.get(b"kind", b"").decode(errors="replace")
        channel = fields.get(b"channel", b"").decode(errors="replace")
        value = fields.get(b"value", b"").decode(errors="replace")
        edge = fields.get(b"edge", b"?").decode(errors="replace")
        try:
            if kind == "command":
                self._shows.command(channel, value)
                log.info("Control: %s on %s, from edge %s", value, channel, edge)
            elif kind == "source":
                self._shows.switch_source(channel, value)
        except (KeyError, ValueError) as error:
            log.warning("Ignored %s %s on %s from edge %s: %s", kind, value, channel, edge, error)

    def _read_edges(self) -> None:
        """Every edge's heartbeat; demand held on the hubs of the channels fresh edges watch."""
        now = time.monotonic()
        beats = hash_bytes(self._client, EDGES)
        edges: dict[str, _Edge] = {}
        with self._lock:
            for edge_id, raw in beats.items():
                known = self._edges.get(edge_id)
                if known is not None and known.raw == raw:
                    edges[edge_id] = known
                    continue
                key = heartbeat_key(edge_id)
                try:
                    edges[edge_id] = _Edge(raw, now, read_heartbeat(self._signer.open(key, raw)))
                except Unsigned:
                    self._refusals.refused_unsigned(key)
                except ValueError as error:
                    self._refusals.refused(key, f"not a heartbeat ({error})")
            gone = [e for e, edge in edges.items() if now - edge.seen > EDGE_FORGET_SECONDS]
            for edge_id in gone:
                del edges[edge_id]
            self._edges = edges
            wanted = {
                str(name)
                for edge in edges.values()
                if now - edge.seen <= EDGE_FRESH_SECONDS
                for name in edge.info.get("wants", [])
            }
        if gone:
            self._client.hdel(EDGES, *gone)
        self._hold(wanted)

    def _hold(self, wanted: set[str]) -> None:
        """Want frames from the hubs of `wanted`, as a TV here would (control thread; at stop,
        the owner's thread once the control thread has ended)."""
        for name in list(self._held):
            hub, demand = self._held[name]
            if name not in wanted or self._shows.hub(name) is not hub:
                demand.__exit__(None, None, None)
                del self._held[name]
        for name in wanted - set(self._held):
            hub_now = self._shows.hub(name)
            if hub_now is not None:
                demand = hub_now.demand()
                demand.__enter__()
                self._held[name] = (hub_now, demand)
