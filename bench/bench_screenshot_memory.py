"""Screenshot memory bound (issue 25, High 4): how much memory the shared Chromium takes for
pages that try to make one drawing cost gigabytes. Prints a markdown table; run from the
repository root:

    .venv/bin/python bench/bench_screenshot_memory.py [CASE ...]

A real server (`[web] api` and `allow_private` on, no cache) draws pages from a web server in
the benchmark, one case after another, through `/api/screenshot` (a batch through
`/api/screenshots`). While each request runs, every Chromium process the server started is
read every 50 ms: the peak of their summed VmRSS (shared pages counted in each process, so an
overcount), of their summed Pss (/proc/PID/smaps_rollup, shared pages shared out) and of the
largest single process. "idle" is the browser after a first small page. The cases are named in
`CASES` (all by default); without the caps, the wide, script and buffers cases each take
several GB, and the batches of three up to three times as much.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench_core import table
from bench_web import descendants, running_server
from harness import PageServer, centre, close_to, config_text
from PIL import Image

GREEN = (30, 200, 60)
"""What the buffers page shows when its buffers were refused (tests/pages.py)."""
WINDOW_PIXELS = 1920 * 1080
Image.MAX_IMAGE_PIXELS = None
"""Only the size of a big answer is read; and code without the caps answers 256 megapixels."""
POLL_SECONDS = 0.05
REQUEST_SECONDS = 120


WINDOW = {"width": "1920", "height": "1080"}
FULL_PAGE = {**WINDOW, "full_page": "true"}


@dataclass(frozen=True)
class Case:
    label: str
    drawings: tuple[tuple[str, dict[str, str]], ...]
    """Each page on the benchmark's web server, with the API's parameters; one is a GET
    /api/screenshot, several a POST /api/screenshots (drawn at once)."""


NORMAL = ("/colour", WINDOW)
TALL = ("/sized?w=1920&h=16384", FULL_PAGE)
WIDE = ("/sized?w=16000&h=16000", FULL_PAGE)
SCRIPT = ("/hog", WINDOW)
BUFFERS = ("/buffers", WINDOW)
CASES = {
    "normal": Case("normal page, 1920×1080", (NORMAL,)),
    "tall": Case("tall page 1920×16384, full page (within the caps)", (TALL,)),
    "wide": Case("very wide page 16000×16000, full page", (WIDE,)),
    "script": Case("page whose script holds ever more objects", (SCRIPT,)),
    "buffers": Case("page filling 3 GB of buffers", (BUFFERS,)),
    "three-buffers": Case("three pages filling 3 GB each, one batch", (BUFFERS,) * 3),
    "three-wide": Case("three very wide full pages, one batch", (WIDE,) * 3),
    "three-mixed": Case("wide full page, script, buffers, one batch", (WIDE, SCRIPT, BUFFERS)),
}


@dataclass
class Peak:
    rss_kb: int = 0
    pss_kb: int = 0
    largest_kb: int = 0


def _field(path: Path, name: str) -> int:
    """A `Name:  N kB` line's N, 0 if the process has gone."""
    try:
        text = path.read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith(name)), 0)


