"""Signage benchmarks (issue 5): the cost of a fade and of a clock.

.venv/bin/python bench/bench_signage.py    (from the repository root, about 2 minutes)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_core import table, timed
from bench_load import proc_stat
from harness import Server, StreamReader, wait_for
from photos import photo

from framecast.render.compose import Labels, fade, label
from framecast.render.imaging import encode_jpeg


def bench_fade() -> None:
    before, after = photo(1920, 1080, seed=1), photo(1920, 1080, seed=2)

    frames = []

    def render() -> None:
        final = encode_jpeg(label(after, Labels(clock="12:34")), 80, optimize=True)
        frames[:] = fade(before, after, 20, 80, len(final)).jpegs

    costs = timed(render, 3)
    table(
        "One 1080p fade with a clock as shipped (0.8 s, at most 25 fps: the in-between frames "
        "at half size within the slide's byte budget, and the final one at quality 80), "
        "ms of CPU, median of 3",
        ["ms per fade", "in-between frames"],
        [[f"{statistics.median(costs):.0f}", len(frames)]],
    )


def bench_show(work: Path) -> None:
    images = work / "images"
    images.mkdir()
    for n in range(4):
        photo(1920, 1080, seed=40 + n).save(images / f"{n}.jpg", quality=85)
    rows = []
    for label_text, extra in (
        ("no fade, no clock", '[slideshow]\ninterval = 5\ntransition = "none"\n'),
        ("fade and clock", '[slideshow]\ninterval = 5\n[overlay]\nclock = "top-right"\n'),
    ):
        config = work / "config.toml"
        config.write_text('[server]\nhost = "127.0.0.1"\n[stream]\nquality = 80\n' + extra)
        server = Server(config, wrapper=["taskset", "-c", "0"]).wait_ready()
        reader = StreamReader(server.port)
        wait_for(reader.latest, what="a frame")
        time.sleep(5)
        cpu0 = proc_stat(server.process.pid)[0]
        frames0, bytes0 = reader.count(), reader.received
        time.sleep(60)
        cpu = proc_stat(server.process.pid)[0] - cpu0
        frames, received = reader.count() - frames0, reader.received - bytes0
        reader.close()
        server.stop()
        rows.append([label_text, f"{cpu:.2f}", frames, f"{received / 1e6:.1f}"])
    table(
        "A 5-second slideshow of 1080p photos for one minute, one TV watching, server on core 0",
        ["show", "server CPU s per minute", "frames sent", "MB sent"],
        rows,
    )


def main() -> None:
    print(
        f"Framecast signage benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores"
    )
    os.sched_setaffinity(0, {1})
    bench_fade()
    bench_show(Path(tempfile.mkdtemp(prefix="framecast-signage-")))


if __name__ == "__main__":
    main()
