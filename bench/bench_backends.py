"""The screen backends side by side (issue 26): the X11 path (X DAMAGE, then mss) and mss alone,
on a 1920×1080 Xvfb showing a photo; and wlroots (wlr-screencopy) on a headless sway at
1920×1080 showing the same photo, when sway is installed (run as root: sway runs as its own
user, as in the tests). Run from the repository root, with Xvfb, xsetroot and
python-xlib installed:

    .venv/bin/python bench/bench_backends.py

Three figures per backend, the capturing process and the X server pinned to core 0, the bench's
painter and clients on core 1:
- CPU per changed frame: grab, compare with the last grab, encode at 1920×1080 (in this
  process, as the feed and one channel do it), after a one-pixel change at the bottom right
  whose drawing CPU in this process is taken out; the X server's CPU is counted.
- An unchanged screen: the real server at fps = 30 with one client, 10 s; server plus X server
  CPU, as a share of one core.
- A change to the wire: the real server at fps = 30, the screen painted a solid colour with
  xsetroot a random 0.15–0.45 s apart, timed from xsetroot's return to the first frame whose
  centre has the colour at a raw /stream reader. On sway the colour is set with `swaymsg output
  ... bg`, which starts a new swaybg client to draw it: its start is in the figure.
- wlroots has no CPU-per-changed-frame figure: nothing here draws one pixel on sway.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_core import table
from bench_screen import HEIGHT, WIDTH, Painter, cpu_seconds, per_frame
from harness import HeadlessSway, Server, StreamReader, VirtualDisplay, centre, close_to, wait_for
from photos import photo

from framecast.config import ScreenSettings
from framecast.render.imaging import RenderSpec
from framecast.render.screen_frame import encode_screen
from framecast.screen.backends import ScreenBackend
from framecast.screen.grab import ScreenGrabber, same_from
from framecast.screen.plain import PlainGrabber
from framecast.service.memory import keep_freed_memory

BACKENDS = ("x11", "mss")
FRAMES = 100
SLICES = 3
IDLE_SECONDS = 10.0
CHANGES = 30
SERVER_CORE, CLIENT_CORE = {0}, {1}
LEVELS = (30, 128, 225)


def backend(name: str) -> ScreenBackend:
    return ScreenGrabber() if name == "x11" else PlainGrabber()


def changed_frame_cpu(screen: VirtualDisplay, painter: Painter, name: str) -> list[float]:
    """CPU ms per changed frame of `SLICES` runs of `FRAMES` frames."""
    assert screen.process is not None
    grabber = backend(name)
    settings = ScreenSettings()
    spec = RenderSpec(WIDTH, HEIGHT, "contain", (0, 0, 0), 80)
    last = [grabber.grab(settings).pixels]
    painting = 0.0
    undrawn = 0

    def capture() -> None:
        nonlocal painting, undrawn
        started = time.process_time()
        painter.dot()
        painting += time.process_time() - started
        grab = grabber.grab(settings)
        undrawn += not grab.drawn
        start = grab.first_row * grab.width * 4
        if not same_from(grab.pixels, last[0], start):
            encode_screen(grab.pixels, grab.width, grab.height, spec)
        last[0] = grab.pixels

    slices = []
    for _ in range(SLICES):
        painting = 0.0
        cpu, _ = per_frame(screen.process.pid, FRAMES, capture)
        slices.append(cpu - painting * 1000 / FRAMES)
    grabber.close()
    assert undrawn == 0, f"{undrawn} changes were not grabbed"
    return slices


def start_server(name: str, work: Path, **env: str) -> Server:
    config = work / f"config-{name}.toml"
    config.write_text(
        f'[stream]\nsource = "screen"\nwidth = {WIDTH}\nheight = {HEIGHT}\nquality = 80\n'
        f'[screen]\nfps = 30\nbackend = "{name}"\n'
    )
    return Server(config, wrapper=["taskset", "-c", "0"], env=dict(os.environ, **env)).wait_ready()


def measure(
    screen: VirtualDisplay | HeadlessSway, server: Server, rng: random.Random
) -> tuple[float, list[float]]:
    """The unchanged screen's CPU share and the sorted change → wire latencies."""
    try:
        reader = StreamReader(server.port)
        wait_for(reader.latest, what="a frame")
        idle = idle_share(screen, server)
        latencies = sorted(wire_latencies(screen, reader, rng))
        reader.close()
    finally:
        server.stop()
    return idle, latencies


