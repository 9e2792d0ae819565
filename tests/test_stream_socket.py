"""How a stream's kernel send buffer follows its client, on a real socket pair."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from framecast.web.fanout import (
    LARGE_SEND_BUFFER,
    QUICK_WRITES_FOR_LARGE,
    SLOW_WRITE_SECONDS,
    SMALL_SEND_BUFFER,
    SendBuffer,
)

FRAME = 300_000


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


def send_buffer(sock: socket.socket) -> int:
    """What the kernel granted; Linux reports twice the size asked for."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2


def granted(size: int) -> int:
    """`size`, or the most the kernel lets a program ask for (`net.core.wmem_max`)."""
    return min(size, int(Path("/proc/sys/net/core/wmem_max").read_text()))


def test_the_first_frame_gets_room_then_the_client_must_keep_up_for_a_large_buffer(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sock, _ = pair
    client = SendBuffer(sock)
    client.writing(FRAME)
    assert send_buffer(sock) == granted(FRAME)
    client.wrote(0.001)
    assert send_buffer(sock) == SMALL_SEND_BUFFER
    for _ in range(QUICK_WRITES_FOR_LARGE - 1):
        client.writing(FRAME)
        client.wrote(0.001)
    assert send_buffer(sock) == SMALL_SEND_BUFFER
    client.wrote(0.001)
    assert send_buffer(sock) == granted(LARGE_SEND_BUFFER)
    client.wrote(SLOW_WRITE_SECONDS)
    assert send_buffer(sock) == SMALL_SEND_BUFFER
