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
    def from_json(cls, body: Mapping[str, Any]) -> ServerStatus:
        """The value `as_json` made (an origin's, read back by an edge); missing parts are
        empty."""
        channels = body.get("channels")
        return cls(
            channels=channels if isinstance(channels, dict) else {},
            uptime_s=float(body.get("uptime_s") or 0.0),
            instance=str(body.get("instance") or ""),
            config_error=body.get("config_error"),
            parts={key: body[key] for key in ("web",) if key in body},
        )
