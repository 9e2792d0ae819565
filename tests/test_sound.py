"""Sound (issue 18): the machine's sound and a microphone to every TV, through a private
PulseAudio with null sinks, real servers and real listeners."""

from __future__ import annotations

import io
import struct
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from media import clip
from sound import RATE, PrivatePulse, SoundReader, Tone, dominant_hz, hears
from support import BLUE, RED, StreamReader, config_text, solid, wait_for, write_config

from framecast.audio.audio_hub import BURST_SECONDS, CATCH_UP_SECONDS, AudioHub
from framecast.audio.channel import PREFILL_BYTES, JitterBuffer
from framecast.audio.pcm import TICK_BYTES, TICK_SECONDS, mix
from framecast.config import ConfigError, parse_settings
from framecast.web.audio import wav_header


def sound_config(pulse: PrivatePulse | str, extra: str = "", source: str = "system") -> str:
    address = pulse if isinstance(pulse, str) else pulse.address
    return config_text(extra=f'\n[audio]\nsource = "{source}"\nserver = "{address}"\n' + extra)


def with_red(images: Path) -> Path:
    solid(images / "red.png", RED)
    return images


# --- units -----------------------------------------------------------------------------------


def test_a_new_listener_gets_the_last_second_then_each_new_block() -> None:
    hub = AudioHub()
    blocks = [bytes([n]) * 4 for n in range(100)]
    for block in blocks:
        hub.publish(block)
    burst, seq = hub.recent()
    wanted = round(BURST_SECONDS / TICK_SECONDS)
    assert burst == b"".join(blocks[-wanted:])
    hub.publish(b"new!")
    assert hub.after(seq, 1) == (b"new!", seq + 1)
    assert hub.after(seq + 1, 0.05) == (b"", seq + 1)


def test_a_listener_far_behind_skips_to_near_the_live_edge() -> None:
    hub = AudioHub()
    _, seq = hub.recent()
    for n in range(60):
        hub.publish(bytes([n]) * 4)
    data, newest = hub.after(seq, 1)
    kept = round(CATCH_UP_SECONDS / TICK_SECONDS)
    assert newest == seq + 60
    assert data == b"".join(bytes([n]) * 4 for n in range(60 - kept, 60))


def test_a_closed_hub_ends_its_listeners() -> None:
    hub = AudioHub()
    hub.close()
    started = time.monotonic()
    assert hub.after(0, 5) == (b"", 0)
    assert time.monotonic() - started < 1


def test_the_jitter_buffer_gives_silence_until_filled_and_after_running_dry() -> None:
    buffer = JitterBuffer()
    one = b"\x01" * (PREFILL_BYTES - 4)
    buffer.put(one)
    assert buffer.take(TICK_BYTES) == bytes(TICK_BYTES)
    buffer.put(b"\x01" * 4)
    assert buffer.take(TICK_BYTES) == b"\x01" * TICK_BYTES
    short = buffer.take(TICK_BYTES)
    assert short.startswith(b"\x01")
    assert short.endswith(b"\x00")
    buffer.put(b"\x02" * TICK_BYTES)
    assert buffer.take(TICK_BYTES) == bytes(TICK_BYTES)


def test_the_jitter_buffer_drops_the_oldest_sound_beyond_its_limit() -> None:
    buffer = JitterBuffer()
    for n in range(20):
        buffer.put(bytes([n]) * TICK_BYTES)
    assert buffer.take(TICK_BYTES) == bytes([16]) * TICK_BYTES


def test_mixing_adds_and_clips() -> None:
    loud = struct.pack("<4h", 30000, -30000, 100, -100)
    assert mix([loud, loud]) == struct.pack("<4h", 32767, -32768, 200, -200)
    assert mix([loud]) == loud


def test_the_wav_header_says_endless_48khz_16_bit_stereo_pcm() -> None:
    header = wav_header()
    assert len(header) == 44
    assert header[:4] == b"RIFF"
    assert header[8:16] == b"WAVEfmt "
    assert header[36:40] == b"data"
    fmt, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", header[20:36])
    assert (fmt, channels, rate, byte_rate, align, bits) == (1, 2, 48000, 192000, 4, 16)
    assert struct.unpack("<I", header[40:44])[0] == 0xFFFFFFFF


def test_audio_settings_default_to_silence_and_name_bad_values(tmp_path: Path) -> None:
    settings = parse_settings("", tmp_path)
    assert (settings.audio.source, settings.audio.format, settings.audio.clips) == (
        "none",
        "wav",
        False,
    )
    with pytest.raises(ConfigError, match=r'\[audio\] source = "loud".*"none", "system"'):
        parse_settings('[audio]\nsource = "loud"\n', tmp_path)
    with pytest.raises(ConfigError, match=r"\[audio\] bitrate = 1000 .*64 to 320"):
        parse_settings("[audio]\nbitrate = 1000\n", tmp_path)


