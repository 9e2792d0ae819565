"""Live sources benchmark (issue 26): a camera or stream as a channel's source.

    .venv/bin/python bench/bench_live.py [--runs N] [--window S]   (from the root)

1. First frame at a TV: a server whose channel shows an MJPEG stream, an MP4 and an HLS
   playlist (served by tests/streams.py on 127.0.0.1); a TV connects to a channel nobody
   watched (its source is closed), and the time until its stream carries the stream's picture
   (not the "Connecting" frame) is taken, `--runs` times each.
2. Back after the source returns: the MJPEG stream stalls until the channel shows it offline
   (`url_timeout = 2`), stays away 3 s or 10 s, then sends again in another colour; the time
   from its return to that colour at the TV.
3. CPU of decoding and re-encoding a 1080p30 H.264 stream (12 s of moving colour bars with
   noise, x264 veryfast, looping, MP4 and HLS) for 10 TVs on one channel of 1920×1080 at
   quality 80: the server's CPU (user + system, /proc) over `--window` seconds, frames
   published and received.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from bench_core import table
from bench_load import proc_stat
from harness import Server, StreamReader, config_text, wait_for
from streams import StreamServer, hls, mp4

GREEN = (30, 200, 60)
RED = (220, 30, 30)
BLUE = (30, 60, 220)
TVS = 10


def config(urls: dict[str, str], width: int = 320, height: int = 180, timeout: float = 2) -> str:
    text = config_text(width=width, height=height)
    for name, url in urls.items():
        text += f'\n[channels.{name}]\nsource = "url"\nurl = "{url}"\nurl_timeout = {timeout}\n'
    return text


def first_frames(server: Server, name: str, colour: tuple[int, int, int], runs: int) -> list[float]:
    """Seconds from a TV's connect to the stream's picture on it, each from a closed source."""
    times = []
    for _ in range(runs):
        wait_for(
            lambda: server.status()["channels"][name]["live_connected"] is False,
            timeout=10,
            what="the source closed",
        )
        started = time.monotonic()
        tv = StreamReader(server.port, f"/c/{name}/stream")
        try:
            tv.wait_colour(colour, timeout=15)
            times.append(time.monotonic() - started)
        finally:
            tv.close()
    return times


def back_after(server: Server, streams: StreamServer, away: float, runs: int) -> list[float]:
    """Seconds from the MJPEG stream's return (after `away` s offline) to its picture at a TV."""
    times = []
    tv = StreamReader(server.port, "/c/mjpeg/stream")
    try:
        for run in range(runs):
            colour = (RED, BLUE)[run % 2]
            tv.wait_colour(streams.colour, timeout=15)
            streams.stalled.set()
            wait_for(
                lambda: server.status()["channels"]["mjpeg"]["live_connected"] is False,
                timeout=10,
                what="offline",
            )
            time.sleep(away)
            streams.colour = colour
            returned = time.monotonic()
            streams.stalled.clear()
            tv.wait_colour(colour, timeout=20)
            times.append(time.monotonic() - returned)
    finally:
        tv.close()
    return times


