"""systemd's notify protocol: tell the service manager when the server is ready, and keep its
watchdog fed only while the server is healthy, so a wedged server is restarted.

The protocol is one datagram per message to the socket named by `$NOTIFY_SOCKET` (a path, or
with a leading "@" an abstract name). Started by hand, without that variable, it does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class ServiceNotifier:
    """Sends READY=1, WATCHDOG=1 and STOPPING=1; called by the server's main thread."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        path = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        self._complained = False
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        for_us = not pid or (pid.isdigit() and int(pid) == os.getpid())
        self.watchdog_every: float | None = (
            int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and for_us else None
        )
        """Half the watchdog's timeout, as systemd advises; None without a watchdog."""
        self._next_ping = 0.0

    @property
    def active(self) -> bool:
        return bool(self._address)

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def keep_alive(self, check: Callable[[], str | None]) -> None:
        """Feed the watchdog when it is due, unless `check` (asked only then) says the server is
        unwell: then systemd's watchdog runs out and it restarts the service."""
        if self.watchdog_every is None or time.monotonic() < self._next_ping:
            return
        self._next_ping = time.monotonic() + self.watchdog_every
        problem = check()
        if problem is None:
            self._send("WATCHDOG=1")
        else:
            self._send(f"STATUS=unhealthy: {problem}")

    def _send(self, message: str) -> None:
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self._address)
        except OSError as error:
            if not self._complained:
                self._complained = True
                log.warning("Cannot tell systemd (NOTIFY_SOCKET): %s", error)
