"""Many-screens benchmarks (issue 4): N streams, a burst, a slow client, churn, a big folder,
a soak.

    .venv/bin/python bench/bench_load.py [--soak-minutes M] [--only NAME]    (from the root)

The server runs pinned to core 0 and the load generator (bench/loadgen.c, compiled here with cc)
to core 1. Each N-streams row also runs a tutorial-way server of our own (one generator per
client reading the file, under Werkzeug's threaded server) for the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_core import table
from harness import ROOT, Server, StreamReader, free_port, wait_for
from photos import photo
from PIL import Image

SERVER_CORE, CLIENT_CORE = "0", "1"
STREAM_RUNS = [(1, 30), (10, 30), (50, 30), (200, 30), (500, 5)]
WARMUP_SECONDS = 5.0
"""Streams open and settle before frames are counted; the first-frame column covers the start."""
TUTORIAL = """
import glob, sys, time
from flask import Flask, Response
app = Flask(__name__)
files = sorted(glob.glob(sys.argv[2] + "/*.jpg"))
@app.route("/stream")
def stream():
    def frames():
        index = 0
        while True:
            with open(files[index % len(files)], "rb") as handle:
                frame = handle.read()
            yield b"--frame\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n" + frame + b"\\r\\n"
            index += 1
            time.sleep(float(sys.argv[3]))
    return Response(frames(), mimetype="multipart/x-mixed-replace; boundary=frame")
app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
"""


def kernel_seconds(pid: int) -> float:
    """CPU seconds a process spent in the kernel (system time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int) -> tuple[float, int, int]:
    """CPU seconds, RSS in kB and thread count of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(status.split("VmRSS:")[1].split()[0])
    threads = int(status.split("Threads:")[1].split()[0])
    return cpu, rss, threads


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def loadgen(work: Path) -> Path:
    binary = work / "loadgen"
    if not binary.exists():
        subprocess.run(
            ["cc", "-O2", "-o", str(binary), str(ROOT / "bench" / "loadgen.c")], check=True
        )
    return binary


def drive(
    binary: Path, port: int, clients: int, seconds: float, warmup: float = 0, pid: int = 0
) -> tuple[dict[str, Any], float]:
    """Run the load generator: its result, with frames counted over the `seconds` after the
    warm-up, and the CPU seconds process `pid` used in that same window."""
    command = [binary, port, clients, seconds + warmup, warmup]
    process = subprocess.Popen(
        ["taskset", "-c", CLIENT_CORE, *map(str, command)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(warmup)
    cpu0 = proc_stat(pid)[0] if pid else 0.0
    kernel0 = kernel_seconds(pid) if pid else 0.0
    output, _ = process.communicate()
    cpu = proc_stat(pid)[0] - cpu0 if pid else 0.0
    result = dict(json.loads(output))
    result["kernel_share"] = (kernel_seconds(pid) - kernel0) / cpu if pid and cpu else 0.0
    return result, cpu


def write_config(work: Path, body: str) -> Path:
    config = work / "config.toml"
    config.write_text('[server]\nhost = "127.0.0.1"\n' + body)
    return config


def framecast(work: Path, body: str) -> Server:
    return Server(write_config(work, body), wrapper=["taskset", "-c", SERVER_CORE]).wait_ready(20)


def make_slides(folder: Path) -> None:
    """Six 1080p photos that encode to about 380 KB at quality 80, as the issue's figures use."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(6):
        photo(1920, 1080, seed=30 + n, grain=0.3).save(folder / f"slide{n}.jpg", quality=80)


def bench_streams(work: Path, binary: Path, seconds: float) -> None:
    slides = work / "images"
    make_slides(slides)
    frame_bytes = statistics.mean(p.stat().st_size for p in slides.iterdir())
    rows: list[list[object]] = []
    for clients, fps in STREAM_RUNS:
        interval = round(1 / fps, 3)
        server = framecast(
            work,
            f'[stream]\nquality = 80\n[slideshow]\ninterval = {interval}\ntransition = "none"\n',
        )
        result, cpu = drive(
            binary, server.port, clients, seconds, WARMUP_SECONDS, server.process.pid
        )
        rss = proc_stat(server.process.pid)[1]
        server.stop()
        rates = [f / seconds for f in result["frames"]]
        delivered = sum(result["frames"])
        firsts = [f for f in result["first_frame_s"] if f > 0]
        refused = sum(1 for s in result["status"] if s not in (0, 200))

        tutorial_port = free_port()
        command = [sys.executable, "-c", TUTORIAL, str(tutorial_port), str(slides), str(interval)]
        tutorial = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda p=tutorial_port: _answers(p), timeout=20, what="the tutorial server")
        base, _ = drive(binary, tutorial_port, clients, seconds, WARMUP_SECONDS)
        tutorial.terminate()
        tutorial.wait()
        base_median = statistics.median(f / seconds for f in base["frames"])
        rows.append(
            [
                f"{clients} @ {fps} fps",
                f"{statistics.median(rates):.1f} / {min(rates):.1f}",
                f"{max(firsts) if firsts else 0:.2f}",
                f"{cpu / seconds:.2f}",
                f"{cpu * 1000 / max(1, delivered):.3f}",
                f"{result['kernel_share']:.0%}",
                f"{rss / 1024:.0f}",
                f"{refused + int(result['closed_early'])}",
                f"{base_median:.1f}",
                f"{statistics.median(rates) / max(base_median, 0.01):.1f}×",
            ]
        )
    table(
        f"N streams of 1080p slides (~{frame_bytes / 1000:.0f} KB each), counted for "
        f"{seconds:.0f} s after {WARMUP_SECONDS:.0f} s of warm-up; server on core 0, "
        "C load generator on core 1",
        [
            "clients @ published fps",
            "fps per client median / worst",
            "slowest first frame s",
            "server cores",
            "server CPU ms per delivered frame",
            "of it in the kernel",
            "RSS MB",
            "errors",
            "tutorial way fps median",
            "Framecast / tutorial",
        ],
        rows,
    )


