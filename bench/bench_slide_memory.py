"""Peak memory of preparing one big slide (issue 11, item 4). Prints a markdown table; run from
the repository root:

    .venv/bin/python bench/bench_slide_memory.py

Each image is rendered to a 1920×1080 frame in a fresh process, so its peak resident size
(VmHWM, which unlike ru_maxrss starts anew at exec) is that render's alone, less the process's
peak just before it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

CASES = [
    ("PNG RGBA 8660×5773 (50 MP)", "RGBA", (8660, 5773), "png"),
    ("PNG RGB 8660×5773 (50 MP)", "RGB", (8660, 5773), "png"),
    ("PNG RGBA 6000×4000 (24 MP)", "RGBA", (6000, 4000), "png"),
    ("JPEG 6000×4000 (24 MP)", "RGB", (6000, 4000), "jpg"),
]

MEASURE = """
import time
from pathlib import Path
from framecast.render.imaging import RenderSpec, render_slide

def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

spec = RenderSpec(1920, 1080, "contain", (0, 0, 0), 80, max_pixels=50_000_000)
before = kib("VmHWM")
started = time.perf_counter()
render_slide(Path({path!r}), spec)
took = time.perf_counter() - started
print(before // 1024, kib("VmHWM") // 1024, round(took * 1000))
"""


def make(path: Path, mode: str, size: tuple[int, int]) -> None:
    """A picture with detail everywhere (a gradient under noise), so it compresses like a photo."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    channels = [gradient, noise, Image.eval(gradient, lambda v: 255 - v)]
    if mode == "RGBA":
        channels.append(Image.eval(noise, lambda v: 255 if v > 60 else 0))
    image = Image.merge(mode, channels)
    if path.suffix == ".jpg":
        image.save(path, quality=90)
    else:
        image.save(path, compress_level=1)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, mode, size, ext in CASES:
            path = Path(folder) / f"big.{ext}"
            make(path, mode, size)
            decoded = size[0] * size[1] * len(mode) / 2**20
            out = subprocess.run(
                [sys.executable, "-c", MEASURE.format(path=str(path))],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            before, peak, took = (int(v) for v in out)
            growth = peak - before
            rows.append(
                f"| {label} | {decoded:.0f} | {growth} | {growth / decoded:.2f}× | {took} |"
            )
            path.unlink()
    print("| image | decoded MB | peak RSS growth MB | growth / decoded | render ms |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
