"""Sound benchmarks (issue 18), on a private PulseAudio with null sinks (no sound card). Run from
the repository root after `bash scripts/test.sh` has set up `.venv`, chromium and pulseaudio:

    .venv/bin/python bench/bench_audio.py [--listeners 1 10 50 200] [--changes 20]

1. CPU of the server per listener, WAV and MP3: N listeners (a separate process reading N
   sockets) of one channel playing a tone; the server's CPU over 10 s, against none listening.
3. Picture and sound together (`--only av`): screen mode on a 1280×720 Xvfb at 30 fps with the
   machine's sound; at one instant the screen is painted a new colour (xsetroot) and the tone
   changes; the page (after "Sound on", once it has lined its picture up) stamps when its
   canvas first shows the colour and when its analyser first hears the tone. Then the same
   with the page's picture asked for without delay, as before the page lined them up.
2. Delay machine → browser: a tone that changes frequency every second is played into the
   machine's output; a headless Chromium on the page, after its "Sound on" button is pressed,
   reads an analyser on the page's <audio> every 5 ms, and the delay is from the moment the new
   frequency was written to PulseAudio to the moment the analyser's loudest bin shows it.
"""

from __future__ import annotations

import argparse
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_core import table
from bench_encoders import cpu_model
from bench_glass import SAMPLER
from bench_screen import cpu_seconds
from harness import (
    CHROMIUM_ARGS,
    RED,
    PrivatePulse,
    Server,
    Tone,
    VirtualDisplay,
    config_text,
    hex_colour,
    solid,
    wait_for,
)

WINDOW_SECONDS = 10.0
FREQUENCIES = [500.0, 1500.0, 900.0, 2500.0, 700.0, 2000.0]
PROBE = """() => {
  const audio = document.getElementById('sound');
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  analyser.smoothingTimeConstant = 0;
  context.createMediaElementSource(audio).connect(analyser);
  analyser.connect(context.destination);
  const levels = new Float32Array(analyser.frequencyBinCount);
  window.heard = [];
  let last = 0;
  setInterval(() => {
    analyser.getFloatFrequencyData(levels);
    let loudest = 1;
    for (let i = 2; i < levels.length; i++) { if (levels[i] > levels[loudest]) { loudest = i; } }
    const hz = levels[loudest] > -60 ? loudest * context.sampleRate / analyser.fftSize : 0;
    if (Math.abs(hz - last) > 100) {
      last = hz;
      window.heard.push([performance.timeOrigin + performance.now(), hz]);
    }
  }, 5);
}"""


AV_COLOURS = [(225, 30, 30), (30, 225, 30), (30, 30, 225), (225, 225, 30), (30, 225, 225)]