def chromium_memory(server_pid: int) -> Peak:
    """The server's Chromium processes now (Playwright's driver, node, is not counted)."""
    family = [p.pid for p in descendants(server_pid) if "chrom" in p.name]
    rss = [_field(Path(f"/proc/{pid}/status"), "VmRSS:") for pid in family]
    pss = sum(_field(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") for pid in family)
    return Peak(sum(rss), pss, max(rss, default=0))


def watched(server_pid: int, action: Callable[[], str]) -> tuple[str, Peak, float]:
    """Run `action` while a thread samples the Chromium memory; its result, the peaks, seconds."""
    peak = Peak()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = chromium_memory(server_pid)
            peak.rss_kb = max(peak.rss_kb, now.rss_kb)
            peak.pss_kb = max(peak.pss_kb, now.pss_kb)
            peak.largest_kb = max(peak.largest_kb, now.largest_kb)
            done.wait(POLL_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return result, peak, time.monotonic() - started


def request(
    port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes, str | None]:
    """Status, body and `X-Framecast-Note` of one request to the server."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_SECONDS)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("X-Framecast-Note")
    finally:
        connection.close()


def described(status: int, data: bytes, note: str | None, error: str | None) -> str:
    """One drawing's outcome in a few words: the status, and the image's size (and "cut" when
    the note says it was) or the error's first clause."""
    if status != 200:
        return f"{status}, {(error or '').split(' (')[0]}"
    with Image.open(io.BytesIO(data)) as image:
        size = f"{image.width}×{image.height}"
        small = image.width * image.height <= WINDOW_PIXELS
    refused = ", buffers refused" if small and close_to(centre(data), GREEN) else ""
    return f"200, {size}{', cut' if note else ''}{refused}"


def draw(port: int, pages: PageServer, case: Case, run: int) -> str:
    """Draw the case's pages (each URL made new by `run`, so none is the same page twice); what
    came of each."""
    items = [
        {"url": f"{pages.url}{path}{'&' if '?' in path else '?'}run={run}-{i}", **parameters}
        for i, (path, parameters) in enumerate(case.drawings)
    ]
    if len(items) > 1:
        status, body, _ = request(port, "POST", "/api/screenshots", json.dumps(items).encode())
        if status != 200:
            return f"{status}: {body[:200]!r}"
        outcomes = [
            described(
                item["status"],
                base64.b64decode(item.get("image", "")),
                item.get("note"),
                item.get("error"),
            )
            for item in json.loads(body)["screenshots"]
        ]
        if len(set(outcomes)) == 1:
            return f"{len(outcomes)} × {outcomes[0]}"
        return "; ".join(outcomes)
    query = urllib.parse.urlencode(items[0])
    status, data, note = request(port, "GET", f"/api/screenshot?{query}")
    error = None if status == 200 else json.loads(data).get("error")
    return described(status, data, note, error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help=f"of {', '.join(CASES)} (default: all)")
    names = parser.parse_args().cases or list(CASES)
    if unknown := [name for name in names if name not in CASES]:
        parser.error(f"no such case: {', '.join(unknown)}")
    version = subprocess.run(
        ["chromium", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    print(f"Framecast screenshot memory, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"{version}, {os.cpu_count()} cores")
    pages = PageServer((220, 30, 30))
    rows: list[list[object]] = []
    mib = 1024
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "config.toml"
            (Path(folder) / "images").mkdir()
            web = "\n[web]\napi = true\nallow_private = true\ncache_seconds = 0\ntimeout = 60\n"
            config.write_text(config_text() + web)
            with running_server(config) as server:
                pid = server.process.pid
                draw(server.port, pages, CASES["normal"], 0)
                idle = chromium_memory(pid)
                rows.append(["idle, after one small page", "", *_mib(idle, mib), ""])
                for run, name in enumerate(names, start=1):
                    case = CASES[name]
                    result, peak, took = watched(
                        pid, lambda case=case, run=run: draw(server.port, pages, case, run)
                    )
                    rows.append([case.label, result, *_mib(peak, mib), f"{took:.1f}"])
                after = draw(server.port, pages, CASES["normal"], len(names) + 1)
                rows.append(["normal page again, after them", after, "", "", "", ""])
    finally:
        pages.close()
    table(
        "Chromium's memory per drawing: peaks while the request ran (MiB)",
        ["case", "result", "summed VmRSS", "summed Pss", "largest process", "seconds"],
        rows,
    )


def _mib(peak: Peak, mib: int) -> list[str]:
    return [f"{peak.rss_kb / mib:.0f}", f"{peak.pss_kb / mib:.0f}", f"{peak.largest_kb / mib:.0f}"]


if __name__ == "__main__":
    main()
