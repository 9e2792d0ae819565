from __future__ import annotations

import threading
import time

from framecast.hub import FrameHub
from framecast.web.mjpeg import MIMETYPE, PART_END, PART_HEADERS, part


def test_wait_newer_returns_the_newest_frame_skipping_missed_ones() -> None:
    hub = FrameHub()
    for n in range(5):
        hub.publish(bytes([n]), 1, 1)
    frame = hub.wait_newer(0, 0.1)
    assert frame is not None
    assert frame.seq == 5
    assert frame.jpeg == b"\x04"
    assert hub.frames == 5


def test_wait_newer_times_out_with_none() -> None:
    hub = FrameHub()
    hub.publish(b"x", 1, 1)
    assert hub.wait_newer(1, 0.05) is None


def test_publish_wakes_a_waiting_client() -> None:
    hub = FrameHub()
    got: list[int] = []

    def client() -> None:
        frame = hub.wait_newer(0, 5)
        got.append(frame.seq if frame else -1)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.05)
    hub.publish(b"x", 1, 1)
    thread.join(2)
    assert got == [1]


def test_close_wakes_every_waiting_client_at_once() -> None:
    hub = FrameHub()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(hub.wait_newer(0, 30))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    hub.close()
    for thread in threads:
        thread.join(2)
    assert results == [None] * 20
    assert time.monotonic() - started < 1
    assert hub.closed


def test_subscribe_counts_clients() -> None:
    hub = FrameHub()
    with hub.subscribe():
        with hub.subscribe():
            assert hub.clients == 2
        assert hub.clients == 1
    assert hub.clients == 0


def test_stream_bytes_send_the_next_parts_headers_right_after_each_jpeg() -> None:
    body = PART_HEADERS + part(b"JPEG1") + part(b"JPEG2")
    headers = b"--frame\r\nContent-Type: image/jpeg\r\n\r\n"
    assert headers == PART_HEADERS
    assert b"\r\n" + headers == PART_END
    assert body == headers + b"JPEG1\r\n" + headers + b"JPEG2\r\n" + headers
    assert MIMETYPE == "multipart/x-mixed-replace; boundary=frame"
