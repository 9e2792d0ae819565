"""Glass-to-glass latency of screen mode (issue 18): how long a change on the X screen takes to
reach the wire and a browser's pixels. Run from the repository root, with Xvfb, xsetroot and
Debian's chromium installed:

    .venv/bin/python bench/bench_glass.py --fps 15 30 60 --changes 40

For each fps it starts the real server on its own 1280×720 Xvfb, streaming the screen at
1920×1080, with two clients: a raw /stream reader and a headless Chromium on the player page
that draws the page's <img> into a canvas every animation frame. It then paints solid colours
with xsetroot, a random 0.15–0.45 s apart (so a change falls anywhere between two capture
ticks), and times each from the moment xsetroot returns (the X server has drawn it: xsetroot
waits for its requests on closing) until (a) the reader has the first frame whose centre is the
new colour, (b) the page's canvas first sees that colour. The page stamps its samples with its
own clock, mapped to this process's by the round trip of the shortest of many evaluations.
Last, the server's CPU while the screen stands still, both clients connected.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_core import table
from bench_screen import cpu_seconds
from harness import CHROMIUM_ARGS, Server, StreamReader, VirtualDisplay, centre, close_to, wait_for
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
SCREEN = (1280, 720)
STREAM = (1920, 1080)
LEVELS = (30, 128, 225)
"""Each channel of a painted colour is one of these: two colours differ by far more than JPEG's
error on a solid area."""
WARM_UP_CHANGES = 3
TIMEOUT_SECONDS = 5.0
IDLE_SECONDS = 5.0

SAMPLER = """() => {
  const img = document.getElementById('screen');
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  const seen = [];
  let last = '';
  function sample() {
    if (img.naturalWidth) {
      context.drawImage(img, img.naturalWidth / 2, img.naturalHeight / 2, 1, 1, 0, 0, 1, 1);
      const d = context.getImageData(0, 0, 1, 1).data;
      const key = d[0] + ',' + d[1] + ',' + d[2];
      if (key !== last) {
        last = key;
        seen.push([performance.timeOrigin + performance.now(), d[0], d[1], d[2]]);
      }
    }
    requestAnimationFrame(sample);
  }
  requestAnimationFrame(sample);
  window.glass = {
    since: (t) => seen.filter((e) => e[0] >= t),
    ready: () => img.naturalWidth > 0,
  };
}"""


def clock_offset(page: Page, tries: int = 30) -> float:
    """The page's clock minus time.time(), in seconds, from the evaluation with the shortest
    round trip (its reading is taken about half way through)."""
    best = (float("inf"), 0.0)
    for _ in range(tries):
        before = time.time()
        theirs = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        best = min(best, (after - before, theirs - (before + after) / 2))
    return best[1]


def colours(rng: random.Random) -> Any:
    """Endless solid colours, each far from the one before in at least one channel."""
    previous = (0, 0, 0)
    while True:
        colour = (rng.choice(LEVELS), rng.choice(LEVELS), rng.choice(LEVELS))
        if colour != previous:
            previous = colour
            yield colour


class Measure:
    """One server at one fps, its two clients, and the latencies of each change."""

    def __init__(self, screen: VirtualDisplay, browser: Any, fps: float, work: Path) -> None:
        config = work / f"config-{fps:g}.toml"
        config.write_text(
            f'[stream]\nsource = "screen"\nwidth = {STREAM[0]}\nheight = {STREAM[1]}\n'
            f"[screen]\nfps = {fps:g}\n"
        )
        self.screen = screen
        self.server = Server(config, env=dict(os.environ, DISPLAY=screen.name)).wait_ready()
        self.reader = StreamReader(self.server.port)
        wait_for(self.reader.latest, TIMEOUT_SECONDS, what="a frame on the wire")
        self.page = browser.new_page(viewport={"width": SCREEN[0], "height": SCREEN[1]})
        self.page.goto(self.server.url + "/", wait_until="domcontentloaded")
        self.page.evaluate(SAMPLER)
        wait_for(lambda: self.page.evaluate("window.glass.ready()"), TIMEOUT_SECONDS, 0.05)
        self.offset = clock_offset(self.page)
        self.wire: list[float] = []
        self.pixels: list[float] = []
        self.missed = 0

    def change(self, colour: tuple[int, int, int], counted: bool) -> None:
        """Paint `colour` and wait for it on the wire and in the page."""
        seen = self.reader.count()
        self.screen.paint(colour)
        painted_at, painted_wall = time.monotonic(), time.time()

        def on_wire() -> float | None:
            with self.reader._lock:
                frames = self.reader.frames[seen:]
            for arrived, jpeg in frames:
                if arrived >= painted_at and close_to(centre(jpeg), colour):
                    return arrived - painted_at
            return None

        def on_page() -> float | None:
            since = (painted_wall + self.offset) * 1000
            for stamp, *pixel in self.page.evaluate("t => window.glass.since(t)", since):
                if close_to(tuple(pixel), colour):
                    return stamp / 1000 - self.offset - painted_wall
            return None

        try:
            wire = wait_for(on_wire, TIMEOUT_SECONDS, 0.005, what=f"{colour} on the wire")
            pixels = wait_for(on_page, TIMEOUT_SECONDS, 0.05, what=f"{colour} in Chromium")
        except AssertionError:
            self.missed += counted
            return
        if counted:
            self.wire.append(wire * 1000)
            self.pixels.append(pixels * 1000)

    def idle_cpu(self) -> float:
        """The server's CPU in ms per second while nothing changes on the screen."""
        time.sleep(1.0)
        before = cpu_seconds(self.server.process.pid)
        time.sleep(IDLE_SECONDS)
        return (cpu_seconds(self.server.process.pid) - before) * 1000 / IDLE_SECONDS

    def close(self) -> None:
        self.page.close()
        self.reader.close()
        self.server.stop()