def listen(port: int, path: str, count: int, seconds: float) -> None:
    """The listeners' process: `count` sockets reading `path` for `seconds`, as fast as it
    comes."""
    selector = selectors.DefaultSelector()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for key, _ in selector.select(0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if not sock.recv(65536):
                selector.unregister(sock)


def listeners(server: Server) -> int:
    return int(server.status()["channels"]["default"]["audio"]["listeners"])


def start_server(work: Path, pulse: PrivatePulse, fmt: str) -> Server:
    config = work / "config.toml"
    config.write_text(
        config_text(
            extra=f'\n[audio]\nsource = "system"\nformat = "{fmt}"\nserver = "{pulse.address}"\n'
        )
    )
    return Server(config).wait_ready()


def bench_cpu(work: Path, pulse: PrivatePulse, counts: list[int]) -> None:
    rows = []
    for fmt in ("wav", "mp3"):
        server = start_server(work, pulse, fmt)
        try:
            base = None
            for count in [0, *counts]:
                workers = None
                if count:
                    workers = subprocess.Popen(
                        [
                            sys.executable,
                            __file__,
                            "--listen",
                            str(server.port),
                            f"/audio.{fmt}",
                            str(count),
                            str(WINDOW_SECONDS + 6),
                        ]
                    )
                    wait_for(
                        lambda n=count, s=server: listeners(s) == n,
                        timeout=30,
                        what=f"{count} listeners",
                    )
                    time.sleep(2)  # the mix starts and every listener has its burst
                before = cpu_seconds(server.process.pid)
                time.sleep(WINDOW_SECONDS)
                used = (cpu_seconds(server.process.pid) - before) / WINDOW_SECONDS * 100
                if workers is not None:
                    workers.wait(30)
                    wait_for(
                        lambda s=server: listeners(s) == 0,
                        timeout=30,
                        what="the listeners gone",
                    )
                if base is None:
                    base = used
                    rows.append([fmt, 0, f"{used:.2f}", "—"])
                    continue
                rows.append([fmt, count, f"{used:.2f}", f"{(used - base) / count:.3f}"])
        finally:
            server.stop()
    table(
        "Server CPU per listener (one channel, a tone playing)",
        ["format", "listeners", "server CPU, % of a core", "per listener, % of a core"],
        rows,
    )


def bench_delay(work: Path, pulse: PrivatePulse, changes: int) -> None:
    from playwright.sync_api import sync_playwright

    rows = []
    env = {**os.environ, "PULSE_SERVER": pulse.address, "PULSE_SINK": "tv"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, env=env
        )
        try:
            for fmt in ("wav", "mp3"):
                server = start_server(work, pulse, fmt)
                try:
                    rows.append([fmt, *measure_delay(browser, server, pulse, changes)])
                finally:
                    server.stop()
        finally:
            browser.close()
    table(
        f"Delay machine → Chromium's analyser ({changes} tone changes, one a second)",
        ["format", "p50 ms", "p90 ms", "max ms", "changes found"],
        rows,
    )


def measure_delay(browser: object, server: Server, pulse: PrivatePulse, changes: int) -> list[str]:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        with Tone(pulse, FREQUENCIES[0]) as tone:
            page.goto(server.url + "/", wait_until="domcontentloaded")
            page.locator("#sound-on").click()
            page.evaluate(PROBE)
            time.sleep(4)  # the player starts and settles at the live edge
            changed: list[tuple[float, float]] = []
            for n in range(changes):
                hz = FREQUENCIES[(n + 1) % len(FREQUENCIES)]
                tone.hz = hz
                changed.append((time.time() * 1000, hz))
                time.sleep(1.0)
            heard = page.evaluate("window.heard")
    finally:
        page.close()
    delays = []
    for at, hz in changed:
        seen = [t for t, h in heard if t >= at and abs(h - hz) < 60]
        if seen and seen[0] - at < 2000:
            delays.append(seen[0] - at)
    if not delays:
        return ["—", "—", "—", f"0 of {changes}"]
    delays.sort()
    return [
        f"{statistics.median(delays):.0f}",
        f"{delays[int(len(delays) * 0.9) - 1 if len(delays) >= 10 else -1]:.0f}",
        f"{max(delays):.0f}",
        f"{len(delays)} of {changes}",
    ]


def bench_av(work: Path, pulse: PrivatePulse, changes: int) -> None:
    from playwright.sync_api import sync_playwright

    screen = VirtualDisplay(1280, 720).start()
    config = work / "config.toml"
    config.write_text(
        config_text(
            width=1920,
            height=1080,
            source="screen",
            extra=f'\n[screen]\nfps = 30\n[audio]\nsource = "system"\nserver = "{pulse.address}"\n',
        )
    )
    server = Server(config, env={**os.environ, "DISPLAY": screen.name}).wait_ready()
    env = {**os.environ, "PULSE_SERVER": pulse.address, "PULSE_SINK": "tv"}
    rows = []
    try:
        with sync_playwright() as playwright, Tone(pulse, FREQUENCIES[0]) as tone:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, env=env
            )
            page = browser.new_page(viewport={"width": 960, "height": 540})
            page.goto(server.url + "/", wait_until="domcontentloaded")
            page.locator("#sound-on").click()
            page.evaluate(PROBE)
            page.evaluate(SAMPLER)
            wait_for(
                lambda: "delay=" in (page.locator("#screen").get_attribute("src") or ""),
                timeout=30,
                what="the page to line its picture up with its sound",
            )
            time.sleep(3)  # the delayed stream is on
            delay = page.locator("#screen").get_attribute("src") or ""
            rows.append(
                [
                    "lined up (" + delay.split("delay=")[1].split("&")[0] + " ms)",
                    *av_offsets(page, screen, tone, changes, 0),
                ]
            )
            page.evaluate(
                "() => { const img = document.getElementById('screen');"
                " img.src = img.src.replace(/&delay=\\d+/, ''); }"
            )
            time.sleep(2)
            rows.append(
                ["picture not held back", *av_offsets(page, screen, tone, changes, changes)]
            )
            browser.close()
    finally:
        server.stop()
        screen.stop()
    table(
        f"Picture and sound at the TV: the screen painted and the tone changed at one instant, "
        f"{changes} times (ms after that instant; offset = sound - picture)",
        ["page", "picture p50", "sound p50", "offset p50", "offset min", "offset max", "found"],
        rows,
    )


