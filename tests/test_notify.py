"""systemd's notify protocol, against a notify socket the test owns."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import Server, environment, solid, wait_for

from framecast.service.notify import ServiceNotifier


class NotifySocket:
    """A datagram socket standing in for systemd's, collecting what it is told."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def received(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, NotifySocket]]:
    path = str(tmp_path / "notify.sock")
    listener = NotifySocket(path)
    yield path, listener
    listener.close()


def test_the_server_says_ready_feeds_the_watchdog_and_says_stopping(
    start_server: Callable[..., Server],
    images: Path,
    notify_socket: tuple[str, NotifySocket],
) -> None:
    path, listener = notify_socket
    solid(images / "slide.png", (200, 30, 30))
    env = environment(NOTIFY_SOCKET=path, WATCHDOG_USEC="400000", WATCHDOG_PID=None)
    server = start_server(env=env)
    wait_for(
        lambda: sum(m == "WATCHDOG=1" for m in listener.received()) >= 3,
        10,
        what="three watchdog pings",
    )
    ready = [m for m in listener.messages if m.startswith("READY=1")]
    assert len(ready) == 1
    assert f"127.0.0.1:{server.port}" in ready[0]
    assert listener.messages.index(ready[0]) < listener.messages.index("WATCHDOG=1")
    assert server.stop(signal.SIGTERM) == 0
    assert "STOPPING=1" in listener.received()


def test_the_watchdog_is_fed_only_while_healthy(notify_socket: tuple[str, NotifySocket]) -> None:
    path, listener = notify_socket
    notifier = ServiceNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2"})
    assert notifier.watchdog_every is not None
    notifier.keep_alive(lambda: None)
    notifier.keep_alive(lambda: "the show has not moved on for 40 s")
    notifier.keep_alive(lambda: None)
    assert listener.received() == [
        "WATCHDOG=1",
        "STATUS=unhealthy: the show has not moved on for 40 s",
        "WATCHDOG=1",
    ]


def test_an_abstract_socket_name_is_understood() -> None:
    name = f"framecast-test-{os.getpid()}"
    listener = NotifySocket("\0" + name)
    try:
        ServiceNotifier({"NOTIFY_SOCKET": "@" + name}).ready("up")
        assert listener.received() == ["READY=1\nSTATUS=up"]
    finally:
        listener.close()


def test_without_systemd_or_for_another_process_nothing_is_sent(
    notify_socket: tuple[str, NotifySocket],
) -> None:
    path, listener = notify_socket
    assert not ServiceNotifier({}).active
    ServiceNotifier({}).ready("up")
    other = ServiceNotifier(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2", "WATCHDOG_PID": str(os.getpid() + 1)}
    )
    assert other.watchdog_every is None
    other.keep_alive(lambda: None)
    assert listener.received() == []


def test_a_missing_notify_socket_is_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = ServiceNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    with caplog.at_level(logging.WARNING):
        notifier.ready("up")
        notifier.stopping()
    assert [r.getMessage()[:40] for r in caplog.records] == [
        "Cannot tell systemd (NOTIFY_SOCKET): [Er"
    ]
