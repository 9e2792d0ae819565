"""Real sound for tests: a private PulseAudio with null sinks (no sound card), tones played into
it, and a reader of a server's endless sound stream."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pasimple
import pulsectl
from support import wait_for

RATE = 48_000
WAV_HEADER_BYTES = 44
PULSE_CONFIG = """
load-module module-native-protocol-unix auth-anonymous=1 socket={socket}
load-module module-null-sink sink_name=speakers
load-module module-null-sink sink_name=mic_line
load-module module-null-sink sink_name=tv
set-default-sink speakers
set-default-source mic_line.monitor
"""
"""`speakers` stands for what the machine plays, `mic_line` for its microphone, `tv` for where
a test's browser plays (never the speakers: the server would hear the TV)."""


class PrivatePulse:
    """A PulseAudio daemon of the test's own, on a socket in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "native"
        self.address = f"unix:{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivatePulse:
        runtime = self.folder / "runtime"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        script = self.folder / "default.pa"
        script.write_text(PULSE_CONFIG.format(socket=self.socket))
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(self.folder)}
        with (self.folder / "pulse.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",
                    "-F",
                    str(script),
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--use-pid-file=no",
                    "--system=false",
                    "--log-target=stderr",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for(self.answers, timeout=10, interval=0.05, what="the private PulseAudio")
        return self

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError((self.folder / "pulse.log").read_text(errors="replace"))
        try:
            with pulsectl.Pulse("tests", server=self.address, connect=False) as pulse:
                pulse.connect(timeout=1)
                return any(s.name == "tv" for s in pulse.sink_list())
        except pulsectl.PulseError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.socket.unlink(missing_ok=True)


class Tone:
    """A sine played into a sink until stopped; `hz` may change while it plays (0 = silence).
    Reconnects when the sound server goes away and comes back."""

    def __init__(self, pulse: PrivatePulse, hz: float, sink: str = "speakers") -> None:
        self.pulse = pulse
        self.hz = hz
        self.sink = sink
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tone:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        block = RATE // 50
        phase = 0.0
        while not self._stop.is_set():
            try:
                with pasimple.PaSimple(
                    pasimple.PA_STREAM_PLAYBACK,
                    pasimple.PA_SAMPLE_S16LE,
                    2,
                    RATE,
                    server_name=self.pulse.address,
                    device_name=self.sink,
                    tlength=block * 4 * 2,
                ) as stream:
                    while not self._stop.is_set():
                        steps = phase + 2 * np.pi * self.hz * np.arange(block) / RATE
                        phase = float(steps[-1] + 2 * np.pi * self.hz / RATE) % (2 * np.pi)
                        wave = (np.sin(steps) * 8000 * (self.hz > 0)).astype("<i2")
                        stream.write(np.repeat(wave, 2).tobytes())
            except pasimple.PaSimpleError:
                self._stop.wait(0.1)


def dominant_hz(pcm: bytes) -> float:
    """The strongest frequency in stereo 16-bit PCM at 48 kHz (0 for silence)."""
    samples = np.frombuffer(pcm[: len(pcm) // 4 * 4], dtype="<i2")[::2].astype(np.float64)
    if not len(samples) or np.abs(samples).max() < 200:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


def hears(pcm: bytes, hz: float, tolerance: float = 15.0) -> bool:
    return abs(dominant_hz(pcm) - hz) <= tolerance


class SoundReader:
    """Reads a server's /audio.wav (or other sound path) on a thread of its own, keeping all of
    it; `paused` stops reading while set (a listener that stops reading)."""

    def __init__(self, port: int, path: str = "/audio.wav", receive_buffer: int = 0) -> None:
        """`receive_buffer` > 0 keeps the kernel from holding more than about that much for
        us: a slow reader then really is slow at the server."""
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if receive_buffer:
            self.connection.sock = socket.socket()
            self.connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self.connection.sock.settimeout(30)
            self.connection.sock.connect(("127.0.0.1", port))
        self.connection.request("GET", path)
        self._socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.data = bytearray()
        self.ended = threading.Event()
        self.paused = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.status == 200:
            self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                while self.paused.is_set():
                    time.sleep(0.05)
                chunk = self.response.read1(16384)
                if not chunk:
                    break
                with self._lock:
                    self.data += chunk
        except OSError:
            pass
        finally:
            self.ended.set()

    def size(self) -> int:
        with self._lock:
            return len(self.data)

    def pcm_after(self, offset: int, seconds: float) -> bytes:
        """`seconds` of sound that arrived after byte `offset` of the body (header included),
        or less when not yet there."""
        with self._lock:
            start = max(offset, WAV_HEADER_BYTES)
            start += -(start - WAV_HEADER_BYTES) % 4
            return bytes(self.data[start : start + int(seconds * RATE) * 4])

    def last(self, seconds: float) -> bytes:
        with self._lock:
            size = int(seconds * RATE) * 4
            body = len(self.data) - WAV_HEADER_BYTES
            usable = body - body % 4
            start = WAV_HEADER_BYTES + max(0, usable - size)
            return bytes(self.data[start : WAV_HEADER_BYTES + usable])

    def wait_hearing(self, hz: float, timeout: float = 10.0) -> None:
        wait_for(
            lambda: hears(self.last(0.2), hz),
            timeout=timeout,
            interval=0.05,
            what=f"{hz} Hz in the stream (hearing {dominant_hz(self.last(0.2)):.0f} Hz)",
        )

    def close(self) -> None:
        """Hang up as a TV does when it is switched off."""
        with contextlib.suppress(OSError):
            if self._socket is not None:
                self._socket.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.ended.wait(5)
