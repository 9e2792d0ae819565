"""One channel's sound: its devices (and its clips' sound) mixed on a steady clock, published
as PCM and, while anyone wants it, as MP3.

The mix runs on its own clock, one tick every `TICK_SECONDS`, and takes a tick's worth from
each input's jitter buffer: an input that stalls (the sound server stopped, a device gone)
gives silence instead of a gap, which would stall every TV's player. It runs only while
somebody listens, and lingers a little so that a TV reconnecting does not restart capture.
"""

from __future__ import annotations

import logging
import threading
import time

import lameenc

from ..config import AudioSettings
from ..supervise import LoopWorker
from .audio_hub import AudioHub
from .pcm import CAPTURE_BYTES, CHANNELS, RATE, TICK_BYTES, TICK_SECONDS, mix, silence
from .pulse import Device, DeviceCapture, DeviceCaptures, server_problem

log = logging.getLogger(__name__)

PREFILL_BYTES = TICK_BYTES + CAPTURE_BYTES
"""A buffer that ran dry gives sound again once it holds this much (capture jitter)."""
MAX_BUFFER_BYTES = 4 * TICK_BYTES
"""Beyond this the oldest sound is dropped: a device whose clock runs fast, or a burst."""
LINGER_SECONDS = 5.0
MP3_QUALITY = 5
"""LAME's 0 (best, slowest) to 9: 5 costs a few ms of CPU per second of sound."""


