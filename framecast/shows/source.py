"""The seam every source of a channel's frames fits: the slideshow, the live screen, and the
sources still to come (other screen backends, camera and stream URLs) are each one module
behind it, chosen by the channel's `source` setting."""

from __future__ import annotations

from typing import Any, Protocol

from ..supervise import STOP_SECONDS


class Source(Protocol):
    """Publishes a channel's frames to its hub on threads of its own, between `start` and
    `stop` (called by the channel's director). `status` and `stall_reason` are read by HTTP
    threads; the source reads the channel's settings itself whenever it needs them."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop and join every thread the source started, each wait bounded by `timeout`;
        whether they all ended."""
        ...

    def wake(self) -> None:
        """Look again now: the settings changed, or something drawn on the frames did."""
        ...

    def status(self) -> dict[str, Any]:
        """What `/status` says of this source, as JSON fields of the channel."""
        ...

    def stall_reason(self) -> str | None:
        """Why the source is stuck while running, for `/healthz`; None when it is not."""
        ...