def av_offsets(page: object, screen: object, tone: Tone, changes: int, first: int) -> list[str]:
    """Offsets of `changes` changes, the first of them number `first` in the cycle of colours
    and tones (so that it differs from the last one before)."""
    page.evaluate("() => { window.heard = []; }")  # type: ignore[attr-defined]
    marks: list[tuple[float, tuple[int, int, int], float]] = []
    for n in range(changes):
        colour = AV_COLOURS[(first + n) % len(AV_COLOURS)]
        hz = FREQUENCIES[(first + n + 1) % len(FREQUENCIES)]
        screen.xsetroot("-solid", hex_colour(colour))  # type: ignore[attr-defined]
        tone.hz = hz
        marks.append((time.time() * 1000, colour, hz))
        time.sleep(1.5)
    seen = page.evaluate("t => window.glass.since(t)", marks[0][0])  # type: ignore[attr-defined]
    heard = page.evaluate("window.heard")  # type: ignore[attr-defined]
    pictures, sounds, offsets = [], [], []
    for at, colour, hz in marks:
        shown = [
            t
            for t, *rgb in seen
            if t >= at and all(abs(a - b) < 40 for a, b in zip(rgb, colour, strict=True))
        ]
        played = [t for t, h in heard if t >= at and abs(h - hz) < 60]
        if shown and played:
            pictures.append(shown[0] - at)
            sounds.append(played[0] - at)
            offsets.append(played[0] - shown[0])
    if not offsets:
        return ["—"] * 5 + [f"0 of {changes}"]
    return [
        f"{statistics.median(pictures):.0f}",
        f"{statistics.median(sounds):.0f}",
        f"{statistics.median(offsets):+.0f}",
        f"{min(offsets):+.0f}",
        f"{max(offsets):+.0f}",
        f"{len(offsets)} of {changes}",
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--listen":
        listen(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, nargs="+", default=[1, 10, 50, 200])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--only", choices=["cpu", "delay", "av"])
    arguments = parser.parse_args()
    print(
        f"Framecast sound benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
        f"{os.cpu_count()} cores ({cpu_model()})"
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "images").mkdir()
        solid(work / "images" / "red.png", RED)
        pulse = PrivatePulse(work / "pulse").start()
        try:
            if arguments.only in (None, "cpu"):
                bench_cpu(work, pulse, arguments.listeners)
            if arguments.only in (None, "delay"):
                bench_delay(work, pulse, arguments.changes)
            if arguments.only in (None, "av"):
                bench_av(work, pulse, arguments.changes)
        finally:
            pulse.stop()


if __name__ == "__main__":
    main()