class JitterBuffer:
    """Sound from one input on its way to the mix: `put` by the input's thread, `take` by the
    mixing thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = bytearray()
        self._filling = True

    def put(self, block: bytes) -> None:
        with self._lock:
            self._data += block
            if len(self._data) > MAX_BUFFER_BYTES:
                del self._data[: len(self._data) - MAX_BUFFER_BYTES]

    def take(self, size: int) -> bytes:
        """`size` bytes of sound, silence while the buffer fills again after running dry."""
        with self._lock:
            if self._filling and len(self._data) < PREFILL_BYTES:
                return silence(size)
            self._filling = False
            out = bytes(self._data[:size])
            del self._data[:size]
            if len(out) < size:
                self._filling = True
                out += silence(size - len(out))
            return out


class ChannelSound:
    """The mix of one channel and its two hubs, `wav` (raw PCM) and `mp3`.

    `apply` is called on the config watcher's thread, `stop` by the owner; the hubs wake the
    mix through `_wanted` on the HTTP thread of a listener that arrives; the mix runs `_run`.
    """

    def __init__(self, name: str, settings: AudioSettings, devices: DeviceCaptures) -> None:
        self.name = name
        self.wav = AudioHub()
        self.mp3 = AudioHub()
        self.clip = JitterBuffer()
        """Sound of the clip on screen, put by the channel's player when `clips` is on."""
        self._devices = devices
        self._lock = threading.Lock()
        self._settings = settings
        self._captures: list[DeviceCapture] = []
        self._buffers: dict[Device, JitterBuffer] = {}
        self._mix = LoopWorker(f"audio-mix-{name}", self._run)
        self._running = False
        self._problem: str | None = None
        self.wav.on_change(self._wanted)
        self.mp3.on_change(self._wanted)

    @property
    def settings(self) -> AudioSettings:
        with self._lock:
            return self._settings

    @property
    def on(self) -> bool:
        """Whether the channel has sound to give."""
        settings = self.settings
        return settings.source != "none" or settings.clips

    def hub(self, fmt: str) -> AudioHub:
        return self.mp3 if fmt == "mp3" else self.wav

    @property
    def listeners(self) -> int:
        return self.wav.listeners + self.mp3.listeners

    @property
    def error(self) -> str | None:
        """Why sound is missing now, from the capture or the last check, or None."""
        with self._lock:
            captures, problem, running = list(self._captures), self._problem, self._running
        if running:
            return next((c.error for c in captures if c.error is not None), None)
        return problem

    def check(self) -> None:
        """Look once whether a sound server answers, for `/status` while nobody listens
        (called at start and after a change, on the owner's thread)."""
        settings = self.settings
        problem = server_problem(settings.server) if settings.source != "none" else None
        with self._lock:
            self._problem = problem
        if problem is not None:
            log.warning(
                "Sound: channel %s has [audio] source = %s, but %s; the picture goes on, and "
                "sound starts once a server answers",
                self.name,
                settings.source,
                problem,
            )

    def apply(self, settings: AudioSettings) -> None:
        """New settings: a running mix takes its new devices at its next tick."""
        with self._lock:
            self._settings = settings
        if not self.on:
            self.wav.clear()
            self.mp3.clear()
        self.check()

    def stop(self) -> None:
        """For good: no listener starts the mix again. Told under the lock, as `_wanted` starts
        the mix under it, and a start clears `stopping`."""
        with self._lock:
            self._mix.stopping.set()
        self.wav.close()
        self.mp3.close()
        self._mix.stop()

    def _wanted(self) -> None:
        """A listener came or went (its HTTP thread): start the mix if it is not running."""
        with self._lock:
            if self._running or self._mix.stopping.is_set() or self.listeners == 0:
                return
            self._running = True
            self._mix.start()

    def _devices_for(self, settings: AudioSettings) -> list[Device]:
        roles = {"none": [], "system": ["system"], "mic": ["mic"], "both": ["system", "mic"]}
        names = {"system": settings.system_device, "mic": settings.mic_device}
        return [Device(role, names[role], settings.server) for role in roles[settings.source]]

    def _follow(self, settings: AudioSettings) -> None:
        """Capture exactly the devices `settings` names (the mixing thread)."""
        wanted = self._devices_for(settings)
        with self._lock:
            gone = [c for c in self._captures if c.device not in wanted]
            for capture in gone:
                self._captures.remove(capture)
                del self._buffers[capture.device]
            new = [device for device in wanted if device not in self._buffers]
        for capture in gone:
            self._devices.detach(self, capture)
        for device in new:
            buffer = JitterBuffer()
            capture = self._devices.attach(self, device, buffer.put)
            with self._lock:
                self._buffers[device] = buffer
                self._captures.append(capture)

    def _release(self) -> None:
        """Let go of every device (the mixing thread, when it stops)."""
        with self._lock:
            captures, self._captures, self._buffers = self._captures, [], {}
        for capture in captures:
            self._devices.detach(self, capture)

    def _run(self, stopping: threading.Event) -> None:
        """The mixing thread: mix while anyone listens; once nobody has for `LINGER_SECONDS`,
        let the devices go and end, unless a listener came meanwhile."""
        while True:
            try:
                self._mix_while_wanted(stopping)
            finally:
                self._release()
            with self._lock:
                if stopping.is_set() or not self.listeners:
                    self._running = False
                    return

    def _mix_while_wanted(self, stopping: threading.Event) -> None:
        encoder: lameenc.Encoder | None = None
        bitrate = 0
        next_at = time.monotonic()
        alone_since: float | None = None
        while not stopping.is_set():
            if self.listeners:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > LINGER_SECONDS:
                return
            settings = self.settings
            self._follow(settings)
            with self._lock:
                buffers = list(self._buffers.values())
            inputs = [buffer.take(TICK_BYTES) for buffer in buffers]
            if settings.clips:
                inputs.append(self.clip.take(TICK_BYTES))
            pcm = mix(inputs) if inputs else silence(TICK_BYTES)
            self.wav.publish(pcm)
            if self.mp3.listeners:
                if encoder is None or bitrate != settings.bitrate:
                    # What the hub kept is from before: a new listener's burst must not be.
                    self.mp3.clear()
                    encoder, bitrate = _mp3_encoder(settings.bitrate), settings.bitrate
                encoded = encoder.encode(pcm)
                if encoded:
                    self.mp3.publish(bytes(encoded))
            else:
                encoder = None
            now = time.monotonic()
            next_at = max(next_at + TICK_SECONDS, now - TICK_SECONDS)
            stopping.wait(max(0.0, next_at - now))


def _mp3_encoder(bitrate: int) -> lameenc.Encoder:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(CHANNELS)
    encoder.set_quality(MP3_QUALITY)
    return encoder
