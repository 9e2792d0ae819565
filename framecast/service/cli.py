"""Command line, wiring and lifetime: builds the parts, serves HTTP, stops cleanly on a signal."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Protocol

import redis
from flask import Flask
from werkzeug.serving import BaseWSGIServer

from ..checks import token
from ..config import ConfigError, ServerSettings, Settings, load_settings
from ..netinfo import local_addresses
from ..qr import terminal_qr
from ..relay.claim import OriginClaim
from ..relay.edge import Edge
from ..relay.link import RelayError, RelayLink, connect
from ..relay.signing import SECRET_VARIABLE, secret_from_environment
from .http_server import HeaderDeadline, PooledWSGIServer, request_handler
from .mdns import Announcer
from .memory import TRIM_EVERY_SECONDS, keep_freed_memory, release_free_memory
from .notify import ServiceNotifier
from .pool import HandlerPool
from .runtime import Framecast

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 512
EXIT_BAD_START = 2
_CHECKOUT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
DEFAULT_CONFIG = _CHECKOUT_CONFIG if _CHECKOUT_CONFIG.is_file() else Path("config.toml")
"""`config.toml` beside `slideshow.py` in a checkout; installed (`pip install .`, the
`framecast` command), the one in the current folder."""


SPARE_THREADS = 16
"""Threads started beyond `max_clients`: for pages, `/status` and snapshots beside full streams."""
STOP_JOIN_SECONDS = 1.0
SIGNAL_CHECK_SECONDS = 0.2
EDGE_TOKEN_VARIABLE = "FRAMECAST_TOKEN"
"""An edge's own view token ([server] token), from the environment: not on its command line,
where every user of the machine could read it."""


class SettingsSource(Protocol):
    """Where the running server's settings come from: the config file, or an origin."""

    @property
    def settings(self) -> Settings: ...

    def reload(self) -> None: ...


class Service(Protocol):
    """What the server runs: `Framecast` (one machine, or an origin) or an `Edge`."""

    @property
    def app(self) -> Flask: ...

    @property
    def watcher(self) -> SettingsSource: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> str | None: ...

    def warn_if_exposed(self) -> None: ...


def _without_stop_race(record: logging.LogRecord) -> bool:
    """watchdog logs an error when an event arrives while its observer stops: harmless at exit."""
    return "called when the thread is inactive" not in record.getMessage()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="framecast",
        description="Stream a folder of images to every TV browser on the network as MJPEG.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="the settings file, watched and applied while running (default: %(default)s)",
    )
    parser.add_argument(
        "--host", help="address to listen on, overriding [server] host (0.0.0.0 = every address)"
    )
    parser.add_argument("--port", type=int, help="TCP port, overriding [server] port")
    parser.add_argument(
        "--mdns",
        action="store_true",
        help="announce the server on the LAN as <[server] name>.local (as [server] mdns = true)",
    )
    parser.add_argument(
        "--role",
        choices=("origin", "edge"),
        help="origin: also send every channel to edges through Redis; edge: serve the origin's "
        f"channels from Redis, with no images and no config file (its own token: "
        f"${EDGE_TOKEN_VARIABLE}); both need --redis and the secret they share in "
        f"${SECRET_VARIABLE}",
    )
    parser.add_argument("--redis", metavar="URL", help="the Redis of --role, redis://HOST:6379/0")
    args = parser.parse_args(argv)
    if (args.role is None) != (args.redis is None):
        parser.error("--role and --redis go together")
    return args


