"""Web pages benchmark: `.url` slides and the screenshot API, drawn by the shared headless
Chromium (Debian's, driven by Playwright). All traffic stays on 127.0.0.1.

    .venv/bin/python bench/bench_web.py [--runs N] [--renders N]   (from the root)

(`--shots N` and `--hits N` shorten parts 2 and 3 while developing.)

1. A `.url` shortcut to a solid-colour page renamed into the folder of a running show
   (1920×1080, transition none, new_first): time from the rename until a `/stream` client,
   connected before, gets a frame whose centre is the page's colour. `--runs` times (default
   5), each a new file and a new colour; the first includes launching Chromium (cold), the
   rest are warm (median and max).
2. `PageBrowser.render` in this process, browser warm: a simple page at 1920×1080, PNG and
   JPEG, median and p90 of `--shots` renders (default 30).
3. `GET /api/screenshot` of a server with `[web] api` and `allow_private` on: the first call (a
   miss, which launches Chromium in the server), then median and p90 of `--hits` repeats (50,
   each a cache hit by its `X-Framecast-Cache` header), one new http.client connection per
   call (the server speaks HTTP/1.0).
4. Memory of a `PageBrowser` in this process over `--renders` renders (default 1,000) of a
   simple page at 1280×720, one at a time: the Chromium processes descending from this one and
   the Playwright driver (node), summed VmRSS (/proc/PID/status) and summed Pss
   (/proc/PID/smaps_rollup; shared pages counted once), after renders 10, 100, 500 and 1,000.
"""

from __future__ import annotations

import argparse
import colorsys
import contextlib
import functools
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench_core import table
from harness import PageServer, Server, StreamReader, centre, close_to, solid, wait_for

from framecast.browser.engine import Format, PageBrowser, Shot
from framecast.config import WebSettings

Colour = tuple[int, int, int]
Row = list[object]

SLIDE_COLOUR: Colour = (60, 60, 60)
"""The PNG slide already showing when the shortcuts are dropped in."""
ARRIVAL_SECONDS = 60.0
"""The longest a dropped page may take to reach the stream (the first launches Chromium)."""
MEMORY_AFTER = (10, 100, 500, 1000)
"""Renders after which the browser's memory is sampled (and after the last, whatever it is)."""
EXIT_SECONDS = 10.0


def page_colour(run: int) -> Colour:
    """A saturated colour per run, far from the previous run's and from SLIDE_COLOUR."""
    red, green, blue = colorsys.hsv_to_rgb((run * 0.618034) % 1.0, 0.8, 0.9)
    return (round(red * 255), round(green * 255), round(blue * 255))


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=10, method="inclusive")[8]


# --- processes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    started: int
    """Its start time in clock ticks since boot (/proc/PID/stat field 22): tells it from a later
    process given the same PID."""
    name: str


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent PID, start time, command name) of a process, None if it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19]), name


def descendants(root: int) -> list[Process]:
    """Every process descending from `root`, by the parent links of /proc/*/stat."""
    children: dict[int, list[Process]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None:
            children.setdefault(stat[0], []).append(Process(int(entry.name), stat[1], stat[2]))
    found: list[Process] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child.pid)
    return found


def alive(process: Process) -> bool:
    stat = _stat(process.pid)
    return stat is not None and stat[1] == process.started


def reap(processes: list[Process], what: str) -> None:
    """Wait for `processes` (found before their owner was stopped) to end; kill, by PID, any
    that outlive EXIT_SECONDS."""
    deadline = time.monotonic() + EXIT_SECONDS
    while time.monotonic() < deadline and any(alive(p) for p in processes):
        time.sleep(0.05)
    left = [p for p in processes if alive(p)]
    for process in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    if left:
        names = ", ".join(f"{p.name} {p.pid}" for p in left)
        print(f"note: killed what {what} left running: {names}", file=sys.stderr)


@contextlib.contextmanager
def running_server(config: Path) -> Iterator[Server]:
    """slideshow.py on a free loopback port; stopped, with every process it started, on exit."""
    server = Server(config)
    try:
        yield server.wait_ready(30)
    finally:
        family = descendants(server.process.pid)
        server.stop(timeout=EXIT_SECONDS)
        reap(family, "the server")