def wlroots_row(work: Path, rng: random.Random) -> list[object]:
    """wlroots on a headless sway at WIDTH×HEIGHT showing a photo."""
    sway = HeadlessSway(work)
    sway.config.write_text(f"output HEADLESS-1 resolution {WIDTH}x{HEIGHT}\n")
    picture = sway.runtime / "photo.png"
    photo(WIDTH, HEIGHT).save(picture)
    picture.chmod(0o644)
    sway.start()
    assert sway.process is not None
    os.sched_setaffinity(sway.process.pid, SERVER_CORE)
    try:
        sway.swaymsg("output", "HEADLESS-1", "bg", str(picture), "fill")
        server = start_server("wlroots", work, WAYLAND_DISPLAY=sway.socket)
        idle, latencies = measure(sway, server, rng)
    finally:
        sway.stop()
    return ["wlroots", "—", f"{idle:.1f}%", *percentiles(latencies)]


def percentiles(latencies: list[float]) -> list[str]:
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    return [f"{statistics.median(latencies):.0f}", f"{p90:.0f}", f"{latencies[-1]:.0f}"]


def idle_share(screen: VirtualDisplay | HeadlessSway, server: Server) -> float:
    """Server plus X server (or sway) CPU while the screen stands still, % of one core."""
    assert screen.process is not None
    time.sleep(1.0)
    before = cpu_seconds(server.process.pid) + cpu_seconds(screen.process.pid)
    time.sleep(IDLE_SECONDS)
    after = cpu_seconds(server.process.pid) + cpu_seconds(screen.process.pid)
    return (after - before) * 100 / IDLE_SECONDS


def wire_latencies(
    screen: VirtualDisplay | HeadlessSway, reader: StreamReader, rng: random.Random
) -> list[float]:
    """ms from a painted change to its frame on the wire, `CHANGES` times."""
    latencies = []
    previous = (0, 0, 0)
    for index in range(CHANGES + 3):
        colour = previous
        while colour == previous:
            colour = (rng.choice(LEVELS), rng.choice(LEVELS), rng.choice(LEVELS))
        previous = colour
        time.sleep(rng.uniform(0.15, 0.45))
        seen = reader.count()
        screen.paint(colour)
        painted_at = time.monotonic()

        def on_wire(
            seen: int = seen, colour: tuple[int, int, int] = colour, at: float = painted_at
        ) -> float | None:
            with reader._lock:
                frames = reader.frames[seen:]
            for arrived, jpeg in frames:
                if arrived >= at and close_to(centre(jpeg), colour):
                    return arrived - at
            return None

        wire = wait_for(on_wire, 5.0, 0.002, what=f"{colour} on the wire")
        if index >= 3:  # the first changes warm up the server
            latencies.append(wire * 1000)
    return latencies


def main() -> None:
    for tool in ("Xvfb", "xsetroot", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install xvfb x11-xserver-utils util-linux")
    print(f"Framecast screen backends, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    keep_freed_memory()
    work = Path(tempfile.mkdtemp(prefix="framecast-backends-"))
    screen = VirtualDisplay(WIDTH, HEIGHT).start()
    assert screen.process is not None
    os.sched_setaffinity(screen.process.pid, SERVER_CORE)
    os.environ["DISPLAY"] = screen.name
    rng = random.Random(26)
    rows: list[list[object]] = []
    try:
        painter = Painter(screen.name)
        painter.photo()
        changed: dict[str, list[float]] = {}
        os.sched_setaffinity(0, SERVER_CORE)
        for _ in range(2):  # alternate, so a drift in the machine's speed weighs on both
            for name in BACKENDS:
                changed.setdefault(name, []).extend(changed_frame_cpu(screen, painter, name))
        os.sched_setaffinity(0, CLIENT_CORE)
        for name in BACKENDS:
            painter.photo()
            idle, latencies = measure(screen, start_server(name, work, DISPLAY=screen.name), rng)
            cpus = changed[name]
            rows.append(
                [
                    name,
                    f"{statistics.median(cpus):.2f} ({min(cpus):.2f}–{max(cpus):.2f})",
                    f"{idle:.1f}%",
                    *percentiles(latencies),
                ]
            )
        if shutil.which("sway") is not None:
            rows.append(wlroots_row(work, rng))
    finally:
        screen.stop()
        shutil.rmtree(work, ignore_errors=True)
    table(
        f"Screen backends, {WIDTH}×{HEIGHT} Xvfb, 1920×1080 stream at quality 80, fps = 30; "
        "capturer and X server on core 0 (CPU per changed frame: median and range of "
        f"{2 * SLICES} slices of {FRAMES} frames; wire latency over {CHANGES} changes)",
        [
            "backend",
            "CPU ms per changed frame (with X server)",
            "unchanged screen: CPU, server + X server (or sway)",
            "change → wire p50 ms",
            "p90",
            "max",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
