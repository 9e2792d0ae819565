"""Core benchmarks (issue 2): slide preparation, new-client latency, file-drop latency, server CPU
per frame and a TV's bytes per minute. Prints markdown tables; run from the repository root:

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import Server, StreamReader, wait_for
from photos import save_photo
from PIL import Image, ImageChops, ImageStat

from framecast.render.imaging import RenderSpec, encode_jpeg, fit, render_slide
from framecast.slideshow.folder import FolderPlaylist

SPEC = RenderSpec(1920, 1080, "contain", (0, 0, 0), 80)


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


def timed(action: Callable[[], object], runs: int = 5) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}"


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = sum(v * v for v in ImageStat.Stat(ImageChops.difference(a, b)).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def bench_prepare(work: Path) -> None:
    files = {
        "6000×4000 JPEG, fine grain": save_photo(work / "grain24.jpg", 6000, 4000),
        "6000×4000 JPEG, smooth": save_photo(work / "smooth24.jpg", 6000, 4000, 4, grain=0.1),
        "4000×3000 JPEG": save_photo(work / "photo12.jpg", 4000, 3000, seed=2),
        "4000×3000 PNG": save_photo(work / "photo12.png", 4000, 3000, seed=3),
    }
    rows: list[list[object]] = []
    for label, path in files.items():
        with_draft = timed(lambda p=path: render_slide(p, SPEC))

        def no_draft(p: Path = path) -> bytes:
            with Image.open(p) as image:
                image.load()
                return encode_jpeg(fit(image.convert("RGB"), SPEC), SPEC.quality, optimize=True)

        without = timed(no_draft, 3)
        size = f"{path.stat().st_size / 1e6:.1f} MB"
        rows.append([label, size, ms(with_draft), ms(without)])
    table(
        "Time to prepare one 1080p slide (render_slide: decode, orient, fit, encode), ms, median",
        ["file", "size", "as shipped (draft mode)", "without draft mode"],
        rows,
    )

    path = files["6000×4000 JPEG, fine grain"]
    decode_rows: list[list[object]] = []
    for scale in (1, 2, 4, 8):

        def decode(s: int = scale) -> None:
            with Image.open(path) as image:
                image.draft("RGB", (6000 // s, 4000 // s))
                image.load()

        decode_rows.append([f"1/{scale}", ms(timed(decode))])
    table(
        "Decoding alone, the 6.4 MB 6000×4000 JPEG at each DCT scale (draft mode), ms, median",
        ["scale", "ms"],
        decode_rows,
    )
    with Image.open(path) as full:
        full.load()
        reference = full.resize((1620, 1080), Image.Resampling.LANCZOS)
    with Image.open(path) as drafted:
        drafted.draft("RGB", (1620, 1080))
        drafted.load()
        source = drafted.copy()
    filter_rows: list[list[object]] = []
    for name in ("BILINEAR", "BICUBIC", "LANCZOS"):
        method = Image.Resampling[name]
        result = source.resize((1620, 1080), method, reducing_gap=2.0)
        cost = timed(lambda m=method: source.resize((1620, 1080), m, reducing_gap=2.0))
        filter_rows.append([name, ms(cost), f"{psnr(result, reference):.1f}"])
    table(
        "Resize of the drafted 3000×2000 decode to 1620×1080: ms, and PSNR (dB) against a "
        "Lanczos resize of the full 6000×4000 decode",
        ["filter", "ms", "PSNR dB"],
        filter_rows,
    )


def first_part_latency(port: int) -> float:
    """Connect, request /stream, and time until the first JPEG part is complete."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while data.count(b"--frame\r\n") < 2:
            chunk = sock.recv(262144)
            if not chunk:
                raise RuntimeError("stream closed")
            data += chunk
    return (time.perf_counter() - started) * 1000


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(work: Path, interval: float, keepalive: float = 20, transition: str = "none") -> Server:
    config = work / "config.toml"
    config.write_text(
        f"""
[stream]
quality = 80
keepalive = {keepalive}
[slideshow]
folder = "images"
interval = {interval}
transition = "{transition}"
"""
    )
    return Server(config).wait_ready()