@contextlib.contextmanager
def page_browser() -> Iterator[PageBrowser]:
    """A PageBrowser in this process; stopped, with its driver and Chromium, on exit."""
    before = {(p.pid, p.started) for p in descendants(os.getpid())}
    browser = PageBrowser(WebSettings)
    try:
        yield browser
    finally:
        family = [p for p in descendants(os.getpid()) if (p.pid, p.started) not in before]
        browser.stop(EXIT_SECONDS)
        reap(family, "the page browser")


@dataclass(frozen=True)
class Memory:
    chromium: int
    """Chromium processes (the driver is one more)."""
    rss_kb: int
    pss_kb: int
    driver_rss_kb: int


def _field(path: Path, name: str) -> int:
    """A `Name:  N kB` line's N, 0 if the process has gone."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def browser_memory() -> Memory:
    """The Chromium processes descending from this one and the Playwright driver (node)."""
    family = [p for p in descendants(os.getpid()) if _driver(p) or "chrom" in p.name]
    rss = {p.pid: _field(Path(f"/proc/{p.pid}/status"), "VmRSS") for p in family}
    pss = sum(_field(Path(f"/proc/{p.pid}/smaps_rollup"), "Pss") for p in family)
    driver = sum(rss[p.pid] for p in family if _driver(p))
    chromium = sum(1 for p in family if not _driver(p))
    return Memory(chromium, sum(rss.values()), pss, driver)


def _driver(process: Process) -> bool:
    """Playwright's node driver, which names its main thread `node-MainThread`."""
    return process.name.startswith("node")


# --- the measurements ---------------------------------------------------------------------------


def show_config(work: Path, folder: Path, web: str = "") -> Path:
    config = work / "config.toml"
    config.write_text(
        f'[stream]\nwidth = 1920\nheight = 1080\n[slideshow]\nfolder = "{folder}"\n'
        f'interval = 300\ntransition = "none"\nnew_first = true\n[web]\n{web}'
    )
    return config


def slide_folder(work: Path, name: str) -> Path:
    folder = work / name
    folder.mkdir()
    solid(folder / "slide.png", SLIDE_COLOUR, (1920, 1080))
    return folder


def bench_arrival(work: Path, pages: PageServer, runs: int) -> list[Row]:
    folder = slide_folder(work, "arrival")
    times: list[float] = []
    with running_server(show_config(work, folder)) as server:
        stream = StreamReader(server.port)
        try:
            stream.wait_colour(SLIDE_COLOUR, timeout=20)
            for run in range(runs):
                colour = page_colour(run)
                pages.colour = colour
                checked = stream.count()
                part = work / f"page{run}.url.part"
                part.write_text(f"[InternetShortcut]\r\nURL={pages.url}/colour\r\n")
                dropped = time.monotonic()
                os.replace(part, folder / f"page{run}.url")

                def arrived(colour: Colour = colour) -> float:
                    """When the first frame of the page came, 0 while none has."""
                    nonlocal checked
                    frames = stream.frames[checked : stream.count()]
                    checked += len(frames)
                    return next((at for at, jpeg in frames if close_to(centre(jpeg), colour)), 0.0)

                shown = wait_for(arrived, ARRIVAL_SECONDS, what=f"the page in {colour}")
                times.append(shown - dropped)
        finally:
            stream.close()
    ms = [t * 1000 for t in times]
    rows: list[Row] = [
        [".url dropped → page on /stream, run 1 (cold: launches Chromium)", f"{ms[0]:.0f}", "ms"]
    ]
    if len(ms) > 1:
        warm = ms[1:]
        rows += [
            [f".url dropped → page on /stream, warm, median of {len(warm)}", _ms(warm), "ms"],
            [f".url dropped → page on /stream, warm, max of {len(warm)}", f"{max(warm):.0f}", "ms"],
        ]
    return rows


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}"


def timed(action: Callable[[], object]) -> float:
    """Milliseconds `action` took."""
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000


def bench_render(pages: PageServer, shots: int) -> list[Row]:
    url = f"{pages.url}/colour"
    rows: list[Row] = []
    with page_browser() as browser:
        first = timed(lambda: browser.render(Shot(url, 1920, 1080, guarded=False)))
        name = "PageBrowser.render, first (launches Chromium), 1920×1080 PNG"
        rows.append([name, f"{first:.0f}", "ms"])
        formats: tuple[Format, ...] = ("png", "jpeg")
        for fmt in formats:
            shot = Shot(url, 1920, 1080, format=fmt, guarded=False)
            times = [timed(functools.partial(browser.render, shot)) for _ in range(shots)]
            name = f"PageBrowser.render, warm, 1920×1080 {fmt.upper()}"
            rows += [
                [f"{name}, median of {shots}", _ms(times), "ms"],
                [f"{name}, p90 of {shots}", f"{p90(times):.0f}", "ms"],
            ]
    return rows