def bench_burst(work: Path, binary: Path, runs: int = 5, clients: int = 200) -> None:
    """Many fresh starts of the burst the N-streams table times once: every client connects in
    the same instant to a server just started, as after a restart of the server."""
    make_slides(work / "images")
    rows: list[list[object]] = []
    for run in range(1, runs + 1):
        server = framecast(
            work, '[stream]\nquality = 80\n[slideshow]\ninterval = 0.033\ntransition = "none"\n'
        )
        time.sleep(1)
        result, _ = drive(binary, server.port, clients, 3.0)
        server.stop()
        firsts = sorted(f for f in result["first_frame_s"] if f > 0)
        rows.append(
            [
                run,
                f"{len(firsts)} of {clients}",
                f"{statistics.median(firsts):.2f}",
                f"{firsts[int(len(firsts) * 0.9)]:.2f}",
                f"{firsts[-1]:.2f}",
            ]
        )
    table(
        f"Burst: {clients} clients connect in the same instant to a fresh server (1080p slides "
        "at 30 fps), seconds from connecting to each client's first whole frame",
        ["run", "clients with a frame", "median", "90th percentile", "slowest"],
        rows,
    )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def bench_slow_client(work: Path, binary: Path) -> None:
    """A client reading 100 KB/s beside 10 normal ones: how old are the frames it gets?"""
    slides = work / "unique"
    slides.mkdir(exist_ok=True)
    for n in range(300):
        Image.effect_noise((640, 360), 40 + n % 20).convert("RGB").save(
            slides / f"{n:03}.jpg", quality=85
        )
    server = framecast(
        work,
        '[stream]\nwidth = 640\nheight = 360\nquality = 80\n[slideshow]\nfolder = "unique"\n'
        'interval = 0.033\ntransition = "none"\n',
    )
    observer = StreamReader(server.port)
    time.sleep(12)  # one whole pass, so every slide is rendered and cached
    frame_bytes = statistics.mean(len(j) for _, j in observer.frames[-30:])

    slow: list[tuple[float, bytes]] = []
    stop = threading.Event()

    def read_slowly() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buffer = b""
        while not stop.is_set():
            started = time.monotonic()
            data = sock.recv(10_000)
            if not data:
                break
            buffer += data
            while (end := buffer.find(b"\r\n--frame\r\n")) >= 0:
                start = buffer.find(b"\r\n\r\n")
                if 0 <= start < end:
                    slow.append((time.monotonic(), buffer[start + 4 : end]))
                buffer = buffer[end + 2 :]
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
        sock.close()

    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    result, _ = drive(binary, server.port, 10, 30)
    stop.set()
    reader.join(5)
    seen: dict[str, list[float]] = {}
    for arrived, jpeg in observer.frames:
        seen.setdefault(hashlib.sha1(jpeg).hexdigest(), []).append(arrived)
    ages = []
    for arrived, jpeg in slow:
        published = [t for t in seen.get(hashlib.sha1(jpeg).hexdigest(), []) if t <= arrived]
        if published:
            ages.append(arrived - max(published))
    observer.close()
    server.stop()
    transfer = frame_bytes / 100_000
    rates = [f / 30 for f in result["frames"]]
    normal = f"{min(rates):.1f} / {statistics.median(rates):.1f}"
    age = f"{max(ages):.2f} / {statistics.median(ages):.2f}"
    table(
        f"A client reading 100 KB/s beside 10 normal clients, 30 s, {frame_bytes / 1000:.0f} KB "
        "frames at 30 fps",
        ["measure", "result"],
        [
            ["normal clients fps: worst / median", normal],
            ["slow client: frames received", f"{len(slow)}"],
            ["slow client: age of each frame when it arrived (s), max / median", age],
            ["bound: two frames' transfer time + 1 s", f"{2 * transfer + 1:.2f}"],
        ],
    )


