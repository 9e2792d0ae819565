"""Channels benchmark (issue 12): many channels on one server.

    .venv/bin/python bench/bench_channels.py [--only twenty|unwatched] [--runs N]   (from the root)

1. 20 channels, each its own folder of 1080p photos, 10 viewers each (the C load generator,
   bench/loadgen.c), 5 s slides with the default fade. One Python reader per channel times each
   slide change; the load generator counts every viewer's frames against the frames the
   channel published. Server CPU and RSS over the window.
2. Server CPU with 19 unwatched channels and 1 watched (10 viewers), against a server with that
   one channel only.

In 2 the server runs pinned to core 0 and the viewers to core 1; in 1 nothing is pinned (one
core does not carry 20 channels of fades, see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_core import table
from bench_load import CLIENT_CORE, SERVER_CORE, loadgen, proc_stat
from harness import Server, StreamReader, wait_for
from photos import photo

CHANNELS = 20
VIEWERS = 10
INTERVAL = 5.0
WARMUP = 8.0
WINDOW = 40.0
GAP = 1.5
"""Frames more than this apart belong to different slides (a fade is 0.8 s of frames)."""


def make_folders(work: Path, count: int) -> None:
    """`count` folders of three 1080p photos each; the photos differ between folders."""
    photos = work / "photos"
    photos.mkdir()
    for n in range(6):
        photo(1920, 1080, seed=50 + n, grain=0.3).save(photos / f"{n}.jpg", quality=85)
    for channel in range(count):
        folder = work / f"ch{channel:02d}"
        folder.mkdir()
        for slot, n in enumerate(itertools.islice(itertools.cycle(range(6)), channel, channel + 3)):
            shutil.copy(photos / f"{n}.jpg", folder / f"{slot}-{channel}.jpg")


def status(server: Server) -> dict[str, Any]:
    """`/status`, waiting as long as a loaded server needs."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", "/status")
        return dict(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def start(
    work: Path,
    channels: int,
    first_in_top: bool = False,
    pinned: bool = True,
    transition: str = "fade",
) -> Server:
    """A server whose channels ch00..chNN show their folders; the top level shows ch00's too."""
    body = (
        f'[server]\nhost = "127.0.0.1"\n[slideshow]\nfolder = "ch00"\ninterval = {INTERVAL}\n'
        f'transition = "{transition}"\n'
    )
    if not first_in_top:
        body += "".join(f'[channels.ch{n:02d}]\nfolder = "ch{n:02d}"\n' for n in range(channels))
    config = work / "config.toml"
    config.write_text(body)
    wrapper = ["taskset", "-c", SERVER_CORE] if pinned else None
    return Server(config, wrapper=wrapper).wait_ready(30)


def viewers(
    binary: Path, port: int, path: str, seconds: float, pinned: bool = True
) -> subprocess.Popen[str]:
    command = [str(binary), str(port), str(VIEWERS), str(seconds + WARMUP), str(WARMUP), path]
    pin = ["taskset", "-c", CLIENT_CORE] if pinned else []
    return subprocess.Popen([*pin, *command], stdout=subprocess.PIPE, text=True)


def slide_changes(reader: StreamReader, since: float) -> list[float]:
    """When each slide began on this stream: the first frame after a gap."""
    times = [at for at, _ in reader.frames]
    return [b for a, b in itertools.pairwise(times) if b - a > GAP and b >= since]


def bench_twenty(work: Path, binary: Path, transition: str) -> None:
    server = start(work, CHANNELS, pinned=False, transition=transition)
    try:
        paths = [f"/c/ch{n:02d}/stream" for n in range(CHANNELS)]
        loads = [viewers(binary, server.port, path, WINDOW, pinned=False) for path in paths]
        readers = [StreamReader(server.port, path) for path in paths]
        time.sleep(WARMUP)
        began = time.monotonic()
        cpu0 = proc_stat(server.process.pid)[0]
        frames0 = {n: s["frames"] for n, s in status(server)["channels"].items()}
        rss: list[int] = []
        moved: dict[str, list[float]] = {}
        stop = threading.Event()

        def sample() -> None:
            """RSS every second; when each channel's producer moved to its next slide."""
            shown: dict[str, str] = {}
            next_rss = 0.0
            while not stop.wait(0.1):
                now = time.monotonic()
                if now >= next_rss:
                    rss.append(proc_stat(server.process.pid)[1])
                    next_rss = now + 1.0
                for name, show in status(server)["channels"].items():
                    if name != "default" and shown.get(name) != show["slide"]:
                        if name in shown:
                            moved.setdefault(name, []).append(now)
                        shown[name] = show["slide"]

        sampler = threading.Thread(target=sample)
        sampler.start()
        results = [json.loads(load.communicate()[0]) for load in loads]
        cpu = proc_stat(server.process.pid)[0] - cpu0
        elapsed = time.monotonic() - began
        frames1 = {n: s["frames"] for n, s in status(server)["channels"].items()}
        stop.set()
        sampler.join()
        late: list[float] = []
        for reader in readers:
            changes = slide_changes(reader, began)
            late += [abs((b - a) - INTERVAL) for a, b in itertools.pairwise(changes)]
            reader.close()
        steps = [
            abs((b - a) - INTERVAL)
            for times in moved.values()
            for a, b in itertools.pairwise(times)
        ]
        got = [min(r["frames"]) for r in results]
        published = [frames1[f"ch{n:02d}"] - frames0[f"ch{n:02d}"] for n in range(CHANNELS)]
        table(
            f"{CHANNELS} channels × {VIEWERS} viewers, 1080p photos, {INTERVAL:g} s slides, "
            f"transition = {transition}, {elapsed:.0f} s",
            [
                "viewers",
                "slide changes timed: producer / viewer",
                "interval error, producer: median / max (ms)",
                "interval error, viewer: median / max (ms)",
                "frames a viewer got / published (worst channel)",
                "server CPU",
                "RSS median / max (MB)",
            ],
            [
                [
                    CHANNELS * VIEWERS,
                    f"{len(steps)} / {len(late)}",
                    _spread(steps),
                    _spread(late),
                    f"{min(g / p for g, p in zip(got, published, strict=True) if p):.2f}",
                    f"{cpu / elapsed * 100:.0f}% of a core (2 cores)",
                    f"{statistics.median(rss) / 1024:.0f} / {max(rss) / 1024:.0f}",
                ]
            ],
        )
    finally:
        server.stop()


def _spread(errors: list[float]) -> str:
    if not errors:
        return "-"
    return f"{statistics.median(errors) * 1000:.0f} / {max(errors) * 1000:.0f}"


def cpu_with_one_watched(work: Path, binary: Path, channels: int) -> float:
    """Server CPU (% of a core) while 10 viewers watch ch00 alone, over a window of whole slide
    intervals that begins half-way through one: every window holds the same number of fades."""
    server = start(work, channels, first_in_top=channels == 1)
    try:
        name = "ch00" if channels > 1 else "default"
        path = "/c/ch00/stream" if channels > 1 else "/stream"
        load = viewers(binary, server.port, path, WINDOW + 2 * INTERVAL)
        time.sleep(WARMUP)
        wait_for(lambda: status(server)["clients"] == VIEWERS, 10, what="the viewers")
        shown = slide_of(server, name)
        wait_for(lambda: slide_of(server, name) != shown, 2 * INTERVAL, what="a slide change")
        time.sleep(INTERVAL / 2)
        cpu0, began = cpu_seconds(server.process.pid), time.monotonic()
        time.sleep(WINDOW)
        cpu = cpu_seconds(server.process.pid) - cpu0
        elapsed = time.monotonic() - began
        load.communicate()
        return cpu / elapsed * 100
    finally:
        server.stop()


def cpu_seconds(pid: int) -> float:
    """The CPU time of the process's threads, to the nanosecond (the scheduler's own count):
    /proc/PID/stat counts in 10 ms ticks, too coarse for a server that idles at 1% of a core."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def slide_of(server: Server, channel: str) -> str:
    if channel == "default":
        return str(status(server)["slide"])
    return str(status(server)["channels"][channel]["slide"])


def bench_unwatched(work: Path, binary: Path, runs: int) -> None:
    """The two servers in turn, `runs` times: the machine's drift shows in the spread."""
    rows = []
    for run in range(1, runs + 1):
        single = cpu_with_one_watched(work, binary, 1)
        many = cpu_with_one_watched(work, binary, CHANNELS)
        rows.append([run, f"{single:.2f}", f"{many:.2f}", f"{many / single:.2f}"])
    table(
        f"Server CPU (% of a core), {VIEWERS} viewers on one channel, {INTERVAL:g} s slides with "
        f"the fade, {WINDOW:g} s: one channel, against {CHANNELS} channels with "
        f"{CHANNELS - 1} unwatched",
        ["run", "1 channel", f"{CHANNELS} channels", "ratio"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["twenty", "unwatched"])
    parser.add_argument("--runs", type=int, default=3, help="runs of the unwatched comparison")
    args = parser.parse_args()
    print(f"Framecast channels benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        binary = loadgen(work)
        make_folders(work, CHANNELS)
        if args.only in (None, "twenty"):
            bench_twenty(work, binary, "fade")
            bench_twenty(work, binary, "none")
        if args.only in (None, "unwatched"):
            bench_unwatched(work, binary, args.runs)


if __name__ == "__main__":
    main()
