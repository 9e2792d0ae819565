"""What `/status` says of a server, as one typed value: its channels' shows and the parts its
role adds. The process that runs the shows builds it (an edge, from what its origin published),
`as_json` turns it into JSON in one place, and the web layer adds what only it knows: streams,
viewers and sound."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import DEFAULT_CHANNEL


@dataclass(frozen=True)
class ServerStatus:
    channels: Mapping[str, Mapping[str, Any]]
    """Each channel's show as JSON fields (source, slide, slides, ...)."""
    uptime_s: float
    instance: str
    """The id of the process that runs the shows."""
    config_error: str | None = None
    parts: Mapping[str, Any] = field(default_factory=dict)
    """What the role adds, by key: a server's `web` renderings, an origin's `relay` and
    `edges`, an edge's `edge`."""

    def as_json(self) -> dict[str, Any]:
        """The JSON body: the default channel's fields at the top, as before channels existed,
        then the server's own, then every channel under `channels`."""
        channels = {name: dict(show) for name, show in self.channels.items()}
        return {
            **channels.get(DEFAULT_CHANNEL, {}),
            "uptime_s": round(self.uptime_s, 3),
            "config_error": self.config_error,
            "instance": self.instance,
            **self.parts,
            "channels": channels,
        }

    @classmethod
    def from_json(cls, body: object) -> ServerStatus:
        """The value `as_json` made (an origin's, read back by an edge); whatever is missing or
        of the wrong shape (junk put in Redis by someone else) is left out."""
        told: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        channels = told.get("channels")
        uptime = told.get("uptime_s")
        error = told.get("config_error")
        return cls(
            channels={
                str(name): show
                for name, show in (channels.items() if isinstance(channels, Mapping) else ())
                if isinstance(show, Mapping)
            },
            uptime_s=float(uptime) if isinstance(uptime, int | float) else 0.0,
            instance=str(told.get("instance") or ""),
            config_error=error if isinstance(error, str) else None,
            parts={key: told[key] for key in ("web",) if key in told},
        )
