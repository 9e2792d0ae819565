"""Screen-mode benchmarks (issue 3), on a 1920×1080 Xvfb with photo-like content. Run from the
repository root, with Xvfb, ffmpeg and python-xlib installed:

    apt-get install xvfb ffmpeg && .venv/bin/pip install -r bench/requirements.txt
    .venv/bin/python bench/bench_screen.py

Every per-frame figure counts the CPU of the capturing process *and* of the X server, both
pinned to core 0; the painter's animation and the stream clients run on core 1. The one-pixel
change before each pipeline frame is drawn from the bench process, and its CPU there is taken
out.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mss
import numpy
from bench_core import table
from harness import Server, StreamReader, VirtualDisplay, wait_for
from photos import photo
from PIL import Image, ImageChops, ImageGrab, ImageStat
from Xlib import X, display

from framecast.config import ScreenSettings
from framecast.render import pixman
from framecast.render.imaging import RenderSpec
from framecast.render.screen_frame import encode_screen
from framecast.screen.grab import ScreenGrabber, same_from
from framecast.service.memory import keep_freed_memory

WIDTH, HEIGHT = 1920, 1080
FRAMES = 150
SERVER_CORE, CLIENT_CORE = {0}, {1}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


class Painter:
    """An X client that paints the root window: a photo, and a moving block when animating."""

    def __init__(self, name: str) -> None:
        self.connection = display.Display(name)
        self.root = self.connection.screen().root
        self.gc = self.root.create_gc()
        self.stop = threading.Event()
        self.dots = 0

    def photo(self, seed: int = 5) -> Image.Image:
        image = photo(WIDTH, HEIGHT, seed=seed, grain=0.15)
        red, green, blue = image.split()
        pixels = Image.merge("RGBA", (blue, green, red, Image.new("L", image.size))).tobytes()
        for y in range(0, HEIGHT, 32):
            rows = min(32, HEIGHT - y)
            chunk = pixels[y * WIDTH * 4 : (y + rows) * WIDTH * 4]
            self.root.put_image(self.gc, 0, y, WIDTH, rows, X.ZPixmap, 24, 0, chunk)
        self.connection.sync()
        return image

    def animate(self, fps: float) -> threading.Thread:
        def run() -> None:
            os.sched_setaffinity(0, CLIENT_CORE)
            frame = 0
            while not self.stop.is_set():
                colour = (frame * 7919) & 0xFFFFFF
                self.gc.change(foreground=colour)
                x = (frame * 37) % (WIDTH - 200)
                self.root.fill_rectangle(self.gc, x, 400, 200, 200)
                self.connection.sync()
                frame += 1
                self.stop.wait(1 / fps)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def dot(self) -> None:
        """Changes the bottom-right pixel: the screen has changed, and a compare of the whole
        frame is needed to see it."""
        self.dots += 1
        self.gc.change(foreground=0xFFFFFF * (self.dots & 1))
        self.root.fill_rectangle(self.gc, WIDTH - 1, HEIGHT - 1, 1, 1)
        self.connection.sync()


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = sum(v * v for v in ImageStat.Stat(ImageChops.difference(a, b)).rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean structural similarity of the luma, over 8×8 windows (the JPEG block size)."""
    planes = [numpy.asarray(image.convert("L"), dtype=numpy.float64) for image in (a, b)]
    rows, columns = (planes[0].shape[0] // 8) * 8, (planes[0].shape[1] // 8) * 8
    x, y = (p[:rows, :columns].reshape(rows // 8, 8, columns // 8, 8) for p in planes)
    mean_x, mean_y = x.mean((1, 3)), y.mean((1, 3))
    covariance = (x * y).mean((1, 3)) - mean_x * mean_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    numerator = (2 * mean_x * mean_y + c1) * (2 * covariance + c2)
    denominator = (mean_x**2 + mean_y**2 + c1) * (x.var((1, 3)) + y.var((1, 3)) + c2)
    return float((numerator / denominator).mean())


def per_frame(xvfb_pid: int, frames: int, action: Callable[[], None]) -> tuple[float, float]:
    """CPU ms per frame (this process + X server) and wall ms per frame for `frames` actions."""
    own, server, started = time.process_time(), cpu_seconds(xvfb_pid), time.perf_counter()
    for _ in range(frames):
        action()
    wall = time.perf_counter() - started
    cpu = time.process_time() - own + cpu_seconds(xvfb_pid) - server
    return cpu * 1000 / frames, wall * 1000 / frames


def bench_pipelines(
    screen: VirtualDisplay, painter: Painter, reference: Image.Image, work: Path
) -> None:
    assert screen.process is not None
    xvfb = screen.process.pid
    grabber = ScreenGrabber()
    settings = ScreenSettings()
    rows: list[list[object]] = []
    results: dict[str, tuple[float, int, float]] = {}
    last = [grabber.grab(settings)]
    undrawn = 0

    outputs = {"Framecast 1080p": (WIDTH, HEIGHT), "Framecast 720p": (1280, 720)}
    slices: dict[str, list[tuple[float, float]]] = {label: [] for label in outputs}

    def framecast_slice() -> None:
        """One slice of each Framecast pipeline; slices run between the references, so a
        machine whose speed drifts weighs on both sides of the ratios."""
        nonlocal undrawn
        for label, size in outputs.items():
            spec = RenderSpec(size[0], size[1], "contain", (0, 0, 0), 80)

            painting = 0.0

            def capture(spec: RenderSpec = spec) -> None:
                """What the capture thread does for a changed screen: grab, compare, encode
                (after the bench's own drawing, whose CPU in this process is taken out)."""
                nonlocal undrawn, painting
                started = time.process_time()
                painter.dot()
                painting += time.process_time() - started
                grab = grabber.grab(settings)
                undrawn += not grab.drawn
                start = grab.first_row * grab.width * 4
                if not same_from(grab.pixels, last[0].pixels, start):
                    encode_screen(grab.pixels, grab.width, grab.height, spec)
                last[0] = grab

            cpu, wall = per_frame(xvfb, FRAMES, capture)
            slices[label].append((cpu - painting * 1000 / FRAMES, wall))

    framecast_slice()
    cpu, wall = per_frame(xvfb, FRAMES, painter.dot)
    label = "the bench's one-pixel change alone (its X server share is in the rows above)"
    rows.append([label, f"{cpu:.2f}", "-", "-", "-"])
    wait_for(lambda: not grabber.grab(settings).drawn, what="the last dot to be reported")

    def unchanged() -> None:
        assert not grabber.grab(settings).drawn

    cpu, wall = per_frame(xvfb, FRAMES, unchanged)
    label = "Framecast, unchanged screen (X DAMAGE: no grab)"
    rows.append([label, f"{cpu:.2f}", f"{1000 / wall:.0f}", "0", "-"])
    next_at = time.monotonic()

    def unchanged_at_30_fps() -> None:
        nonlocal next_at
        unchanged()
        next_at += 1 / 30
        time.sleep(max(0.0, next_at - time.monotonic()))

    cpu, _ = per_frame(xvfb, 150, unchanged_at_30_fps)
    label = "  the same at 30 fps for 5 s, with its grab and compare once a second"
    rows.append([label, f"{cpu:.2f}", "30", "0", "-"])

    with mss.MSS() as plain:
        box = plain.monitors[1]
        previous = plain.grab(box).raw

        def compared() -> None:
            assert plain.grab(box).raw == previous

        cpu, wall = per_frame(xvfb, FRAMES, compared)
    label = "unchanged screen without DAMAGE (mss grab + compare)"
    rows.append([label, f"{cpu:.2f}", f"{1000 / wall:.0f}", "0", "-"])

    def tutorial() -> None:
        image = ImageGrab.grab(xdisplay=screen.name)
        small = image.resize((1366, 750), Image.Resampling.LANCZOS)
        small.save(io.BytesIO(), "JPEG", quality=100)

    cpu, wall = per_frame(xvfb, 40, tutorial)
    buffer = io.BytesIO()
    ImageGrab.grab(xdisplay=screen.name).resize((1366, 750), Image.Resampling.LANCZOS).save(
        buffer, "JPEG", quality=100
    )
    results["tutorial"] = (cpu, len(buffer.getvalue()), 0.0)
    framecast_slice()

    rows.append(
        [
            "tutorial way (ImageGrab, LANCZOS 1366×750, q100)",
            f"{cpu:.2f}",
            f"{1000 / wall:.0f}",
            f"{len(buffer.getvalue()):,}",
            "-",
        ]
    )

    ffmpeg_frames: dict[str, bytes] = {}
    for qscale in (3, 5):
        output = work / f"ffmpeg-q{qscale}.mjpeg"
        command = [
            "taskset", "-c", "0", "ffmpeg", "-loglevel", "error", "-y",
            "-f", "x11grab", "-framerate", "30", "-video_size", f"{WIDTH}x{HEIGHT}",
            "-i", f"{screen.name}+0,0", "-frames:v", str(FRAMES),
            "-c:v", "mjpeg", "-q:v", str(qscale), "-f", "mpjpeg", str(output),
        ]  # fmt: skip
        own, server, started = children_cpu(), cpu_seconds(xvfb), time.perf_counter()
        subprocess.run(command, check=True)
        wall = time.perf_counter() - started
        cpu = (children_cpu() - own + cpu_seconds(xvfb) - server) * 1000 / FRAMES
        data = output.read_bytes()
        first = data[data.index(b"\xff\xd8") : data.index(b"\xff\xd9") + 2]
        quality = psnr(Image.open(io.BytesIO(first)).convert("RGB"), reference)
        results[f"ffmpeg q{qscale}"] = (cpu, len(first), quality)
        ffmpeg_frames[f"ffmpeg q{qscale}"] = first
        label = f"ffmpeg x11grab mjpeg -q:v {qscale}"
        fps = FRAMES / wall
        rows.append([label, f"{cpu:.2f}", f"{fps:.0f}", f"{len(first):,}", f"{quality:.2f}"])
        framecast_slice()

    framecast_rows: list[list[object]] = []
    for label, size in outputs.items():
        spec = RenderSpec(size[0], size[1], "contain", (0, 0, 0), 80)
        grab = grabber.grab(settings)
        jpeg = encode_screen(grab.pixels, grab.width, grab.height, spec)
        decoded = Image.open(io.BytesIO(jpeg)).convert("RGB")
        quality = psnr(decoded, reference.resize(size, Image.Resampling.LANCZOS))
        cpus = [cpu for cpu, _ in slices[label]]
        cpu = statistics.median(cpus)
        wall = statistics.median(wall for _, wall in slices[label])
        results[label] = (cpu, len(jpeg), quality)
        spread = f"{cpu:.2f} ({min(cpus):.2f}–{max(cpus):.2f})"
        framecast_rows.append(
            [label, spread, f"{1000 / wall:.0f}", f"{len(jpeg):,}", f"{quality:.2f}"]
        )
    grabber.close()
    rows[:0] = framecast_rows

    table(
        f"Capture and encode, {WIDTH}×{HEIGHT} Xvfb with a photo, core 0 only "
        "(CPU of the capturer plus the X server; fps is the pace reached running flat out, "
        "ffmpeg's is capped by its 30 fps input; Framecast's rows: the median (and range) of "
        f"{len(slices['Framecast 1080p'])} slices of {FRAMES} frames run before, between and "
        "after the references; before each Framecast frame the bench changes one pixel, at "
        f"the bottom right; frames where DAMAGE reported no drawing: {undrawn})",
        [
            "pipeline",
            "CPU ms/frame",
            "fps",
            "JPEG bytes",
            "PSNR dB vs raw grab (720p: its Lanczos resize)",
        ],
        rows,
    )
    ours = results["Framecast 1080p"]
    ratio_rows = [
        ["tutorial way / Framecast 1080p", f"{results['tutorial'][0] / ours[0]:.1f}×"],
    ]
    for key in ("ffmpeg q3", "ffmpeg q5"):
        ratio_rows.append([f"{key} / Framecast 1080p", f"{results[key][0] / ours[0]:.1f}×"])
    table("CPU per frame, ratios measured in this run", ["comparison", "ratio"], ratio_rows)

    raw, width, height = last[0].pixels, last[0].width, last[0].height
    size_rows: list[list[object]] = []
    measures: dict[str, tuple[Callable[[Image.Image, Image.Image], float], str]] = {
        "PSNR dB": (psnr, "{:.2f}"),
        "SSIM, luma, 8×8 windows": (ssim, "{:.4f}"),
    }
    for key in ("ffmpeg q3", "ffmpeg q5"):
        theirs = Image.open(io.BytesIO(ffmpeg_frames[key])).convert("RGB")
        for name, (measure, form) in measures.items():
            target = measure(theirs, reference)

            def encoded(quality: int, measure: Callable = measure) -> tuple[bytes, float]:
                spec = RenderSpec(WIDTH, HEIGHT, "contain", (0, 0, 0), quality)
                jpeg = encode_screen(raw, width, height, spec)
                return jpeg, measure(Image.open(io.BytesIO(jpeg)).convert("RGB"), reference)

            low, high = 1, 100  # the lowest quality that reaches ffmpeg's score, by bisection
            while low < high:
                middle = (low + high) // 2
                low, high = (low, middle) if encoded(middle)[1] >= target else (middle + 1, high)
            jpeg, score = encoded(low)
            size = len(ffmpeg_frames[key])
            size_rows.append(
                [
                    key,
                    name,
                    form.format(target),
                    f"{size:,}",
                    low,
                    form.format(score),
                    f"{len(jpeg):,}",
                    f"{(len(jpeg) - size) / size:+.0%}",
                ]
            )
    table(
        "JPEG size at equal quality (the lowest Framecast quality whose score against the raw "
        "grab reaches ffmpeg's, by two measures)",
        [
            "ffmpeg",
            "measure",
            "its score",
            "its bytes",
            "Framecast quality",
            "score",
            "bytes",
            "against ffmpeg's",
        ],
        size_rows,
    )
    bench_ffmpeg_tables(ffmpeg_frames, raw, width, height, reference)


def bench_ffmpeg_tables(
    frames: dict[str, bytes], raw: bytearray, width: int, height: int, reference: Image.Image
) -> None:
    """Where ffmpeg's smaller frames come from: the same grab through libjpeg-turbo (Pillow)
    with ffmpeg's own quantization table, with and without optimised Huffman tables, and what
    that encode costs from the raw BGRX grab. Bytes at or below ffmpeg's point at its table;
    bytes well above, at its quantiser."""
    rows: list[list[object]] = []
    for key, jpeg in frames.items():
        with Image.open(io.BytesIO(jpeg)) as decoded:
            tables = decoded.quantization or {}
            quality = psnr(decoded.convert("RGB"), reference)
        rows.append([key, "its own", f"{quality:.2f}", f"{len(jpeg):,}", "-"])
        qtables = [list(tables[0]), list(tables.get(1, tables[0]))]
        for optimize in (False, True):

            def encode(optimize: bool = optimize, qtables: list[list[int]] = qtables) -> bytes:
                image = Image.frombuffer("RGB", (width, height), raw, "raw", "BGRX", 0, 1)
                buffer = io.BytesIO()
                image.save(buffer, "JPEG", qtables=qtables, subsampling="4:2:0", optimize=optimize)
                return buffer.getvalue()

            ours = encode()
            started = time.process_time()
            for _ in range(20):
                encode()
            cost = (time.process_time() - started) * 1000 / 20
            quality = psnr(Image.open(io.BytesIO(ours)).convert("RGB"), reference)
            label = "libjpeg-turbo, optimised Huffman" if optimize else "libjpeg-turbo"
            rows.append([key, label, f"{quality:.2f}", f"{len(ours):,}", f"{cost:.2f}"])
    spec = RenderSpec(width, height, "contain", (0, 0, 0), 80)
    started = time.process_time()
    for _ in range(20):
        encode_screen(raw, width, height, spec)
    cost = (time.process_time() - started) * 1000 / 20
    rows.append(
        ["-", "Framecast's encode (simplejpeg, quality 80), for the cost", "-", "-", f"{cost:.2f}"]
    )
    table(
        "The same quantization table through another encoder: ffmpeg's frame, and the raw grab "
        "encoded by libjpeg-turbo (Pillow) with ffmpeg's table; encode CPU ms from the BGRX grab",
        ["table of", "encoder", "PSNR dB vs raw grab", "bytes", "encode ms"],
        rows,
    )


def bench_filters(reference: Image.Image) -> None:
    """What shrinking the 1080p screen to 720p costs with each of Pillow's usable filters."""
    best = reference.resize((1280, 720), Image.Resampling.LANCZOS)
    rows: list[list[object]] = []
    for name in ("NEAREST", "BOX", "BILINEAR", "BICUBIC", "LANCZOS"):
        method = Image.Resampling[name]
        started = time.process_time()
        for _ in range(20):
            small = reference.resize((1280, 720), method)
        cost = (time.process_time() - started) * 1000 / 20
        rows.append([name, f"{cost:.2f}", f"{psnr(small, best):.2f}"])
    if pixman.available:
        red, green, blue = reference.split()
        raw = bytearray(Image.merge("RGBA", (blue, green, red, red)).tobytes())
        whole = (0, 0, WIDTH, HEIGHT)

        def shrink() -> bytearray:
            frame = (0, 0, 1280, 720)
            return pixman.scale_bgrx(raw, (WIDTH, HEIGHT), whole, frame[2:], frame, (0, 0, 0))

        started = time.process_time()
        for _ in range(20):
            out = shrink()
        cost = (time.process_time() - started) * 1000 / 20
        small = Image.frombuffer("RGB", (1280, 720), out, "raw", "BGRX", 0, 1)
        rows.append(["pixman BILINEAR (Framecast)", f"{cost:.2f}", f"{psnr(small, best):.2f}"])
    rows += opencv_rows(reference, best)
    table(
        "Resizing a 1920×1080 frame to 1280×720, core 0: ms per frame, and PSNR against "
        "Lanczos (NEAREST is cheap because it skips pixels: text shimmers; Pillow's from RGB, "
        "pixman's from the BGRX grab to BGRX)",
        ["filter", "ms", "PSNR dB"],
        rows,
    )


def opencv_rows(reference: Image.Image, best: Image.Image) -> list[list[object]]:
    """The same shrink by OpenCV, when it is installed (it is not a Framecast dependency)."""
    try:
        import cv2  # type: ignore[import-not-found]
        import numpy
    except ImportError:
        return []
    pixels = numpy.asarray(reference)
    rows: list[list[object]] = []
    for name in ("INTER_LINEAR", "INTER_AREA"):
        started = time.process_time()
        for _ in range(20):
            small = cv2.resize(pixels, (1280, 720), interpolation=getattr(cv2, name))
        cost = (time.process_time() - started) * 1000 / 20
        quality = psnr(Image.fromarray(small), best)
        rows.append([f"OpenCV {cv2.__version__} {name}", f"{cost:.2f}", f"{quality:.2f}"])
    return rows


def bench_server(screen: VirtualDisplay, painter: Painter, work: Path) -> None:
    images = work / "images"
    images.mkdir(exist_ok=True)
    config = work / "config.toml"
    config.write_text(
        """
[stream]
source = "screen"
quality = 80
keepalive = 20
[screen]
fps = 30
"""
    )
    env = dict(os.environ, DISPLAY=screen.name)
    server = Server(config, wrapper=["taskset", "-c", "0"], env=env).wait_ready()
    try:
        reader = StreamReader(server.port)
        wait_for(reader.latest, what="a frame")
        time.sleep(1)
        received, cpu0 = reader.received, cpu_seconds(server.process.pid)
        xvfb0 = cpu_seconds(screen.process.pid)  # type: ignore[union-attr]
        time.sleep(10)
        idle_bytes = reader.received - received
        idle_cpu = (cpu_seconds(server.process.pid) - cpu0) * 1000 / 300
        idle_xcpu = (cpu_seconds(screen.process.pid) - xvfb0) * 1000 / 300  # type: ignore[union-attr]
        reader.close()

        readers = [StreamReader(server.port) for _ in range(10)]
        wait_for(lambda: all(r.latest() for r in readers), what="frames for every client")
        animation = painter.animate(fps=60)
        time.sleep(2)
        counts = [r.count() for r in readers]
        cpu0, xvfb0 = cpu_seconds(server.process.pid), cpu_seconds(screen.process.pid)  # type: ignore[union-attr]
        frames0 = server.status()["frames"]
        time.sleep(60)
        rates = [(r.count() - c) / 60 for r, c in zip(readers, counts, strict=True)]
        published = server.status()["frames"] - frames0
        cpu = cpu_seconds(server.process.pid) - cpu0
        xcpu = cpu_seconds(screen.process.pid) - xvfb0  # type: ignore[union-attr]
        painter.stop.set()
        animation.join()
        for r in readers:
            r.close()
    finally:
        server.stop()
    per_published = f"{cpu * 1000 / published:.2f} / {(cpu + xcpu) * 1000 / published:.2f}"
    table(
        "The real server in screen mode, fps = 30, server pinned to core 0",
        ["run", "result"],
        [
            ["static screen, 1 client, 10 s: bytes after the first frame", f"{idle_bytes:,}"],
            [
                "static screen: CPU ms per captured frame, server / X server",
                f"{idle_cpu:.2f} / {idle_xcpu:.2f}",
            ],
            ["changing screen, 10 clients, 60 s: frames published/s", f"{published / 60:.1f}"],
            [
                "  per client fps: worst / median",
                f"{min(rates):.1f} / {statistics.median(rates):.1f}",
            ],
            ["  server CPU ms per published frame, without / with X server", per_published],
        ],
    )


def main() -> None:
    for tool in ("Xvfb", "ffmpeg", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install xvfb ffmpeg util-linux")
    print(f"Framecast screen benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores")
    # The pipelines below run in this process: give its heap the server's settings.
    keep_freed_memory()
    work = Path(tempfile.mkdtemp(prefix="framecast-screen-"))
    screen = VirtualDisplay(WIDTH, HEIGHT).start()
    assert screen.process is not None
    os.sched_setaffinity(screen.process.pid, SERVER_CORE)
    os.environ["DISPLAY"] = screen.name
    try:
        painter = Painter(screen.name)
        reference = painter.photo()
        os.sched_setaffinity(0, SERVER_CORE)
        bench_pipelines(screen, painter, reference, work)
        bench_filters(reference)
        os.sched_setaffinity(0, CLIENT_CORE)
        bench_server(screen, painter, work)
    finally:
        screen.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
