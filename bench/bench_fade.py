"""Fade benchmark: what a fade costs a TV's Wi-Fi, and what it looks like.

    .venv/bin/python bench/bench_fade.py    (from the root, about 3 minutes)

1. For 1080p photos from soft to grainy: the slide's bytes, how many in-between frames the
   fade makes, their bytes against the slide's, the CPU one fade takes, and how close the
   in-between frames look to a full-size, full-quality blend once the TV has scaled them up
   (SSIM of the luma, 8×8 windows; 1.0 is identical).
2. A real server with the shipped settings and 10 s slides, one TV on /stream for a minute,
   with `transition = "fade"` and `"none"`: the bytes the TV received against the bytes of the
   slides it showed.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_core import table
from harness import ROOT, Server, StreamReader, wait_for
from photos import photo
from PIL import Image

from framecast.render.compose import fade
from framecast.render.imaging import encode_jpeg

KINDS = {"soft": 0.05, "medium": 0.15, "grainy": 0.3}
"""Photo kinds by the share of sensor-like grain in them (bench/photos.py)."""
SIZE = (1920, 1080)
STEPS = 20
"""The shipped fade: 0.8 s at most 25 frames a second."""
MINUTE = 60.0
INTERVAL = 10.0


def ssim(a: np.ndarray, b: np.ndarray, window: int = 8) -> float:
    """Mean structural similarity of two luma images over `window`-square boxes."""
    x, y = a.astype(np.float64), b.astype(np.float64)

    def mean(values: np.ndarray) -> np.ndarray:
        total = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        k = window
        return (total[k:, k:] - total[:-k, k:] - total[k:, :-k] + total[:-k, :-k]) / (k * k)

    mx, my = mean(x), mean(y)
    vx, vy, cov = mean(x * x) - mx**2, mean(y * y) - my**2, mean(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float(
        (((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))).mean()
    )


def as_tv_shows(jpeg: bytes) -> np.ndarray:
    """The frame's luma as a TV shows it: decoded and scaled (bilinear) to the screen."""
    with Image.open(io.BytesIO(jpeg)) as image:
        shown = image.convert("L").resize(SIZE, Image.Resampling.BILINEAR)
    return np.asarray(shown)


def bench_quality() -> None:
    rows = []
    for kind, grain in KINDS.items():
        before, after = photo(*SIZE, seed=61, grain=grain), photo(*SIZE, seed=62, grain=grain)
        slide = encode_jpeg(after, 80, optimize=True)
        began = time.process_time()
        between = fade(before, after, STEPS, 80, len(slide))
        cpu = time.process_time() - began
        count = len(between.jpegs)
        scores, full = [], []
        for step, jpeg in enumerate(between.jpegs, 1):
            exact = Image.blend(before, after, step / (count + 1))
            truth = np.asarray(exact.convert("L"))
            scores.append(ssim(truth, as_tv_shows(jpeg)))
            full.append(ssim(truth, as_tv_shows(encode_jpeg(exact, 80))))
        rows.append(
            [
                kind,
                f"{len(slide) / 1024:.0f}",
                count,
                f"{sum(map(len, between.jpegs)) / len(slide):.2f}",
                f"{cpu * 1000:.0f}",
                f"{np.mean(scores):.3f} / {min(scores):.3f}",
                f"{np.mean(full):.3f}",
            ]
        )
    table(
        "One 1080p fade (0.8 s, at most 25 fps) between two photos, slides at quality 80",
        [
            "photos",
            "slide KiB",
            "in-between frames",
            "their bytes / slide's",
            "CPU ms",
            "SSIM as the TV shows them: mean / worst",
            "SSIM of a full-size quality-80 blend",
        ],
        rows,
    )


def bench_bytes(work: Path) -> None:
    images = work / "images"
    images.mkdir()
    for n, grain in enumerate(list(KINDS.values()) * 2):
        photo(*SIZE, seed=70 + n, grain=grain).save(images / f"{n}.jpg", quality=90)
    rows = []
    for transition in ("fade", "none"):
        config = work / "config.toml"
        shipped = (ROOT / "config.toml").read_text()
        config.write_text(
            shipped.replace('folder = "images"', f'folder = "{images}"')
            .replace('host = "0.0.0.0"', 'host = "127.0.0.1"')
            .replace("interval = 5.0", f"interval = {INTERVAL}")
            .replace('transition = "fade"', f'transition = "{transition}"')
        )
        server = Server(config).wait_ready(30)
        try:
            reader = StreamReader(server.port)
            wait_for(lambda r=reader: r.count() >= 2, 2 * INTERVAL, what="a slide change")
            start_frames, start_bytes = reader.count(), reader.received
            time.sleep(MINUTE)
            frames = [jpeg for _, jpeg in reader.frames[start_frames:]]
            received = reader.received - start_bytes
            reader.close()
        finally:
            server.stop()
        slides = [jpeg for jpeg in frames if Image.open(io.BytesIO(jpeg)).size == SIZE]
        slide_bytes = sum(map(len, slides))
        rows.append(
            [
                transition,
                len(frames),
                len(slides),
                f"{received / 1e6:.2f}",
                f"{slide_bytes / 1e6:.2f}",
                f"{received / slide_bytes:.2f}",
            ]
        )
    table(
        f"One TV for a minute, shipped config.toml with {INTERVAL:g} s slides (6 photos, "
        "soft to grainy)",
        ["transition", "frames", "of them slides", "MB received", "MB of slides", "ratio"],
        rows,
    )


def main() -> None:
    print(f"Framecast fade benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    bench_quality()
    with tempfile.TemporaryDirectory() as folder:
        bench_bytes(Path(folder))


if __name__ == "__main__":
    main()
