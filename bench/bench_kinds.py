"""Kinds of files (issue 14): how long each kind takes to prepare, how a big photo dropped in
reaches the stream, what a 1080p30 clip costs with many viewers, and memory while long or
many-framed files play.

    .venv/bin/python bench/bench_kinds.py [--only prepare|arrival|clip|memory]   (from the root)

The server runs pinned to core 0 and the viewers (bench/loadgen.c) to core 1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pillow_heif
from bench_channels import cpu_seconds, status
from bench_core import table
from bench_load import CLIENT_CORE, SERVER_CORE, loadgen, proc_stat
from harness import Server, StreamReader, media, wait_for
from photos import photo
from PIL import Image

from framecast.render.document import render_page
from framecast.render.imaging import RenderSpec, encode_jpeg, fitted_size, render_slide
from framecast.render.motion import first_frame

SPEC = RenderSpec(1920, 1080, "contain", (0, 0, 0), 80)  # type: ignore[arg-type]
RUNS = 5


def median_ms(work: Callable[[], object], runs: int = RUNS) -> float:
    work()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def make_files(work: Path) -> dict[str, Path]:
    files = {
        "6000×4000 JPEG": work / "big.jpg",
        "4032×3024 HEIC (12 MP iPhone)": work / "iphone.heic",
        "A4 PDF page": work / "menu.pdf",
        "1080p30 H.264 clip, first frame": work / "clip.mp4",
    }
    if not files["6000×4000 JPEG"].exists():
        photo(6000, 4000, seed=3, grain=0.15).save(files["6000×4000 JPEG"], quality=90)
        picture = photo(4032, 3024, seed=4, grain=0.05)
        pillow_heif.from_pillow(picture).save(files["4032×3024 HEIC (12 MP iPhone)"], quality=75)
        page = Image.new("RGB", (595, 842), (250, 250, 245))
        page.paste(photo(500, 400, seed=5).convert("RGB"), (48, 60))
        page.save(files["A4 PDF page"], "PDF", resolution=72)
        media.clip(files["1080p30 H.264 clip, first frame"], [(200, 40, 40)], 30, 300, (1920, 1080))
    return files


def bench_prepare(work: Path) -> None:
    files = make_files(work)
    rows = []
    for name, path in files.items():
        if path.suffix == ".pdf":
            cost = median_ms(lambda p=path: render_page(p, 0, SPEC))
        elif path.suffix == ".mp4":
            cost = median_ms(
                lambda p=path: encode_jpeg(first_frame(p, "video", SPEC), 80, optimize=True)
            )
        else:
            cost = median_ms(lambda p=path: render_slide(p, SPEC))
        rows.append([name, f"{path.stat().st_size / 1e6:.1f}", f"{cost:.0f}"])
    table(
        f"Time to prepare one slide at 1920×1080 (ms, median of {RUNS}, one thread)",
        ["file", "MB", "ms"],
        rows,
    )
    big = files["6000×4000 JPEG"]
    size = fitted_size(6000, 4000, SPEC)
    steps: dict[str, float] = {}

    def decode(draft: tuple[int, int]) -> Image.Image:
        with Image.open(big) as image:
            image.draft("RGB", draft)
            image.load()
            return image.copy()

    exact = decode(size)
    slack = decode((int(size[0] * 0.9), int(size[1] * 0.9)))
    steps["decode at 1/2 (3000×2000), the smallest at full size"] = median_ms(lambda: decode(size))
    steps["decode at 1/4 (1500×1000), within 10% of the size shown"] = median_ms(
        lambda: decode((int(size[0] * 0.9), int(size[1] * 0.9)))
    )
    steps["resize 3000×2000 → 1620×1080 (bilinear)"] = median_ms(
        lambda: exact.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    )
    steps["resize 1500×1000 → 1620×1080 (bilinear)"] = median_ms(
        lambda: slack.resize(size, Image.Resampling.BILINEAR)
    )
    framed = Image.new("RGB", (1920, 1080))
    framed.paste(slack.resize(size), (150, 0))
    steps["encode 1920×1080, quality 80, optimised tables"] = median_ms(
        lambda: encode_jpeg(framed, 80, optimize=True)
    )
    table(
        "Where a 6000×4000 JPEG's preparation goes (ms, median of 5)",
        ["step", "ms"],
        [[name, f"{ms:.0f}"] for name, ms in steps.items()],
    )


def bench_arrival(work: Path) -> None:
    """A 6000×4000 JPEG renamed into a running show's folder (new_first): time to its first
    frame on a stream, with no transition and with the fade."""
    files = make_files(work)
    rows = []
    for transition in ("none", "fade"):
        folder = work / f"arrival-{transition}"
        folder.mkdir()
        photo(1920, 1080, seed=9).save(folder / "a.jpg", quality=85)
        config = work / "config.toml"
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\n[slideshow]\nfolder = "{folder}"\ninterval = 300\n'
            f'transition = "{transition}"\nnew_first = true\n'
        )
        server = Server(config, wrapper=["taskset", "-c", SERVER_CORE]).wait_ready(30)
        stream = StreamReader(server.port)
        times, fades = [], []
        try:
            wait_for(stream.latest, 10, what="the first slide")
            for n in range(RUNS):
                before = stream.count()
                part = folder / f".big{n}.part"
                part.write_bytes(files["6000×4000 JPEG"].read_bytes())
                dropped = time.monotonic()
                os.replace(part, folder / f"big{n}.jpg")
                wait_for(lambda b=before, s=stream: s.count() > b, 10, what="the new slide")
                times.append(stream.frames[before][0] - dropped)
                wait_for(
                    lambda b=before, s=stream: full_size(s, b), 10, what="the slide after its fade"
                )
                fades.append(last_full(stream, before) - dropped)
                time.sleep(1.5)
        finally:
            stream.close()
            server.stop()
        rows.append(
            [
                transition,
                f"{statistics.median(times) * 1000:.0f} / {max(times) * 1000:.0f}",
                f"{statistics.median(fades) * 1000:.0f} / {max(fades) * 1000:.0f}",
            ]
        )
    table(
        f"A 6000×4000 JPEG renamed into the folder of a running show (new_first), {RUNS} times: "
        "from the rename to the stream (ms, median / max)",
        ["transition", "first frame of it", "the slide whole (after its fade)"],
        rows,
    )


def full_size(stream: StreamReader, since: int) -> bool:
    return any(size_of(jpeg) == (1920, 1080) for _, jpeg in stream.frames[since:])


def last_full(stream: StreamReader, since: int) -> float:
    return next(at for at, jpeg in stream.frames[since:] if size_of(jpeg) == (1920, 1080))


def size_of(jpeg: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.size


def bench_clip(work: Path) -> None:
    """A 1080p30 H.264 clip looping alone in the folder with 1, 50 and 200 viewers; then an
    8K 120 fps clip, which the decoder scales and the show drops to max_fps (30)."""
    binary = loadgen(work)
    rows = []
    cases = [
        ("1080p30 H.264", (1920, 1080), 30, "libx264", 1),
        ("1080p30 H.264", (1920, 1080), 30, "libx264", 50),
        ("1080p30 H.264", (1920, 1080), 30, "libx264", 200),
        ("8K 120 fps MPEG-4", (7680, 4320), 120, "mpeg4", 1),
    ]
    for name, size, fps, codec, viewers in cases:
        folder = work / f"clip-{size[0]}"
        if not folder.exists():
            folder.mkdir()
            each = 5 * fps if size[0] <= 1920 else fps  # an 8K clip of 2 s: big enough
            media.clip(folder / "clip.mp4", [(200, 40, 40), (40, 200, 40)], fps, each, size, codec)
        config = work / "config.toml"
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\n[slideshow]\nfolder = "{folder}"\ntransition = "none"\n'
        )
        server = Server(config, wrapper=["taskset", "-c", SERVER_CORE]).wait_ready(30)
        try:
            seconds = 20.0
            command = [str(binary), str(server.port), str(viewers), str(seconds + 3), "3"]
            load = subprocess.Popen(
                ["taskset", "-c", CLIENT_CORE, *command], stdout=subprocess.PIPE, text=True
            )
            time.sleep(3)
            frames0 = status(server)["frames"]
            cpu0, began = cpu_seconds(server.process.pid), time.monotonic()
            output = load.communicate()[0]
            elapsed = time.monotonic() - began
            published = status(server)["frames"] - frames0
            cpu = cpu_seconds(server.process.pid) - cpu0
            got = statistics.median(json.loads(output)["frames"]) / seconds
        finally:
            server.stop()
        rows.append(
            [
                name,
                viewers,
                f"{published / elapsed:.1f}",
                f"{got:.1f}",
                f"{cpu / elapsed * 100:.0f}%",
                f"{cpu / max(1, published) * 1000:.1f}",
            ]
        )
    table(
        "A clip looping as the only slide (1080p: 10 s; 8K: 2 s), 1920×1080 out, max_fps 30, "
        "server on one core",
        [
            "clip",
            "viewers",
            "frames published per s",
            "frames a viewer got per s (median)",
            "server CPU (of a core)",
            "server CPU ms per published frame",
        ],
        rows,
    )


def bench_memory(work: Path) -> None:
    """RSS while a 10,000-frame GIF, a 10-hour clip and a 2,000-page PDF play, sampled each
    second over 40 s."""
    rows = []
    cases: dict[str, Callable[[Path], None]] = {
        "GIF of 10,000 frames (64×36, 20 ms each)": lambda f: many_frames_gif(f / "long.gif"),
        "10-hour clip (160×90, 1 fps, H.264)": lambda f: media.clip(
            f / "long.mp4", [(200, 40, 40)], 1, 36_000, (160, 90)
        ),
        "PDF of 2,000 pages, 0.5 s each": lambda f: media.pdf(
            f / "book.pdf", [(200, 40, 40), (40, 40, 200)] * 1000, (595, 842)
        ),
    }
    for name, make in cases.items():
        folder = work / f"memory-{len(rows)}"
        folder.mkdir()
        make(folder)
        config = work / "config.toml"
        interval = 0.5 if "PDF" in name else 300
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\n[slideshow]\nfolder = "{folder}"\n'
            f'interval = {interval}\ntransition = "none"\n'
        )
        server = Server(config, wrapper=["taskset", "-c", SERVER_CORE]).wait_ready(60)
        stream = StreamReader(server.port)
        samples = []
        try:
            wait_for(stream.latest, 30, what="the first frame")
            for _ in range(40):
                time.sleep(1)
                samples.append(proc_stat(server.process.pid)[1] / 1024)
            frames = stream.count()
        finally:
            stream.close()
            server.stop()
        rows.append(
            [
                name,
                frames,
                f"{samples[4]:.0f}",
                f"{samples[-1]:.0f}",
                f"{max(samples):.0f}",
            ]
        )
    table(
        "Server RSS while one long file plays to one viewer (MB)",
        ["file", "frames in 40 s", "RSS at 5 s", "RSS at 40 s", "max"],
        rows,
    )


def many_frames_gif(path: Path) -> None:
    """10,000 frames, each a different picture (Pillow merges identical ones)."""
    frames = []
    for n in range(10_000):
        frame = Image.new("RGB", (64, 36), (n % 251, 40, 200 - n % 199))
        frame.paste((255, 255, 255), (n % 60, 10, n % 60 + 4, 14))
        frames.append(frame)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=20, loop=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["prepare", "arrival", "clip", "memory"])
    args = parser.parse_args()
    print(f"Framecast kinds-of-files benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.only in (None, "prepare"):
            bench_prepare(work)
        if args.only in (None, "arrival"):
            bench_arrival(work)
        if args.only in (None, "clip"):
            bench_clip(work)
        if args.only in (None, "memory"):
            bench_memory(work)


if __name__ == "__main__":
    main()
