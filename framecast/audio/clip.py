"""The sound track of the clip on the stream, decoded by PyAV and fed to its channel's mix in
step with the picture.

The picture's playback owns one `ClipSound` per clip it plays: it says how far into the clip
the stream is (`position`, None while paused), and the sound is handed over just ahead of that
point, so picture and sound leave the server together and a pause holds both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import av

from ..supervise import Worker
from .pcm import FRAME_BYTES, RATE

log = logging.getLogger(__name__)

ClipSink = Callable[[bytes], None]
"""Takes the clip's sound as 48 kHz 16-bit stereo PCM (on the clip sound's thread)."""
LEAD_SECONDS = 0.08
"""Sound is handed to the mix this far ahead of the picture: about what the mix holds back
against capture jitter, so both leave the server at the same moment."""
PAUSED_LOOK_SECONDS = 0.1


class ClipSound(Worker):
    """One clip's sound on a thread of its own; `start` and `stop` by the slideshow's thread."""

    def __init__(self, path: Path, position: Callable[[], float | None], sink: ClipSink) -> None:
        super().__init__(f"clip-sound-{path.name[:20]}")
        self._path = path
        self._position = position
        self._sink = sink

    def run(self) -> None:
        """The clip sound's thread: decode, resample and hand over each piece on time."""
        try:
            container = av.open(str(self._path))
        except (av.FFmpegError, OSError) as error:
            log.info("Sound: no sound from %s: %s", self._path.name, error)
            return
        with container:
            if not container.streams.audio:
                return
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
            at = 0.0
            try:
                for frame in container.decode(container.streams.audio[0]):
                    for pcm in resampler.resample(frame):
                        length = pcm.samples / RATE
                        if not self._wait_until(at):
                            return
                        if not self._behind(at + length):
                            self._sink(bytes(pcm.planes[0])[: pcm.samples * FRAME_BYTES])
                        at += length
            except av.FFmpegError as error:
                log.info("Sound: the sound of %s stops early: %s", self._path.name, error)

    def _wait_until(self, at: float) -> bool:
        """Wait until the picture is `LEAD_SECONDS` short of `at` s into the clip; False once
        stopped."""
        while not self.stopping.is_set():
            position = self._position()
            if position is None:
                self.stopping.wait(PAUSED_LOOK_SECONDS)
                continue
            wait = at - LEAD_SECONDS - position
            if wait <= 0:
                return True
            self.stopping.wait(min(wait, PAUSED_LOOK_SECONDS))
        return False

    def _behind(self, end: float) -> bool:
        """Whether sound ending `end` s into the clip is already past on the picture (sound
        that started late, or a restart after an error): it is dropped, not played late."""
        position = self._position()
        return position is not None and end < position
