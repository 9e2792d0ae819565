"""An edge's channels: the web layer's `Channels` served from frames that came through Redis.

Each channel has a local `FrameHub`, filled by the subscriber thread, so TVs are served
exactly as on a single server. Control (next, pause, ...) is passed on to the origin.
"""

from __future__ import annotations

import collections
import logging
import statistics
import threading
import time
from collections.abc import Callable

from ..config import DEFAULT_CHANNEL, Settings
from ..control import COMMANDS, source_name
from ..hub import Frame, FrameHub
from .offline import mark_offline
from .wire import RemoteFrame

log = logging.getLogger(__name__)

LAG_SAMPLES = 300
"""Ten seconds at 30 fps: the lag percentiles in `/status` and the heartbeat."""
FPS_WINDOW_SECONDS = 5.0

SendControl = Callable[[dict[str, str]], None]


class Reception:
    """How late frames come from the origin and how many a second (subscriber thread writes,
    beat and HTTP threads read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lags: collections.deque[float] = collections.deque(maxlen=LAG_SAMPLES)
        self._arrivals: collections.deque[float] = collections.deque()

    def add(self, sent: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._lags.append((time.time() - sent) * 1000)
            self._arrivals.append(now)
            while self._arrivals and self._arrivals[0] < now - FPS_WINDOW_SECONDS:
                self._arrivals.popleft()

    def summary(self) -> dict[str, float | None]:
        now = time.monotonic()
        with self._lock:
            lags = sorted(self._lags)
            fresh = [t for t in self._arrivals if t >= now - FPS_WINDOW_SECONDS]
        if not lags:
            return {"fps": 0.0, "lag_ms": None, "lag_p99_ms": None}
        return {
            "fps": round(len(fresh) / FPS_WINDOW_SECONDS, 1),
            "lag_ms": round(statistics.median(lags), 2),
            "lag_p99_ms": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 2),
        }


class EdgeChannels:
    """The lookups and control are called by HTTP threads, `deliver` and `confirm` by the
    subscriber thread, `mark_offline` and `wants` by the beat thread, `close` at stop."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        send: SendControl,
        on_demand: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._send = send
        self._on_demand = on_demand
        self._lock = threading.Lock()
        self._hubs: dict[str, FrameHub] = {}
        self._marked: dict[str, tuple[Frame, Frame]] = {}
        """Per channel, the frame published with the offline mark and the frame it marks."""
        self._closed = False
        self.reception = Reception()

    # --- HTTP threads -----------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._settings().shows())

    def hub(self, name: str) -> FrameHub | None:
        return self.watch(name) if name in self._settings().shows() else None

    def watch(self, name: str) -> FrameHub:
        """The channel's hub; one for a channel the origin does not have (yet) too, which
        fills when it comes."""
        with self._lock:
            hub = self._hubs.get(name)
            if hub is None:
                hub = self._hubs[name] = FrameHub()
                hub.on_demand(self._on_demand)
                if self._closed:
                    hub.close()
            return hub

    def channel_of(self, tv: str) -> str:
        return self._settings().channel_of(tv) or DEFAULT_CHANNEL

    def assigned(self, tv: str) -> bool:
        return self._settings().channel_of(tv) is not None

    def clients(self) -> int:
        with self._lock:
            hubs = list(self._hubs.values())
        return sum(hub.clients for hub in hubs)

    def command(self, name: str, action: str) -> None:
        """Passed on to the origin's show; ValueError and KeyError as the origin's would."""
        if action not in COMMANDS:
            raise ValueError(f"unknown command {action!r}")
        if name not in self._settings().shows():
            raise KeyError(name)
        self._send({"kind": "command", "channel": name, "value": action})

    def switch_source(self, name: str, source: str) -> None:
        source_name(source)
        if name not in self._settings().shows():
            raise KeyError(name)
        self._send({"kind": "source", "channel": name, "value": source})

    # --- subscriber thread ------------------------------------------------------------------

    def deliver(self, name: str, frame: RemoteFrame) -> None:
        hub = self.watch(name)
        self.reception.add(frame.sent)
        with self._lock:
            self._marked.pop(name, None)
            hub.publish(frame.jpeg, frame.width, frame.height, frame.standing)

    def confirm(self, name: str) -> None:
        """The origin is there and sent nothing new: a live frame is still current."""
        with self._lock:
            hub = self._hubs.get(name)
        if hub is not None:
            frame = hub.latest()
            if frame is not None and not frame.standing:
                hub.confirm()

    # --- beat thread ------------------------------------------------------------------------

    def wants(self) -> list[str]:
        """The channels some TV or snapshot here wants frames of now."""
        with self._lock:
            return sorted(name for name, hub in self._hubs.items() if hub.wanted)

    def mark_offline(self) -> None:
        """Show every channel's last frame marked "offline", encoded once per frame."""
        with self._lock:
            hubs = list(self._hubs.items())
        for name, hub in hubs:
            frame = hub.latest()
            if frame is None or self._marked.get(name, (None,))[0] is frame:
                continue
            marked = mark_offline(frame.jpeg)
            with self._lock:
                if hub.latest() is frame:
                    shown = hub.publish(marked, frame.width, frame.height)
                    self._marked[name] = (shown, frame)

    def unmark(self) -> None:
        """The origin is heard again: a marked frame that no new frame replaced goes back to
        the frame it marked."""
        with self._lock:
            for name, (shown, original) in list(self._marked.items()):
                hub = self._hubs[name]
                if hub.latest() is shown:
                    hub.publish(original.jpeg, original.width, original.height, original.standing)
                del self._marked[name]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            hubs = list(self._hubs.values())
        for hub in hubs:
            hub.close()
