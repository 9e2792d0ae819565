"""Snapshot memory (issue 11): 100 concurrent /snapshot.jpg requests, each for a distinct size,
against a real server on two 1920×1080 photos. Counts 200s and 429s and reads the server's RSS
from /proc before, at its peak (VmHWM, reset just before the burst, and sampled) and after.
Prints a markdown table; run from the repository root:

    .venv/bin/python bench/bench_snapshots.py [--requests N]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from bench_core import table
from harness import Server, wait_for
from photos import photo

from framecast.web.snapshot import SNAPSHOT_MAX

RUNS = [("jpeg", 2), ("png", 2), ("jpeg", 64), ("png", 64)]
"""(format, [server] snapshot_workers): the default, and the most the config allows."""
SAMPLE_SECONDS = 0.005


def status_kb(pid: int, key: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(f"{key}:")[1].split()[0])


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current RSS (Linux 4.0+, own processes); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def start(work: Path, workers: int) -> Server:
    folder = work / "images"
    if not folder.exists():
        folder.mkdir()
        for n in range(2):
            photo(1920, 1080, seed=70 + n).save(folder / f"photo{n}.jpg", quality=90)
    config = work / "config.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nsnapshot_workers = {workers}\n'
        "[stream]\nwidth = 1920\nheight = 1080\n"
        '[slideshow]\nfolder = "images"\ninterval = 3600\ntransition = "none"\n'
    )
    server = Server(config).wait_ready(20)
    wait_for(lambda: server.get("/snapshot.jpg")[0] == 200, 20, what="a first frame")
    return server


def burst(port: int, fmt: str, requests: int) -> list[int]:
    """`requests` snapshots at once, widths spread over 1..3840; their status codes."""
    codes: list[int] = []
    lock = threading.Lock()
    ready = threading.Barrier(requests)

    def one(width: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.connect()
            ready.wait(60)
            connection.request("GET", f"/snapshot.jpg?width={width}&format={fmt}")
            response = connection.getresponse()
            response.read()
            code = response.status
        except (OSError, threading.BrokenBarrierError):
            ready.abort()
            code = 0
        finally:
            connection.close()
        with lock:
            codes.append(code)

    widths = [max(1, round((n + 1) * SNAPSHOT_MAX[0] / requests)) for n in range(requests)]
    threads = [threading.Thread(target=one, args=(width,)) for width in widths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def run(work: Path, fmt: str, workers: int, requests: int) -> list[object]:
    server = start(work, workers)
    pid = server.process.pid
    try:
        before = status_kb(pid, "VmRSS")
        exact = reset_peak(pid)
        sampled = before
        done = threading.Event()

        def sample() -> None:
            nonlocal sampled
            while not done.wait(SAMPLE_SECONDS):
                sampled = max(sampled, status_kb(pid, "VmRSS"))

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        codes = burst(server.port, fmt, requests)
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
        after = status_kb(pid, "VmRSS")
        peak = max(sampled, status_kb(pid, "VmHWM") if exact else 0)
        alive = server.process.poll() is None
    finally:
        server.stop()
    others = len(codes) - codes.count(200) - codes.count(429)
    return [
        fmt,
        workers,
        requests,
        codes.count(200),
        codes.count(429),
        others,
        mb(before),
        mb(peak),
        mb(after),
        f"{seconds:.1f} s",
        "yes" if alive else "no",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    print(
        f"Framecast snapshot benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores"
    )
    work = Path(tempfile.mkdtemp(prefix="framecast-snapshots-"))
    try:
        rows = [run(work, fmt, workers, args.requests) for fmt, workers in RUNS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table(
        f"{args.requests} concurrent snapshots of distinct widths (1..3840) of a 1920×1080 stream",
        [
            "format",
            "snapshot_workers",
            "requests",
            "200",
            "429",
            "other",
            "RSS before",
            "peak RSS",
            "RSS after",
            "burst",
            "server alive",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
