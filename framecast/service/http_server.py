"""The HTTP server under the Flask app: Werkzeug's, with each connection on a pooled thread, a
deadline for the request head, a read and write timeout per connection, and its log lines
free of secrets."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from ..config import Settings
from ..logtext import OncePerMinute, printable
from ..supervise import Worker
from .pool import HandlerPool

log = logging.getLogger(__name__)

HEADER_DEADLINE_SECONDS = 10.0
"""A client must send its whole request head within this time (a slowloris does not)."""

HIDDEN = "(hidden)"
_SECRET_IN_TEXT = re.compile(r"(?i)(token=|bearer\s+)[^&\s'\"]*")


class HeaderDeadline(Worker):
    """Hangs up on connections that take too long to send their request head.

    One thread for all connections, owned by `_serve`; handlers call `watch` and `done` on their
    own HTTP threads.
    """

    def __init__(self, seconds: float = HEADER_DEADLINE_SECONDS) -> None:
        super().__init__("header-deadline")
        self._seconds = seconds
        self._lock = threading.Lock()
        self._waiting: dict[socket.socket, float] = {}

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._waiting[sock] = time.monotonic() + self._seconds

    def done(self, sock: socket.socket) -> None:
        with self._lock:
            self._waiting.pop(sock, None)

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            now = time.monotonic()
            with self._lock:
                late = [sock for sock, deadline in self._waiting.items() if deadline < now]
                for sock in late:
                    del self._waiting[sock]
            for sock in late:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if late:
                log.info("Hung up on %d connection(s) too slow to send a request", len(late))


def without_secrets(text: str, token: str | None) -> str:
    """`text` with the configured token, and any `token=` value or bearer token, hidden."""
    if token:
        text = text.replace(token, HIDDEN).replace(quote(token, safe=""), HIDDEN)
    return _SECRET_IN_TEXT.sub(rf"\g<1>{HIDDEN}", text)


def request_handler(
    deadline: HeaderDeadline, settings: Callable[[], Settings]
) -> type[WSGIRequestHandler]:
    """Werkzeug's handler, with a deadline for the request head, a read and write deadline of
    `client_timeout` for the whole connection, no line per request, malformed requests logged
    once a minute per address without secrets, and no version in the `Server` header."""
    log_once = OncePerMinute()

    class FramecastRequestHandler(WSGIRequestHandler):
        # Werkzeug closes every connection anyway; HTTP/1.0 spares the stream chunked framing,
        # so a frame is one write, not three.
        protocol_version = "HTTP/1.0"

        def setup(self) -> None:
            """On the connection's pool thread. Without a socket timeout a client that sends
            less body than it announced holds the thread for ever: after answering, Werkzeug
            reads what is left of the body."""
            super().setup()
            self.connection.settimeout(settings().server.client_timeout)
            deadline.watch(self.connection)

        def parse_request(self) -> bool:
            try:
                return bool(super().parse_request())
            finally:
                deadline.done(self.connection)

        def finish(self) -> None:
            deadline.done(self.connection)
            super().finish()

        def version_string(self) -> str:
            return "Framecast"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return

        def log_error(self, format: str, *args: Any) -> None:
            """Werkzeug and http.server call this for a request they refuse themselves (bad
            request line, header too long); the line quotes the client's text."""
            self._log_refused(format % args if args else format)

        def log_message(self, format: str, *args: Any) -> None:
            self._log_refused(format % args if args else format)

        def _log_refused(self, message: str) -> None:
            address = str(self.client_address[0]) if self.client_address else "?"
            if log_once(f"refused {address}"):
                shown = printable(without_secrets(message, settings().server.token))
                log.warning("Refused a request from %s: %s", address, shown)

    return FramecastRequestHandler


class PooledWSGIServer(BaseWSGIServer):
    """Werkzeug's WSGI server, each connection run on a thread of a `HandlerPool`."""

    multithread = True

    def __init__(
        self,
        app: Any,
        handler: type[WSGIRequestHandler],
        listener: socket.socket,
        pool: HandlerPool,
    ) -> None:
        host, port = listener.getsockname()[:2]
        super().__init__(host, port, app, handler, fd=listener.fileno())
        self._pool = pool

    def process_request(self, request: Any, client_address: Any) -> None:
        """Called by the accept loop: hand the connection to a waiting thread."""
        self._pool.submit(lambda: self._handle(request, client_address))

    def _handle(self, request: Any, client_address: Any) -> None:
        """Runs on a pool thread, as `ThreadingMixIn` would on a new one."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