def test_a_channel_sets_its_own_sound_in_its_audio_table(tmp_path: Path) -> None:
    text = (
        '[audio]\nsource = "system"\n[channels.talk]\nsource = "screen"\n'
        '[channels.talk.audio]\nsource = "mic"\nformat = "mp3"\n'
    )
    settings = parse_settings(text, tmp_path)
    talk = dict(settings.channels)["talk"]
    assert (talk.stream.source, talk.audio.source, talk.audio.format) == ("screen", "mic", "mp3")
    assert settings.audio.source == "system"
    with pytest.raises(ConfigError, match=r"\[channels.talk.audio\] has unknown key 'sorce'"):
        parse_settings('[channels.talk.audio]\nsorce = "mic"\n', tmp_path)


# --- a real server and a private PulseAudio ---------------------------------------------------


def test_the_machines_sound_reaches_a_listener(pulse: Any, images: Path, start_server: Any) -> None:
    server = start_server(sound_config(pulse))
    with Tone(pulse, 1000):
        reader = SoundReader(server.port)
        try:
            assert reader.status == 200
            assert reader.headers["Content-Type"] == "audio/wav"
            reader.wait_hearing(1000)
            assert reader.data[:4] == b"RIFF"
            status = server.status()
            assert status["watching"]["audio"] == "wav"
            assert status["audio_error"] is None
            assert status["channels"]["default"]["audio"]["listeners"] == 1
        finally:
            reader.close()
    assert "Sound: capturing the default output's sound" in server.log()


def test_the_microphone_and_both_mixed_per_channel(
    pulse: Any, images: Path, start_server: Any
) -> None:
    extra = (
        '[channels.talk.audio]\nsource = "mic"\n[channels.both.audio]\nsource = "both"\n'
        "[channels.both]\ninterval = 30\n[channels.talk]\ninterval = 30\n"
    )
    server = start_server(sound_config(pulse, extra))
    with Tone(pulse, 700), Tone(pulse, 1900, sink="mic_line"):
        system = SoundReader(server.port)
        talk = SoundReader(server.port, "/c/talk/audio.wav")
        both = SoundReader(server.port, "/c/both/audio.wav")
        try:
            system.wait_hearing(700)
            talk.wait_hearing(1900)

            def mixed() -> bool:
                samples = np.frombuffer(both.last(0.2), dtype="<i2")[::2].astype(float)
                if len(samples) < 4800:
                    return False
                spectrum = np.abs(np.fft.rfft(samples))
                bins = np.fft.rfftfreq(len(samples), 1 / RATE)
                peak = spectrum.max()
                return all(spectrum[np.abs(bins - hz) < 20].max() > peak / 3 for hz in (700, 1900))

            wait_for(mixed, timeout=10, what="both tones in the mixed channel")
        finally:
            for reader in (system, talk, both):
                reader.close()


def mp3_pcm(data: bytes) -> bytes:
    """MP3 bytes decoded to 48 kHz stereo 16-bit PCM."""
    with av.open(io.BytesIO(data), format="mp3") as container:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        out = bytearray()
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                out += bytes(converted.planes[0])[: converted.samples * 4]
        return bytes(out)