def open_listener(host: str, port: int) -> socket.socket:
    """A listening socket with a backlog sized for a building full of screens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_problem(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is already in use by another program: stop it or choose --port"
    if error.errno == errno.EACCES:
        return f"not allowed to listen on port {port}: choose a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: check [server] host or --host"
    return f"cannot listen on {host}:{port}: {error.strerror or error}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("watchdog.observers.inotify").addFilter(_without_stop_race)
    try:
        link = None
        if args.role is not None:
            link = connect(args.redis, secret_from_environment())
        settings = _edge_settings() if args.role == "edge" else load_settings(args.config)
    except (ValueError, RelayError) as error:
        log.error("Cannot start: %s", error)
        return EXIT_BAD_START
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    try:
        listener = open_listener(host, port)
    except OSError as error:
        log.error("Cannot start: %s", _bind_problem(error, host, port))
        return EXIT_BAD_START
    if sys.platform != "win32" and os.geteuid() == 0:
        user = os.environ.get("SUDO_USER") or "<user>"
        log.warning(
            "Running as root, which Framecast does not need: run it as a normal user, "
            "e.g. sudo -u %s .venv/bin/python slideshow.py",
            user,
        )
    keep_freed_memory()
    port = listener.getsockname()[1]
    try:
        framecast = _service(args, link, settings, host, port)
    except RelayError as error:
        listener.close()
        log.error("Cannot start: %s", error)
        return EXIT_BAD_START
    deadline = HeaderDeadline()
    pool = HandlerPool()
    handler = request_handler(deadline, lambda: framecast.watcher.settings)
    httpd = PooledWSGIServer(framecast.app, handler, listener, pool)
    deadline.start()
    pool.start(settings.server.max_clients + SPARE_THREADS)
    try:
        mdns = args.mdns or settings.server.mdns
        return _serve(framecast, httpd, host, port, mdns)
    finally:
        pool.stop(STOP_JOIN_SECONDS)
        deadline.stop(STOP_JOIN_SECONDS)


def _edge_settings() -> Settings:
    """An edge's settings until the origin's arrive: the defaults, with its own token."""
    value = os.environ.get(EDGE_TOKEN_VARIABLE)
    try:
        return Settings(server=ServerSettings(token=None if value is None else token(value)))
    except ValueError as allowed:
        raise ConfigError(f"${EDGE_TOKEN_VARIABLE} is not allowed: expected {allowed}") from None


def _service(
    args: argparse.Namespace, link: RelayLink | None, settings: Settings, host: str, port: int
) -> Service:
    """The edge, or the shows (claiming Redis first for an origin); RelayError when another
    origin holds Redis."""
    if link is not None and args.role == "edge":
        return Edge(link, replace(settings.server, host=host, port=port), port)
    claim = None
    if link is not None:
        claim = OriginClaim(link, port)
        try:
            holder = claim.take()
        except redis.RedisError as error:
            raise RelayError(f"cannot use Redis: {error}") from None
        if holder is not None:
            raise RelayError(
                f"another origin uses this Redis ({holder.describe()}): stop it, or give this "
                "one another Redis or database"
            )
    return Framecast(args.config, settings, host, port, claim)


def _serve(framecast: Service, httpd: BaseWSGIServer, host: str, port: int, mdns: bool) -> int:
    """Run until SIGINT or SIGTERM; a second signal exits at once. SIGHUP reloads the config.
    Meanwhile the main thread hands freed memory back to the system every
    `TRIM_EVERY_SECONDS`, and under systemd feeds its watchdog while the shows and the HTTP
    listener are alive."""
    notifier = ServiceNotifier()
    stop = threading.Event()
    hangup = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(128 + signum)
        log.info("Stopping (%s)", signal.Signals(signum).name)
        stop.set()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        """Only a flag: the reload reads a file and logs, which is for the main loop to do."""
        hangup.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if sys.platform != "win32":
        signal.signal(signal.SIGHUP, on_hangup)
    framecast.start()
    http_thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
    )
    http_thread.start()
    urls = [f"http://{address}:{port}/" for address in local_addresses(host)]
    log.info("Framecast is streaming: open %s on a TV browser", " or ".join(urls))
    log.info("Point a phone's camera at this code to open %s:\n%s", urls[0], terminal_qr(urls[0]))
    framecast.warn_if_exposed()
    notifier.ready(f"streaming on {' '.join(urls)}")
    announcer = None
    if mdns:
        lan = [a for a in local_addresses(host) if a != "localhost"] or ["127.0.0.1"]
        announcer = Announcer(framecast.watcher.settings.server.name, port, lan)
        announcer.start()
    # Short waits: a signal that the kernel hands to another thread is only seen by Python
    # once the main thread wakes.
    next_trim = time.monotonic() + TRIM_EVERY_SECONDS
    while not stop.wait(SIGNAL_CHECK_SECONDS):
        if hangup.is_set():
            hangup.clear()
            log.info("Reloading the config (SIGHUP)")
            framecast.watcher.reload()
        if time.monotonic() >= next_trim:
            release_free_memory()
            next_trim += TRIM_EVERY_SECONDS
        notifier.keep_alive(
            lambda: framecast.health() if http_thread.is_alive() else "the HTTP listener stopped"
        )
    notifier.stopping()
    if announcer is not None:
        announcer.stop()
    framecast.stop()
    httpd.shutdown()
    http_thread.join(STOP_JOIN_SECONDS)
    log.info("Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
