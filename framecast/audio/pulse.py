"""Capture from PulseAudio (or PipeWire's pulse server) through its simple API, one thread per
device however many channels take its sound; started with its first channel, stopped with its
last.

Without a sound server, or when it goes away, the capture says why (for `/status`) and tries
again every few seconds, so sound starts by itself when a server appears.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pasimple

from ..supervise import Worker
from .pcm import CAPTURE_BYTES, CHANNELS, RATE

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 5.0
LIST_TIMEOUT_SECONDS = 1.0
DEFAULT_DEVICES = {"system": "@DEFAULT_MONITOR@", "mic": "@DEFAULT_SOURCE@"}
"""PulseAudio's own names for the default output's monitor and the default input."""
NO_SUCH_DEVICE = 5
"""PA_ERR_NOENTITY."""
CONNECTION_REFUSED = 6
"""PA_ERR_CONNECTIONREFUSED: nothing listens where the server should be."""


@dataclass(frozen=True)
class Device:
    """One source to capture: its role ("system" or "mic"), its name, and the server."""

    role: str
    name: str | None
    server: str | None

    @property
    def pulse_name(self) -> str:
        return self.name or DEFAULT_DEVICES[self.role]

    def describe(self) -> str:
        if self.name is None:
            return "the default output's sound" if self.role == "system" else "the default input"
        return f'device "{self.name}"'


Sink = Callable[[bytes], None]
"""Takes each captured block (on the capture thread)."""


class DeviceCapture(Worker):
    """The capture thread of one device.

    `attach` and `detach` are called by the channels' mixing threads, `start` and `stop` by
    those of its first and last channel (through `DeviceCaptures`); the capture's own thread
    runs `run`; `error` is read by anyone.
    """

    def __init__(self, device: Device) -> None:
        super().__init__(f"audio-{device.role}")
        self.device = device
        self._lock = threading.Lock()
        self._sinks: dict[int, Sink] = {}
        self._error: str | None = None

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error

    def attach(self, owner: object, sink: Sink) -> None:
        with self._lock:
            self._sinks[id(owner)] = sink

    def detach(self, owner: object) -> bool:
        """`owner` takes no more sound; whether it was the last."""
        with self._lock:
            self._sinks.pop(id(owner), None)
            return not self._sinks

    def run(self) -> None:
        """The capture thread: open the device, hand each block to every sink, retry on loss."""
        retry = FIRST_RETRY_SECONDS
        while not self.stopping.is_set():
            try:
                stream = pasimple.PaSimple(
                    pasimple.PA_STREAM_RECORD,
                    pasimple.PA_SAMPLE_S16LE,
                    CHANNELS,
                    RATE,
                    app_name="Framecast",
                    stream_name=f"Framecast {self.device.role}",
                    server_name=self.device.server,
                    device_name=self.device.pulse_name,
                    fragsize=CAPTURE_BYTES,
                )
            except pasimple.PaSimpleError as error:
                self._failed(self._explain(error), retry)
                self.stopping.wait(retry)
                retry = min(retry * 2, MAX_RETRY_SECONDS)
                continue
            retry = FIRST_RETRY_SECONDS
            self._opened()
            try:
                while not self.stopping.is_set():
                    block = stream.read(CAPTURE_BYTES)
                    with self._lock:
                        sinks = list(self._sinks.values())
                    for sink in sinks:
                        sink(block)
            except pasimple.PaSimpleError as error:
                self._failed(f"the sound server went away ({_reason(error)})", retry)
            finally:
                stream.close()

    def _opened(self) -> None:
        with self._lock:
            was, self._error = self._error, None
        log.info(
            "Sound: capturing %s%s", self.device.describe(), " again" if was is not None else ""
        )

    def _failed(self, reason: str, retry: float) -> None:
        with self._lock:
            same, self._error = self._error == reason, reason
        if not same:
            log.warning(
                "Sound: cannot capture %s: %s; trying again every %g s at most",
                self.device.describe(),
                reason,
                MAX_RETRY_SECONDS,
            )

    def _explain(self, error: pasimple.PaSimpleError) -> str:
        """Why the device did not open, in words; a missing device lists those there are."""
        if _code(error) == NO_SUCH_DEVICE and self.device.name is not None:
            names = source_names(self.device.server)
            return f'no device "{self.device.name}"; there are: ' + (
                ", ".join(names) if names else "(none)"
            )
        return _reason(error)


class DeviceCaptures:
    """The captures in use, by device; shared by every channel of one app."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._captures: dict[Device, DeviceCapture] = {}

    def attach(self, owner: object, device: Device, sink: Sink) -> DeviceCapture:
        with self._lock:
            capture = self._captures.get(device)
            started = capture is None
            if capture is None:
                capture = self._captures[device] = DeviceCapture(device)
            capture.attach(owner, sink)
        if started:
            capture.start()
        return capture

    def detach(self, owner: object, capture: DeviceCapture) -> None:
        with self._lock:
            last = capture.detach(owner)
            if last and self._captures.get(capture.device) is capture:
                del self._captures[capture.device]
        if last:
            capture.stop()


NO_LIBRARY = "libpulse is not installed (apt-get install libpulse0)"


def source_names(server: str | None) -> list[str]:
    """The names of the sources the server has, or none when it cannot be asked."""
    try:
        import pulsectl
    except OSError:
        return []
    try:
        with pulsectl.Pulse("Framecast", server=server, connect=False) as pulse:
            pulse.connect(timeout=LIST_TIMEOUT_SECONDS)
            return [source.name for source in pulse.source_list()]
    except pulsectl.PulseError:
        return []


def server_problem(server: str | None) -> str | None:
    """Why no sound can be captured from the server, or None when it answers."""
    try:
        import pulsectl
    except OSError:
        return NO_LIBRARY
    try:
        with pulsectl.Pulse("Framecast", server=server, connect=False) as pulse:
            pulse.connect(timeout=LIST_TIMEOUT_SECONDS)
    except pulsectl.PulseError:
        return "no sound server (PulseAudio or PipeWire) answers" + (
            f" at {server}" if server else ""
        )
    return None


def _code(error: pasimple.PaSimpleError) -> int | None:
    """The PulseAudio error code pasimple puts at the end of its message."""
    found = re.search(r"(\d+)\s*$", str(error))
    return int(found.group(1)) if found else None


def _reason(error: pasimple.PaSimpleError) -> str:
    """PulseAudio's own words for the error (pa_strerror)."""
    code = _code(error)
    if code is None:
        return NO_LIBRARY if "OSError" in str(error) else str(error)
    if code == CONNECTION_REFUSED:
        return "no sound server (PulseAudio or PipeWire) answers"
    try:
        strerror = ctypes.CDLL("libpulse.so.0").pa_strerror
    except OSError:
        return str(error)
    strerror.restype = ctypes.c_char_p
    words: bytes | None = strerror(code)
    return words.decode(errors="replace") if words else str(error)
