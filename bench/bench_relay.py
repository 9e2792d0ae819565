"""Relay benchmarks (issue 19): origin → edge latency p50/p99 at 30 fps with ~380 KB frames and
1 or 8 edges, origin → viewer p50, an edge's CPU per 30 fps viewer, Redis's CPU per edge. The
origin side runs here (a hub fed at 30 fps and the real channel publisher); the edges are real
`slideshow.py --role edge` processes on a private redis-server. Prints markdown tables; run from
the repository root:

    .venv/bin/python bench/bench_relay.py
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import struct
import tempfile
import threading
import time
from pathlib import Path

from bench_core import table
from bench_screen import cpu_seconds
from harness import RELAY_SECRET, RedisServer, RoleServer, StreamReader, wait_for
from photos import photo

from framecast.hub import FrameHub
from framecast.relay.link import BulkLimit, connect
from framecast.relay.publisher import ChannelPublisher

FPS = 30


def frames_of(size_kb: int, count: int) -> list[bytes]:
    """`count` different 1920×1080 JPEGs of about `size_kb` KB (the quality searched once)."""
    pictures = [photo(1920, 1080, seed, grain=0.35) for seed in range(count)]
    sizes = {}
    for quality in range(30, 96):
        buffer = io.BytesIO()
        pictures[0].save(buffer, "JPEG", quality=quality)
        sizes[quality] = abs(buffer.tell() - size_kb * 1024)
    quality = min(sizes, key=sizes.__getitem__)
    encoded = []
    for picture in pictures:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        encoded.append(buffer.getvalue())
    return encoded


def stamped(jpeg: bytes, sent: float) -> bytes:
    """The JPEG with a comment segment holding its wall-clock send time, for the viewer."""
    comment = struct.pack(">d", sent)
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def sent_time(jpeg: bytes) -> float | None:
    if jpeg[2:4] != b"\xff\xfe":
        return None
    return float(struct.unpack(">d", jpeg[6:14])[0])


class Feeder:
    """Publishes into the origin's hub at FPS on its own thread, as a screen capture would."""

    def __init__(self, hub: FrameHub, frames: list[bytes]) -> None:
        self._hub = hub
        self._frames = frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        due = time.monotonic()
        n = 0
        while not self._stop.is_set():
            jpeg = stamped(self._frames[n % len(self._frames)], time.time())
            self._hub.publish(jpeg, 1920, 1080, standing=False)
            n += 1
            due += 1 / FPS
            self._stop.wait(max(0.0, due - time.monotonic()))


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core `pid` used over the next `seconds`, in percent."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / seconds


class Drain:
    """A TV that takes every byte of a stream and looks at none of them."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port))
        self._sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buffer = bytearray(1 << 20)
        try:
            while self._sock.recv_into(buffer):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._sock.close()


def lags(edges: list[RoleServer]) -> tuple[list[float], list[float]]:
    p50s, p99s = [], []
    for edge in edges:
        summary = edge.status()["edge"]
        p50s.append(float(summary["lag_ms"]))
        p99s.append(float(summary["lag_p99_ms"]))
    return p50s, p99s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured per setting")
    parser.add_argument("--frame-kb", type=int, default=380)
    parser.add_argument("--viewers", type=int, default=10, help="TVs for the per-viewer CPU")
    args = parser.parse_args()

    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    frames = frames_of(args.frame_kb, 8)
    size = statistics.mean(len(f) for f in frames) / 1024
    folder = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    redis = RedisServer(folder).start()
    assert redis.process is not None
    link = connect(redis.url, RELAY_SECRET.encode())
    hub = FrameHub()
    publisher = ChannelPublisher(link.client, link.signer, "default", lambda: hub, BulkLimit())
    publisher.start()
    feeder = Feeder(hub, frames)
    feeder.start()
    latency_rows: list[list[object]] = []
    redis_rows: list[list[object]] = []
    cpu_rows: list[list[object]] = []
    try:
        for count in args.edges:
            edges = [RoleServer("edge", redis.url, folder) for _ in range(count)]
            for edge in edges:
                edge.wait_ready(20)
            viewer = StreamReader(edges[0].port)
            offset = time.time() - time.monotonic()
            wait_for(lambda v=viewer: v.count() > FPS, 10, what="frames at the viewer")
            started = time.monotonic()
            redis_cpu = cpu_share(redis.process.pid, args.seconds)
            p50s, p99s = lags(edges)
            with_sent = [
                (at + offset - sent) * 1000
                for at, jpeg in list(viewer.frames)
                if at >= started and (sent := sent_time(jpeg)) is not None
            ]
            fps = len(with_sent) / args.seconds
            viewer.close()
            latency_rows.append(
                [
                    count,
                    f"{statistics.median(p50s):.1f}",
                    f"{max(p99s):.1f}",
                    f"{statistics.median(with_sent):.1f}",
                    f"{fps:.1f}",
                ]
            )
            redis_rows.append([count, f"{redis_cpu:.1f}", f"{redis_cpu / count:.2f}"])
            if count == min(args.edges):
                pid = edges[0].process.pid
                # As bench_load.py does: the edge on one core, its TVs (this process) on the other.
                os.sched_setaffinity(pid, {0})
                os.sched_setaffinity(0, {1})
                idle = cpu_share(pid, args.seconds / 2)
                drains = [Drain(edges[0].port) for _ in range(args.viewers)]
                first = edges[0]
                wait_for(lambda e=first: e.status()["clients"] == args.viewers, 10)
                busy = cpu_share(pid, args.seconds / 2)
                for drain in drains:
                    drain.close()
                os.sched_setaffinity(0, range(os.cpu_count() or 1))
                per_viewer = (busy - idle) / args.viewers
                cpu_rows.append([f"{idle:.1f}", args.viewers, f"{busy:.1f}", f"{per_viewer:.2f}"])
            for edge in edges:
                edge.stop()
    finally:
        feeder.stop()
        publisher.stop(1.0)
        link.client.close()
        redis.kill()
    print(f"\n{FPS} fps, frames of {size:.0f} KB, {os.cpu_count()} cores")
    table(
        "Origin → edge (hub publish → edge hub) and origin → viewer (one TV on edge 1)",
        ["edges", "edge lag p50 ms", "edge lag p99 ms (worst edge)", "viewer p50 ms", "viewer fps"],
        latency_rows,
    )
    table(
        f"Edge CPU per {FPS} fps viewer (% of one core)",
        ["edge, no viewer", "viewers", "edge, with them", "per viewer"],
        cpu_rows,
    )
    table("Redis CPU (% of one core)", ["edges", "redis-server", "per edge"], redis_rows)
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
