"""Slides that move: animated GIF, WebP and PNG frames at their own timing, and video clips
decoded by PyAV (FFmpeg) and scaled to the panel in the decoder.

A player decodes one frame when asked for it, so a 10,000-frame GIF or a 10-hour clip holds
one frame in memory. Players are made and called by one thread (the slideshow's, or the
preparer's for a slide's first frame).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Protocol

import av
from PIL import Image

from .imaging import (
    RenderSpec,
    UnreadableImage,
    fit,
    fit_flat,
    fitted_size,
    open_picture,
    readable,
    short_error,
    too_thin,
)

SHORTEST_FRAME = 0.02
"""Browsers show GIF frames that claim less than 20 ms for 100 ms; so does the show."""
USUAL_FRAME = 0.1


class TimedFrame:
    """A decoded frame and when it shows and stops showing (seconds from the start of the
    pass). Its picture, fitted to the panel, is made when first asked for: a frame dropped
    (late, or past max_fps) costs its decoding only, not its scaling."""

    __slots__ = ("_make", "_picture", "at", "until")

    def __init__(self, make: Callable[[], Image.Image], at: float, until: float) -> None:
        self._make = make
        self._picture: Image.Image | None = None
        self.at = at
        self.until = until

    @property
    def picture(self) -> Image.Image:
        if self._picture is None:
            self._picture = self._make()
        return self._picture


class Player(Protocol):
    def frames(self) -> Iterator[TimedFrame]:
        """One pass through the slide's frames, each fitted to the upright panel."""
        ...

    def close(self) -> None: ...


class AnimationPlayer:
    """An animated picture's frames, one pass (the caller loops it)."""

    def __init__(self, path: Path, spec: RenderSpec) -> None:
        self._image = open_picture(path, spec.max_pixels)
        self._panel = spec.upright
        thin = too_thin(*self._image.size, self._panel)
        if thin:
            self._image.close()
            raise UnreadableImage(thin)

    def frames(self) -> Iterator[TimedFrame]:
        at = 0.0
        index = 0
        while True:
            try:
                self._image.seek(index)
                self._image.load()
            except EOFError:
                return
            except (OSError, SyntaxError, ValueError) as error:
                if index == 0:
                    raise UnreadableImage(f"damaged animation ({short_error(error)})") from None
                return  # a damaged later frame ends the loop, as in a browser
            picture = fit_flat(self._image, self._panel)
            if picture is self._image:
                picture = picture.copy()  # the file's own frame changes at the next seek
            duration = self._image.info.get("duration") or 0
            seconds = duration / 1000 if duration / 1000 >= SHORTEST_FRAME else USUAL_FRAME
            yield TimedFrame(_given(picture), at, at + seconds)
            at += seconds
            index += 1

    def close(self) -> None:
        self._image.close()


class VideoPlayer:
    """A clip's frames from start to end, scaled to the panel by FFmpeg as they are decoded."""

    def __init__(self, path: Path, spec: RenderSpec) -> None:
        self._container = _open_clip(path)
        self._panel = spec.upright
        try:
            self._stream = self._container.streams.video[0]
        except IndexError:
            self._container.close()
            raise UnreadableImage("a clip with no video in it") from None
        self._stream.thread_type = "AUTO"

    def frames(self) -> Iterator[TimedFrame]:
        start: float | None = None
        try:
            for decoded in self._container.decode(self._stream):
                when = decoded.time or 0.0
                start = when if start is None else start
                yield TimedFrame(partial(self._picture, decoded), when - start, when - start)
        except av.FFmpegError as error:
            if start is None:
                raise UnreadableImage(f"damaged clip ({short_error(error)})") from None
            return  # a damaged later part ends the clip

    def close(self) -> None:
        self._container.close()

    def _picture(self, decoded: av.VideoFrame) -> Image.Image:
        """The frame scaled to the panel by FFmpeg (swscale) and fitted."""
        width, height = fitted_size(decoded.width, decoded.height, self._panel)
        picture = decoded.to_image(width=width, height=height)  # type: ignore[no-untyped-call]
        return fit(picture, self._panel)


def _given(picture: Image.Image) -> Callable[[], Image.Image]:
    """An animation's frame is made at once: its file moves on to the next frame."""
    return lambda: picture


def player(path: Path, kind: str, spec: RenderSpec) -> Player:
    """The player for a moving slide of `kind` ("animation" or "video")."""
    return VideoPlayer(path, spec) if kind == "video" else AnimationPlayer(path, spec)


def first_frame(path: Path, kind: str, spec: RenderSpec) -> Image.Image:
    """The picture a moving slide begins with, fitted to the upright panel."""
    playing = player(path, kind, spec)
    try:
        for frame in playing.frames():
            return frame.picture
    finally:
        playing.close()
    raise UnreadableImage("a clip without a single picture")


def probe_clip(path: Path) -> tuple[int, int, float | None]:
    """A clip's picture size and length in seconds (None when the container does not say)."""
    container = _open_clip(path)
    try:
        if not container.streams.video:
            raise UnreadableImage("a clip with no video in it")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise UnreadableImage("a clip whose pictures have no size")
        seconds: float | None = None
        if stream.duration and stream.time_base:
            seconds = float(stream.duration * Fraction(stream.time_base))
        elif container.duration:
            seconds = container.duration / av.time_base
        return width, height, seconds
    finally:
        container.close()


def _open_clip(path: Path) -> av.container.InputContainer:
    try:
        with readable(path):
            return av.open(str(path), mode="r")
    except UnreadableImage:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        raise UnreadableImage(f"damaged or unknown clip ({short_error(error)})") from None
