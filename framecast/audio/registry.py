"""Every channel's sound, by name, following the config like the shows do."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..config import Settings
from .audio_hub import AudioHub
from .channel import ChannelSound
from .clip import ClipSink
from .pulse import DeviceCaptures

log = logging.getLogger(__name__)


class SoundRegistry:
    """`start`, `apply` (the config watcher's thread) and `stop` are called by the app that owns
    the registry; `hub`, `status` and `clip_sink` by HTTP threads and the shows."""

    def __init__(self, settings: Settings) -> None:
        self._lock = threading.Lock()
        self._settings = settings
        self._devices = DeviceCaptures()
        self._channels: dict[str, ChannelSound] = {}

    def start(self) -> None:
        self.apply(self._settings)

    def apply(self, settings: Settings) -> None:
        """Add, change and remove channels' sound to match `settings`."""
        wanted = {name: show.audio for name, show in settings.shows().items()}
        with self._lock:
            self._settings = settings
            removed = [sound for name, sound in self._channels.items() if name not in wanted]
            for sound in removed:
                del self._channels[sound.name]
            existing = dict(self._channels)
        for sound in removed:
            sound.stop()
        for name, audio in wanted.items():
            known = existing.get(name)
            if known is None:
                added = ChannelSound(name, audio, self._devices)
                with self._lock:
                    self._channels[name] = added
                if added.on:
                    log.info("Sound: channel %s plays %s", name, _what(audio.source, audio.clips))
                    added.check()
            elif known.settings != audio:
                was = known.settings
                if (was.source, was.clips) != (audio.source, audio.clips):
                    log.info(
                        "Sound: channel %s now plays %s", name, _what(audio.source, audio.clips)
                    )
                known.apply(audio)

    def stop(self) -> None:
        with self._lock:
            sounds = list(self._channels.values())
        for sound in sounds:
            sound.stop()

    def sound(self, channel: str) -> ChannelSound | None:
        with self._lock:
            return self._channels.get(channel)

    def hub(self, channel: str, fmt: str) -> AudioHub | None:
        """The hub of the channel's sound in `fmt`, or None when the channel has no sound."""
        sound = self.sound(channel)
        return sound.hub(fmt) if sound is not None and sound.on else None

    def clip_sink(self, channel: str) -> ClipSink | None:
        """Where the channel's clips play their own sound, or None when it does not play it
        (the channel's slideshow thread, as a clip starts)."""
        sound = self.sound(channel)
        return sound.clip.put if sound is not None and sound.settings.clips else None

    def status(self, channel: str) -> dict[str, Any]:
        """What `/status` says of one channel's sound."""
        sound = self.sound(channel)
        if sound is None or not sound.on:
            return {"source": "none", "format": None, "listeners": 0, "error": None}
        settings = sound.settings
        return {
            "source": settings.source,
            "clips": settings.clips,
            "format": settings.format,
            "listeners": sound.listeners,
            "error": sound.error,
        }


def _what(source: str, clips: bool) -> str:
    words = {
        "none": "no sound",
        "system": "this machine's sound",
        "mic": "the microphone",
        "both": "this machine's sound and the microphone",
    }
    if not clips:
        return words[source]
    return "its clips' sound" + ("" if source == "none" else f" and {words[source]}")
