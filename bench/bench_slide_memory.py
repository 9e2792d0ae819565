"""Peak memory of preparing one big slide (issue 11, item 4; every kind of PNG and the extreme
aspect ratios of issue 25). Prints a markdown table; run from the repository root:

    .venv/bin/python bench/bench_slide_memory.py

Each image is rendered to a 1920×1080 frame in a fresh process, so its peak resident size
(VmHWM, which unlike ru_maxrss starts anew at exec) is that render's alone, less the process's
peak just before it. The process imports the `framecast` of the current folder: run from
another checkout's root to measure that one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from harness import plain_png
from PIL import Image

FIFTY = (8660, 5773)
CASES = [
    ("PNG RGBA 8660×5773 (50 MP)", "RGBA", FIFTY, "png", "contain"),
    ("PNG RGB 8660×5773 (50 MP)", "RGB", FIFTY, "png", "contain"),
    ("PNG RGBA 6000×4000 (24 MP)", "RGBA", (6000, 4000), "png", "contain"),
    ("JPEG 6000×4000 (24 MP)", "RGB", (6000, 4000), "jpg", "contain"),
    ("PNG L 8660×5773 (50 MP)", "L", FIFTY, "png", "contain"),
    ("PNG LA 8660×5773 (50 MP)", "LA", FIFTY, "png", "contain"),
    ("PNG RGBA 8660×5773 (50 MP)", "RGBA", FIFTY, "png", "blur"),
    ("PNG 16-bit grey 8660×5773 (50 MP)", "I;16", FIFTY, "png", "contain"),
]
"""Pictures with detail everywhere: label, mode, size, file type, fit."""
THIN = [
    ("PNG RGBA 1×49,000,000", "RGBA", (1, 49_000_000)),
    ("PNG L 1×49,000,000", "L", (1, 49_000_000)),
    ("PNG RGB 49,000,000×1", "RGB", (49_000_000, 1)),
    ("PNG L 215×232,000 (the thinnest shown, 50 MP)", "L", (215, 232_000)),
    ("PNG RGBA 215×232,000 (the thinnest shown, 50 MP)", "RGBA", (215, 232_000)),
    ("PNG RGB 309,000×161 (the flattest shown, 50 MP)", "RGB", (309_000, 161)),
]
"""Extreme aspect ratios, each of one plain grey written row by row (a picture this shape
cannot be made with Pillow without the memory measured here): label, mode, size."""

DECODED_BYTES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 2}
"""Bytes a pixel of each mode, decoded."""

MEASURE = """
import time
from pathlib import Path
from framecast.render.imaging import RenderSpec, UnreadableImage, render_slide

def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

spec = RenderSpec(1920, 1080, {fit!r}, (0, 0, 0), 80, max_pixels=50_000_000)
before = kib("VmHWM")
started = time.perf_counter()
try:
    render_slide(Path({path!r}), spec)
    outcome = "shown"
except UnreadableImage:
    outcome = "refused"
took = time.perf_counter() - started
print(before // 1024, kib("VmHWM") // 1024, round(took * 1000), outcome)
"""


def make(path: Path, mode: str, size: tuple[int, int]) -> None:
    """A picture with detail everywhere (a gradient under noise), so it compresses like a photo."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    colour = [gradient, noise, Image.eval(gradient, lambda v: 255 - v)]
    alpha = Image.eval(noise, lambda v: 255 if v > 60 else 0)
    channels = {"L": [gradient], "LA": [gradient, alpha], "RGB": colour, "RGBA": [*colour, alpha]}
    if mode == "I;16":
        image = gradient.convert("I").point(lambda v: v * 257).convert(mode)
    else:
        image = Image.merge(mode, channels[mode])
    if path.suffix == ".jpg":
        image.save(path, quality=90)
    else:
        image.save(path, compress_level=1)


def measure(label: str, path: Path, mode: str, size: tuple[int, int], fit: str) -> str:
    """One row of the table: `path` prepared in a fresh process."""
    pixels = size[0] * size[1]
    decoded = pixels * DECODED_BYTES[mode] / 2**20
    out = subprocess.run(
        [sys.executable, "-c", MEASURE.format(path=str(path), fit=fit)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    before, peak, took = (int(v) for v in out[:3])
    growth = peak - before
    per_pixel = growth * 2**20 / pixels
    return (
        f"| {label} | {fit} | {decoded:.0f} | {growth} | {growth / decoded:.2f}× | "
        f"{per_pixel:.1f} | {took} | {out[3]} |"
    )


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, mode, size, ext, fit in CASES:
            path = Path(folder) / f"big.{ext}"
            make(path, mode, size)
            rows.append(measure(label, path, mode, size, fit))
            path.unlink()
        for label, mode, size in THIN:
            path = plain_png(Path(folder) / "thin.png", size, mode)
            rows.append(measure(label, path, mode, size, "contain"))
            path.unlink()
    print(
        "| image | fit | decoded MB | peak RSS growth MB | growth / decoded | bytes a pixel "
        "| render ms | outcome |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