def bars_1080p(path: Path, seconds: float, fps: int = 30) -> Path:
    """Moving colour bars with noise, 1920×1080 at `fps`, H.264 (x264 veryfast) in `path`
    (.mp4), or an HLS playlist when `path` ends in .m3u8."""
    options = {"movflags": "faststart"}
    fmt = None
    if path.suffix == ".m3u8":
        options = {"hls_time": "2", "hls_list_size": "0", "hls_playlist_type": "vod"}
        fmt = "hls"
    rng = np.random.default_rng(1)
    base = np.zeros((1080, 1920, 3), dtype=np.uint8)
    for index, colour in enumerate([RED, GREEN, BLUE, (230, 210, 40), (240, 240, 240)] * 2):
        base[:, index * 192 : (index + 1) * 192] = colour
    with av.open(str(path), mode="w", format=fmt, options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = 1920, 1080
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "veryfast", "g": str(fps * 2), "crf": "23"}
        for number in range(round(seconds * fps)):
            pixels = np.roll(base, number * 8, axis=1)
            noise = rng.integers(0, 24, size=(1080 // 8, 1920 // 8, 1), dtype=np.uint8)
            pixels = pixels // 2 + np.repeat(np.repeat(noise, 8, axis=0), 8, axis=1)
            frame = av.VideoFrame.from_ndarray(pixels.astype(np.uint8), format="rgb24")
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def cpu_for_tvs(server: Server, name: str, window: float) -> tuple[float, float, float]:
    """Server CPU (share of one core), frames published a second and frames a TV received a
    second, with TVS TVs on channel `name`."""
    tvs = [StreamReader(server.port, f"/c/{name}/stream") for _ in range(TVS)]
    try:
        wait_for(lambda: all(tv.count() > 5 for tv in tvs), timeout=20, what="every TV's frames")
        time.sleep(3)
        cpu0 = proc_stat(server.process.pid)[0]
        frames0 = server.status()["channels"][name]["frames"]
        counts0 = [tv.count() for tv in tvs]
        started = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - started
        cpu = (proc_stat(server.process.pid)[0] - cpu0) / elapsed
        published = (server.status()["channels"][name]["frames"] - frames0) / elapsed
        received = statistics.mean(
            (tv.count() - before) / elapsed for tv, before in zip(tvs, counts0, strict=True)
        )
    finally:
        for tv in tvs:
            tv.close()
    return cpu, published, received


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    served = work / "served"
    served.mkdir()
    (work / "images").mkdir()
    mp4(served / "small.mp4", [RED], seconds_each=30)
    hls(served / "small", [BLUE], seconds_each=30)
    started = time.monotonic()
    bars_1080p(served / "bars.mp4", 12)
    (served / "bars").mkdir()
    bars_1080p(served / "bars" / "index.m3u8", 12)
    print(f"1080p30 test streams written in {time.monotonic() - started:.0f} s")
    streams = StreamServer(served).start()
    urls = {
        "mjpeg": f"{streams.url}/live.mjpeg",
        "mp4": f"{streams.url}/small.mp4",
        "hls": f"{streams.url}/small/index.m3u8",
    }
    config_path = work / "config.toml"
    config_path.write_text(config(urls))
    server = Server(config_path).wait_ready()
    try:
        rows = []
        for name, colour in (("mjpeg", GREEN), ("mp4", RED), ("hls", BLUE)):
            times = first_frames(server, name, colour, args.runs)
            rows.append([name, len(times), f"{statistics.median(times):.2f}", f"{max(times):.2f}"])
        table(
            "First frame at a TV after it connects (source closed before), seconds",
            ["stream", "runs", "median", "max"],
            rows,
        )
        rows = []
        for away in (3.0, 10.0):
            times = back_after(server, streams, away, args.runs)
            rows.append(
                [f"{away:g} s", len(times), f"{statistics.median(times):.2f}", f"{max(times):.2f}"]
            )
        table(
            "Picture back at the TV after the MJPEG stream returns (url_timeout = 2), seconds",
            ["offline for", "runs", "median", "max"],
            rows,
        )
    finally:
        server.stop()
    config_path.write_text(
        config(
            {"mp4": f"{streams.url}/bars.mp4", "hls": f"{streams.url}/bars/index.m3u8"},
            width=1920,
            height=1080,
            timeout=10,
        )
    )
    server = Server(config_path).wait_ready()
    try:
        rows = []
        for name in ("mp4", "hls"):
            cpu, published, received = cpu_for_tvs(server, name, args.window)
            rows.append(
                [f"1080p30 H.264 {name}", TVS, f"{cpu:.2f}", f"{published:.1f}", f"{received:.1f}"]
            )
            wait_for(
                lambda name=name: server.status()["channels"][name]["live_connected"] is False,
                timeout=10,
                what="the source closed",
            )
        table(
            f"Decode + fit + encode for {TVS} TVs (one channel 1920×1080, quality 80), "
            f"over {args.window:g} s",
            ["stream", "TVs", "server CPU (cores)", "frames published/s", "frames per TV/s"],
            rows,
        )
    finally:
        server.stop()
        streams.stop()


if __name__ == "__main__":
    main()