def test_an_mp3_listener_hears_the_same_sound(pulse: Any, images: Path, start_server: Any) -> None:
    server = start_server(sound_config(pulse, 'format = "mp3"\nbitrate = 128\n'))
    assert server.status()["watching"]["audio"] == "mp3"
    with Tone(pulse, 1300):
        reader = SoundReader(server.port, "/audio.mp3")
        try:
            assert reader.headers["Content-Type"] == "audio/mpeg"
            wait_for(
                lambda: (
                    reader.size() > 48_000
                    and hears(mp3_pcm(bytes(reader.data))[-RATE * 4 // 5 :], 1300)
                ),
                timeout=15,
                interval=0.2,
                what="1300 Hz in the MP3 stream",
            )
        finally:
            reader.close()


def test_a_channel_without_sound_has_none_until_it_is_turned_on(
    pulse: Any, images: Path, start_server: Any, tmp_path: Path
) -> None:
    server = start_server(config_text())
    assert server.get("/audio.wav")[0] == 404
    status = server.status()
    assert status["watching"]["audio"] is None
    write_config(tmp_path / "config.toml", sound_config(pulse))
    wait_for(lambda: server.status()["watching"]["audio"] == "wav", what="sound turned on")
    with Tone(pulse, 900):
        reader = SoundReader(server.port)
        try:
            reader.wait_hearing(900)
        finally:
            reader.close()
    assert "Sound: channel default now plays this machine's sound" in server.log()


# --- bad input and faults ---------------------------------------------------------------------


@pytest.mark.sound
def test_without_a_sound_server_the_picture_goes_on_and_sound_starts_when_one_appears(
    tmp_path: Path, images: Path, start_server: Any
) -> None:
    later = PrivatePulse(tmp_path / "later")
    later.folder.mkdir()
    server = start_server(sound_config(later.address), env=None)
    with_red(images)
    status = wait_for(
        lambda: (s := server.status())["audio_error"] and s, what="audio_error in /status"
    )
    assert "no sound server" in status["audio_error"]
    stream = StreamReader(server.port)
    try:
        stream.wait_colour(RED)
    finally:
        stream.close()
    reader = SoundReader(server.port)
    try:
        wait_for(lambda: reader.size() > 44 + RATE * 4, what="a second of silence")
        assert not any(reader.last(0.5))
        later.start()
        with Tone(later, 1100):
            reader.wait_hearing(1100, timeout=15)
        assert server.status()["audio_error"] is None
    finally:
        reader.close()
        later.stop()
    assert "cannot capture the default output's sound: no sound server" in server.log()


@pytest.mark.sound
def test_a_restarted_sound_server_is_heard_again_with_silence_meanwhile(
    tmp_path: Path, images: Path, start_server: Any
) -> None:
    own = PrivatePulse(tmp_path / "pulse").start()
    server = start_server(sound_config(own))
    reader = SoundReader(server.port)
    try:
        with Tone(own, 800):
            reader.wait_hearing(800)
            own.stop()
            gone_at = reader.size()
            wait_for(
                lambda: reader.size() > gone_at + RATE * 4 and not any(reader.last(0.3)),
                what="silence while the sound server is gone",
            )
            own.start()
            reader.wait_hearing(800, timeout=15)
        assert not reader.ended.is_set()
    finally:
        reader.close()
        own.stop()
    assert "Sound: capturing the default output's sound again" in server.log()


def test_a_device_that_does_not_exist_is_named_with_those_that_do(
    pulse: Any, images: Path, start_server: Any
) -> None:
    server = start_server(sound_config(pulse, 'system_device = "hdmi-nowhere"\n'))
    reader = SoundReader(server.port)
    try:
        error = wait_for(lambda: server.status()["audio_error"], what="audio_error")
    finally:
        reader.close()
    assert 'no device "hdmi-nowhere"' in error
    assert "speakers.monitor" in error
    assert "mic_line.monitor" in error
    assert 'Sound: cannot capture device "hdmi-nowhere": no device' in server.log()


def test_a_listener_that_stops_reading_is_dropped(
    pulse: Any, images: Path, start_server: Any
) -> None:
    text = sound_config(pulse).replace("[server]\n", "[server]\nclient_timeout = 2\n")
    server = start_server(text)
    reader = SoundReader(server.port, receive_buffer=16384)
    try:
        wait_for(lambda: reader.size() > 44, what="sound")
        reader.paused.set()
        wait_for(
            lambda: server.status()["channels"]["default"]["audio"]["listeners"] == 0,
            timeout=20,
            what="the stuck listener dropped",
        )
    finally:
        reader.close()
    assert "Listener 127.0.0.1 left the sound of default (0 listening)" in server.log()


def test_a_slow_listener_skips_ahead_instead_of_falling_behind(
    pulse: Any, images: Path, start_server: Any
) -> None:
    server = start_server(sound_config(pulse))
    with Tone(pulse, 500) as tone:
        reader = SoundReader(server.port, receive_buffer=16384)
        clock = SoundReader(server.port)
        try:
            reader.wait_hearing(500)
            reader.paused.set()
            tone.hz = 1500
            stalled_at = clock.size()
            wait_for(
                lambda: clock.size() > stalled_at + 3 * RATE * 4,
                what="3 s of sound going by while the slow listener reads nothing",
            )
            resumed_at = reader.size()
            reader.paused.clear()
            wait_for(
                lambda: reader.size() > resumed_at + 2 * RATE * 4, what="2 s more after the stall"
            )
            # Without skipping, the 3 s missed would arrive first, all at 500 Hz.
            first = reader.pcm_after(resumed_at, 1.5)
            heard = [dominant_hz(first[i : i + 9600]) for i in range(0, len(first), 9600)]
            assert any(abs(hz - 1500) < 15 for hz in heard), heard
        finally:
            reader.close()
            clock.close()


# --- clips ------------------------------------------------------------------------------------


def test_a_clip_plays_its_own_sound_when_clips_are_on(
    pulse: Any, images: Path, start_server: Any
) -> None:
    clip(images / "a.mp4", [RED, BLUE], fps=10, frames_each=30, tone_hz=440)
    server = start_server(sound_config(pulse, "clips = true\n", source="none"))
    assert server.status()["watching"]["audio"] == "wav"
    reader = SoundReader(server.port)
    stream = StreamReader(server.port)
    try:
        reader.wait_hearing(440, timeout=15)
        stream.wait_colour(RED)
    finally:
        reader.close()
        stream.close()


def test_a_clip_is_silent_when_clips_are_off(pulse: Any, images: Path, start_server: Any) -> None:
    clip(images / "a.mp4", [RED, BLUE], fps=10, frames_each=30, tone_hz=440)
    server = start_server(sound_config(pulse))
    stream = StreamReader(server.port)
    reader = SoundReader(server.port)
    try:
        stream.wait_colour(BLUE, timeout=10)
        assert reader.size() > 44 + 2 * RATE * 4
        assert not any(reader.last(2.0))
    finally:
        reader.close()
        stream.close()
