"""A moving slide on the stream: an animation looping or a clip playing once, each frame
published at its own time, at most `[stream] max_fps`, late frames dropped rather than queued."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from PIL import Image

from ..audio.clip import ClipSink, ClipSound
from ..render.imaging import RenderSpec
from ..render.motion import TimedFrame, player
from .ordering import Slide


class Playback:
    """Plays one moving slide whose first frame is already on the stream. Made and called by
    the slideshow's thread; `show` publishes a picture fitted to the upright panel."""

    def __init__(
        self,
        slide: Slide,
        spec: RenderSpec,
        max_fps: float,
        began: float,
        show: Callable[[Image.Image], None],
        sound: ClipSink | None = None,
    ) -> None:
        self.slide = slide
        self.spec = spec
        self.began = began
        """When the first frame was on the stream (monotonic seconds)."""
        self.loops = 0
        """Whole passes through an animation's frames so far."""
        self.ended = False
        """The clip has shown its last frame."""
        self.position = 0.0
        """Seconds into the slide of the frame on the stream."""
        self._show = show
        self._gap = 1.0 / max_fps
        self._player = player(slide.path, slide.kind, spec)
        self._frames: Iterator[TimedFrame] = self._player.frames()
        self._offset = 0.0
        """Where the current pass of an animation begins, in seconds from the first."""
        first = next(self._frames, None)
        self._last_until = first.until if first else 0.0
        self._shown_at = 0.0
        self._held: float | None = None
        self._pending = self._next()
        self._sound: ClipSound | None = None
        """A clip's own sound, when its channel plays it ([audio] clips)."""
        if sound is not None and slide.kind == "video":
            self._sound = ClipSound(slide.path, self._clock, sound)
            self._sound.start()

    def _clock(self) -> float | None:
        """Seconds into the slide on the stream now, None while paused (the clip sound's
        thread)."""
        if self._held is not None:
            return None
        return time.monotonic() - self.began

    def hold(self, now: float) -> None:
        """Paused: the frame on the stream stays; the next `step` goes on from it."""
        if self._held is None:
            self._held = now

    def step(self, now: float) -> float | None:
        """Publish the newest frame whose time has come; when the next one is due (monotonic
        seconds), or None once a clip has ended."""
        if self._held is not None:
            self.began += now - self._held
            self._held = None
        due: TimedFrame | None = None
        # Frames come at least every 1/max_fps of wall time, even from a clip that decodes
        # slower than it plays (it then plays slower, rather than freezing).
        enough = time.monotonic() + self._gap
        while self._pending is not None and self.began + self._pending.at <= now:
            due, self._pending = self._pending, self._next()
            if time.monotonic() > enough:
                break
        if due is not None:
            self._show(due.picture)
            self.position = due.at
        if self._pending is None:
            self.ended = True
            return None
        return self.began + self._pending.at

    def close(self) -> None:
        if self._sound is not None:
            self._sound.stop()
        self._player.close()

    def _next(self) -> TimedFrame | None:
        """The next frame to show: one at least 1/max_fps after the last, the first of the
        next pass when an animation's pass ends, None when a clip ends."""
        while True:
            frame = next(self._frames, None)
            if frame is None:
                if self.slide.kind == "video" or self._last_until <= self._offset:
                    return None
                self.loops += 1
                self._offset = self._last_until
                self._frames = self._player.frames()
                continue
            frame.at += self._offset
            frame.until += self._offset
            self._last_until = frame.until
            if frame.at - self._shown_at >= self._gap * 0.999:
                self._shown_at = frame.at
                return frame


class MovingSlide:
    """The slideshow's one playback: which moving slide plays, started when it comes on the
    stream and closed when the show moves on. Called by the slideshow's thread (`position` by
    HTTP threads)."""

    def __init__(self) -> None:
        self._playback: Playback | None = None

    @property
    def position(self) -> float | None:
        """Seconds into the moving slide on the stream, or None."""
        playback = self._playback
        return round(playback.position, 1) if playback is not None else None

    def plays(self, slide: Slide, spec: RenderSpec) -> bool:
        playback = self._playback
        return playback is not None and (playback.slide, playback.spec) == (slide, spec)

    def finished(self, slide: Slide, spec: RenderSpec, now: float, due: float) -> bool:
        """Whether the slide's time, due at `due`, is over: a still's at `due`, but a clip
        plays to its end and an animation shows at least one whole pass."""
        playback = self._playback if self.plays(slide, spec) else None
        if playback is None or playback.ended:
            return now >= due or playback is not None
        whole = playback.loops >= 1 if slide.kind == "animation" else slide.seconds is not None
        return now >= due and whole

    def start(
        self,
        slide: Slide,
        spec: RenderSpec,
        max_fps: float,
        now: float,
        show: Callable[[Image.Image], None],
        sound: ClipSink | None = None,
    ) -> None:
        """Play `slide`, whose first frame is on the stream now, with its own sound into
        `sound` when it is a clip; raises UnreadableImage."""
        self.stop()
        self._playback = Playback(slide, spec, max_fps, now, show, sound)

    def step(self, now: float, paused: bool) -> float | None:
        """Publish the frame due (none while paused); when the next is due, or None at the
        end of a clip (or while paused)."""
        playback = self._playback
        if playback is None:
            return None
        if paused:
            playback.hold(now)
            return None
        return playback.step(now)

    def stop(self) -> None:
        if self._playback is not None:
            self._playback.close()
            self._playback = None