def api_call(port: int, query: str) -> tuple[float, str]:
    """One GET /api/screenshot on a new connection: milliseconds to the whole body, and the
    X-Framecast-Cache header."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ARRIVAL_SECONDS)
    try:
        began = time.perf_counter()
        connection.request("GET", f"/api/screenshot?{query}")
        response = connection.getresponse()
        body = response.read()
        took = (time.perf_counter() - began) * 1000
        if response.status != 200 or not body.startswith(b"\x89PNG"):
            raise RuntimeError(f"/api/screenshot answered {response.status}: {body[:200]!r}")
        return took, response.getheader("X-Framecast-Cache", "")
    finally:
        connection.close()


def bench_api(work: Path, pages: PageServer, hits: int) -> list[Row]:
    folder = slide_folder(work, "api")
    config = show_config(work, folder, "api = true\nallow_private = true\n")
    query = urllib.parse.urlencode(
        {"url": f"{pages.url}/colour", "width": 1920, "height": 1080, "format": "png"}
    )
    with running_server(config) as server:
        miss, said = api_call(server.port, query)
        if said != "miss":
            raise RuntimeError(f"the first call was not a miss: X-Framecast-Cache: {said}")
        times = []
        for _ in range(hits):
            took, said = api_call(server.port, query)
            if said != "hit":
                raise RuntimeError(f"a repeat was not a cache hit: X-Framecast-Cache: {said}")
            times.append(took)
    name = "GET /api/screenshot 1920×1080 PNG"
    return [
        [f"{name}, first call (miss, launches Chromium)", f"{miss:.0f}", "ms"],
        [f"{name}, cache hit, median of {hits}", f"{statistics.median(times):.1f}", "ms"],
        [f"{name}, cache hit, p90 of {hits}", f"{p90(times):.1f}", "ms"],
    ]


def bench_memory(pages: PageServer, renders: int) -> list[Row]:
    after = sorted({n for n in MEMORY_AFTER if n < renders} | {renders})
    shot = Shot(f"{pages.url}/colour", 1280, 720, guarded=False)
    samples: dict[int, Memory] = {}
    times: list[float] = []
    with page_browser() as browser:
        for n in range(1, renders + 1):
            times.append(timed(lambda: browser.render(shot)))
            if n in after:
                samples[n] = browser_memory()
        if browser.renders != renders:
            raise RuntimeError(f"the browser counted {browser.renders} renders, not {renders}")
    mib = 1024
    rows: list[Row] = [
        [
            f"Chromium ({m.chromium} processes) + driver, summed VmRSS, after render {n:,}",
            f"{m.rss_kb / mib:.0f}",
            "MiB",
        ]
        for n, m in samples.items()
    ]
    rows += [
        [f"Chromium + driver, summed Pss, after render {n:,}", f"{m.pss_kb / mib:.0f}", "MiB"]
        for n, m in samples.items()
    ]
    rows += [
        [
            f"of it the Playwright driver (node), VmRSS, after render {n:,}",
            f"{m.driver_rss_kb / mib:.0f}",
            "MiB",
        ]
        for n, m in samples.items()
    ]
    rows += [
        [f"PageBrowser.render 1280×720 PNG, median of those {renders:,}", _ms(times), "ms"],
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help=".url drops (part 1)")
    parser.add_argument("--shots", type=int, default=30, help="renders per format (part 2)")
    parser.add_argument("--hits", type=int, default=50, help="cache-hit API calls (part 3)")
    parser.add_argument("--renders", type=int, default=1000, help="renders (part 4)")
    args = parser.parse_args()
    if min(args.runs, args.shots, args.hits, args.renders) < 1:
        parser.error("every count must be at least 1")
    print(f"Framecast web pages benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    version = subprocess.run(
        ["chromium", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    print(f"{version}, {os.cpu_count()} cores")
    pages = PageServer(page_colour(0))
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            rows = bench_arrival(work, pages, args.runs)
            rows += bench_render(pages, args.shots)
            rows += bench_api(work, pages, args.hits)
            rows += bench_memory(pages, args.renders)
    finally:
        pages.close()
    table(
        "Web pages through the shared Chromium (Playwright), 127.0.0.1 only",
        ["measurement", "value", "unit"],
        rows,
    )


if __name__ == "__main__":
    main()