def bench_server(work: Path) -> None:
    images = work / "images"
    images.mkdir()
    for n in range(6):
        save_photo(images / f"slide{n}.jpg", 1920, 1080, seed=10 + n)
    slide_bytes = sorted(p.stat().st_size for p in images.iterdir())

    server = start(work, interval=30)
    wait_for(lambda: server.status()["slide"], what="a slide")
    latencies = [first_part_latency(server.port) for _ in range(50)]
    server.stop()
    table(
        "New client: request sent to first whole JPEG part received (50 clients, 1080p slide)",
        ["median ms", "p95 ms", "max ms"],
        [
            [
                f"{statistics.median(latencies):.1f}",
                f"{sorted(latencies)[47]:.1f}",
                f"{max(latencies):.1f}",
            ]
        ],
    )

    rows: list[list[object]] = []
    for clients in (1, 10):
        server = start(work, interval=0.1)
        readers = [StreamReader(server.port) for _ in range(clients)]
        wait_for(lambda rs=readers: all(r.count() for r in rs), what="frames")
        cpu0, frames0 = server_cpu_seconds(server.process.pid), server.status()["frames"]
        delivered0 = sum(r.count() for r in readers)
        time.sleep(10)
        cpu1, frames1 = server_cpu_seconds(server.process.pid), server.status()["frames"]
        delivered = sum(r.count() for r in readers) - delivered0
        published = frames1 - frames0
        for reader in readers:
            reader.close()
        server.stop()
        rows.append(
            [
                clients,
                published,
                f"{(cpu1 - cpu0) * 1000 / published:.2f}",
                f"{(cpu1 - cpu0) * 1000 / max(1, delivered):.2f}",
            ]
        )
    table(
        "Server CPU per frame: 6 rendered 1080p slides cycling at interval = 0.1 s for 10 s",
        ["clients", "frames published", "CPU ms per published frame", "CPU ms per delivered frame"],
        rows,
    )

    rows = []
    for transition in ("none", "fade"):
        server = start(work, interval=10, transition=transition)
        reader = StreamReader(server.port)
        time.sleep(60)
        received, frames = reader.received, reader.count()
        distinct = len({jpeg for _, jpeg in reader.frames})
        reader.close()
        server.stop()
        shown = statistics.mean(slide_bytes) * (1 + 60 // 10)  # the first slide, then one per 10 s
        rows.append(
            [
                transition,
                f"{received:,}",
                f"{frames} ({distinct})",
                f"{statistics.mean(slide_bytes):,.0f}",
                f"{received / shown:.2f}",
            ]
        )
    table(
        "One TV, 10-second slideshow of 1080p JPEG photos (quality 80), 60 s",
        [
            "transition",
            "bytes received",
            "frames (distinct)",
            "mean source file bytes",
            "received / source bytes of the slides shown",
        ],
        rows,
    )


def bench_drop(work: Path) -> None:
    folder = work / "drop"
    folder.mkdir()
    source = save_photo(work / "drop-source.jpg", 1920, 1080, seed=99)
    data = source.read_bytes()
    arrived: dict[str, float] = {}
    wanted: set[Path] = set()

    def changed() -> None:
        """Called on the playlist's worker thread the moment its slides change."""
        now = time.perf_counter()
        for path in list(wanted):
            if playlist.lookup(path):
                arrived.setdefault(path.name, now)
                wanted.discard(path)

    playlist = FolderPlaylist(folder, False, "name", changed)
    playlist.start()
    wait_for(lambda: playlist.folder_exists, what="the folder")
    rows: list[list[object]] = []
    for how in ("rename", "write and close"):
        delays = []
        for n in range(20):
            name = f"{how[0]}{n}.jpg"
            target = folder / name
            wanted.add(target)
            if how == "rename":
                temporary = work / name
                temporary.write_bytes(data)
                done = time.perf_counter()
                os.replace(temporary, target)
            else:
                with target.open("wb") as handle:
                    handle.write(data)
                    done = time.perf_counter()
            wait_for(lambda nm=name: nm in arrived, what=name)
            delays.append((arrived[name] - done) * 1000)
        rows.append([how, f"{statistics.median(delays):.1f}", f"{max(delays):.1f}"])
    playlist.stop()
    table(
        f"Dropped 1080p JPEG ({len(data):,} bytes): rename or close to slide in the playlist, "
        "20 drops",
        ["how", "median ms", "max ms"],
        rows,
    )


def main() -> None:
    print(f"Framecast core benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="framecast-bench-"))
    try:
        bench_prepare(work)
        bench_drop(work)
        bench_server(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
