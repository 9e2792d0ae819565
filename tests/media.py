"""Files of every kind the show plays, made in the test with the libraries that read them:
HEIC (pillow-heif), AVIF and animated GIF and PDF (Pillow), MP4 and WebM clips (PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pillow_heif
from PIL import Image

Colour = tuple[int, int, int]


def heic(path: Path, colour: Colour, size: tuple[int, int] = (64, 48)) -> Path:
    pillow_heif.from_pillow(Image.new("RGB", size, colour)).save(path, quality=90)
    return path


def avif(path: Path, colour: Colour, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, colour).save(path, "AVIF", quality=90)
    return path


def pdf(path: Path, colours: list[Colour], size: tuple[int, int] = (160, 90)) -> Path:
    """One page per colour, filled with it."""
    pages = [Image.new("RGB", size, colour) for colour in colours]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return path


def animated(path: Path, colours: list[Colour], frame_ms: int = 200) -> Path:
    """An animated GIF, WebP or PNG (APNG), by the file's extension."""
    frames = [Image.new("RGB", (64, 36), colour) for colour in colours]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path


def clip(
    path: Path,
    colours: list[Colour],
    fps: int = 10,
    frames_each: int = 10,
    size: tuple[int, int] = (160, 90),
    codec: str | None = None,
    tone_hz: float | None = None,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """A clip showing each colour for `frames_each` frames at `fps`, a keyframe a second: H.264
    in .mp4, VP8 in .webm; with `tone_hz`, also a sound track of that sine (AAC, or Vorbis in
    .webm). `fmt` and `options` choose the container and its muxer's options (an HLS playlist:
    "hls")."""
    codec = codec or ("libvpx" if path.suffix == ".webm" else "libx264")
    with av.open(str(path), mode="w", format=fmt, options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"g": str(fps)}
        sound = None
        if tone_hz is not None:
            sound = container.add_stream(
                "libvorbis" if path.suffix == ".webm" else "aac", rate=48000
            )
        number = 0
        for colour in colours:
            pixels = np.full((size[1], size[0], 3), colour, dtype=np.uint8)
            for _ in range(frames_each):
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = number
                number += 1
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None and tone_hz is not None:
            _tone_track(container, sound, tone_hz, number / fps)
    return path


def _tone_track(container: Any, stream: Any, hz: float, seconds: float) -> None:
    samples = int(48000 * seconds)
    for start in range(0, samples, 1024):
        wave = 0.3 * np.sin(2 * np.pi * hz * (start + np.arange(1024)) / 48000)
        frame = av.AudioFrame.from_ndarray(
            wave.astype(np.float32).reshape(1, -1), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def sound_only(path: Path, seconds: float = 1.0) -> Path:
    """An .mp4 with an audio track and no video."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=48000)
        samples = int(48000 * seconds)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 48000
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
