"""The one sound format inside Framecast: 48 kHz, 16-bit little-endian, stereo PCM."""

from __future__ import annotations

import numpy as np

RATE = 48_000
CHANNELS = 2
SAMPLE_BYTES = 2
FRAME_BYTES = CHANNELS * SAMPLE_BYTES
CAPTURE_SECONDS = 0.02
"""What one capture read returns: short, so a sound reaches the mix soon after it is played."""
CAPTURE_BYTES = round(RATE * CAPTURE_SECONDS) * FRAME_BYTES
TICK_SECONDS = 0.04
"""What the mix publishes at a time: each listener's thread wakes once per tick."""
TICK_BYTES = round(RATE * TICK_SECONDS) * FRAME_BYTES


def silence(size: int) -> bytes:
    return bytes(size)


def mix(parts: list[bytes]) -> bytes:
    """The sum of equally long PCM blocks, clipped to 16 bits."""
    if len(parts) == 1:
        return parts[0]
    total = np.zeros(len(parts[0]) // SAMPLE_BYTES, dtype=np.int32)
    for part in parts:
        total += np.frombuffer(part, dtype="<i2")
    return np.clip(total, -32768, 32767).astype("<i2").tobytes()