def spread(values: list[float]) -> list[str]:
    """p50, p90 and max in ms."""
    if not values:
        return ["-", "-", "-"]
    p90 = statistics.quantiles(values, n=10)[8] if len(values) > 1 else values[0]
    return [f"{statistics.median(values):.0f}", f"{p90:.0f}", f"{max(values):.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=float, nargs="+", default=[15, 30, 60])
    parser.add_argument("--changes", type=int, default=40, help="timed changes per fps")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    for tool in ("Xvfb", "xsetroot", CHROMIUM):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install xvfb x11-xserver-utils chromium")
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"Framecast glass-to-glass, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
        f"load {' '.join(load)}"
    )
    rng = random.Random(args.seed)
    palette = colours(rng)
    work = Path(tempfile.mkdtemp(prefix="framecast-glass-"))
    screen = VirtualDisplay(*SCREEN).start()
    rows: list[list[object]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for fps in args.fps:
                measure = Measure(screen, browser, fps, work)
                try:
                    for number in range(WARM_UP_CHANGES + args.changes):
                        measure.change(next(palette), counted=number >= WARM_UP_CHANGES)
                        time.sleep(rng.uniform(0.15, 0.45))
                    idle = measure.idle_cpu()
                finally:
                    measure.close()
                rows.append(
                    [
                        f"{fps:g}",
                        *spread(measure.wire),
                        *spread(measure.pixels),
                        measure.missed,
                        f"{idle:.1f}",
                    ]
                )
            browser.close()
    finally:
        screen.stop()
        shutil.rmtree(work, ignore_errors=True)
    table(
        f"A change on a {SCREEN[0]}×{SCREEN[1]} Xvfb until it is on the wire and in Chromium's "
        f"pixels, {STREAM[0]}×{STREAM[1]} stream, {args.changes} changes per fps (ms from "
        "xsetroot's return)",
        [
            "[screen] fps",
            "wire p50",
            "wire p90",
            "wire max",
            "pixels p50",
            "pixels p90",
            "pixels max",
            "missed",
            "server CPU ms/s, still screen",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