def bench_churn(work: Path, cycles: int, rounds: int = 2) -> None:
    """`rounds` runs of `cycles` clients, one after another, measured at the start and after
    each: the first round also warms the threads of the pool, later ones show what is left."""
    make_slides(work / "images")
    server = framecast(work, "[stream]\nquality = 80\n[slideshow]\ninterval = 0.1\n")
    pid = server.process.pid
    warm = StreamReader(server.port)
    wait_for(warm.latest, what="a frame")
    warm.close()
    time.sleep(2)
    samples = [(*proc_stat(pid)[1:], open_fds(pid))]
    failures, rates = [], []
    for _ in range(rounds):
        started = time.monotonic()
        failed = 0
        for _ in range(cycles):
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    data = b""
                    while b"\r\n--frame\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
            except OSError:
                failed += 1
        rates.append(f"{cycles / (time.monotonic() - started):.0f}")
        failures.append(failed)
        wait_for(lambda: server.status()["clients"] == 0, timeout=30, what="every client gone")
        time.sleep(3)
        samples.append((*proc_stat(pid)[1:], open_fds(pid)))
    server.stop()
    table(
        f"Churn: {rounds} rounds of {cycles:,} clients that connect, take one frame and hang up, "
        "one after another",
        ["measure", "at start", *(f"after round {n}" for n in range(1, rounds + 1))],
        [
            ["threads", *(threads for _, threads, _ in samples)],
            ["open file descriptors", *(fds for _, _, fds in samples)],
            ["RSS MB", *(f"{rss / 1024:.1f}" for rss, _, _ in samples)],
            ["failed connections", "", *failures],
            ["cycles per second", "", *rates],
        ],
    )


def bench_big_folder(work: Path, count: int) -> None:
    folder = work / "many"
    folder.mkdir(exist_ok=True)
    for n in range(count):
        Image.new("RGB", (320, 180), (n % 256, (n // 256) % 256, 128)).save(folder / f"{n:05}.jpg")
    config = write_config(work, '[slideshow]\nfolder = "many"\ninterval = 1\n')
    started = time.monotonic()
    server = Server(config, wrapper=["taskset", "-c", SERVER_CORE])
    port = server.port
    wait_for(lambda: _answers(port), timeout=30, interval=0.005, what="the server")
    stream = StreamReader(port)
    wait_for(stream.latest, timeout=30, interval=0.005, what="the first frame")
    first = time.monotonic() - started
    wait_for(lambda: server.status()["slides"] == count, timeout=120, what="the whole scan")
    scanned = time.monotonic() - started
    time.sleep(20)
    _, rss, _ = proc_stat(server.process.pid)
    stream.close()
    server.stop()
    table(
        f"A folder of {count:,} images (320×180 JPEG), 1080p output, interval 1 s",
        ["measure", "result"],
        [
            ["process start to the first frame on /stream (s)", f"{first:.2f}"],
            ["process start to every file in the playlist (s)", f"{scanned:.1f}"],
            ["RSS after 20 s of showing (MB)", f"{rss / 1024:.0f}"],
        ],
    )


def bench_soak(work: Path, minutes: float) -> None:
    make_slides(work / "images")
    server = framecast(work, "[stream]\nquality = 80\n[slideshow]\ninterval = 1\n")
    pid = server.process.pid
    stop = threading.Event()
    cycles = [0]

    def churn() -> None:
        while not stop.is_set():
            reader = StreamReader(server.port)
            wait_for(lambda r=reader: r.count() >= 2, timeout=10, what="two frames")
            reader.close()
            cycles[0] += 1

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(5)]
    for worker in workers:
        worker.start()
    series = []
    for _ in range(max(1, round(minutes))):
        time.sleep(60)
        series.append(f"{proc_stat(pid)[1] / 1024:.0f}")
    stop.set()
    for worker in workers:
        worker.join(20)
    time.sleep(3)
    _, end_rss, end_threads = proc_stat(pid)
    server.stop()
    table(
        f"Soak: interval 1 s with the default fade, 5 clients churning (each takes two frames "
        f"and leaves), {minutes:g} minutes",
        ["measure", "result"],
        [
            ["RSS MB at the end of each minute", " ".join(series)],
            ["RSS MB after the clients left", f"{end_rss / 1024:.1f}"],
            ["threads after the clients left", end_threads],
            ["client sessions", f"{cycles[0]:,}"],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--churn", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--soak-minutes", type=float, default=60)
    parser.add_argument("--only", choices=["streams", "burst", "slow", "churn", "folder", "soak"])
    args = parser.parse_args()
    print(f"Framecast load benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="framecast-load-"))
    try:
        binary = loadgen(work)
        runs = {
            "streams": lambda: bench_streams(work, binary, args.seconds),
            "burst": lambda: bench_burst(work, binary),
            "slow": lambda: bench_slow_client(work, binary),
            "churn": lambda: bench_churn(work, args.churn),
            "folder": lambda: bench_big_folder(work, args.files),
            "soak": lambda: bench_soak(work, args.soak_minutes),
        }
        for name, run in runs.items():
            if args.only in (None, name):
                run()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
