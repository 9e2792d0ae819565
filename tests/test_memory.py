"""Freed heap memory is kept for reuse between trims, and every trim gives it back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framecast.service.memory import release_free_memory


def resident_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_buffers_below_a_live_one_are_returned() -> None:
    chunks = [bytearray(50_000) for _ in range(2_000)]
    last = chunks[-1]
    before = resident_mb()
    del chunks
    assert release_free_memory()
    assert resident_mb() < before - 50
    assert len(last) == 50_000


KEEP_THEN_RELEASE = """
from pathlib import Path
from framecast.service.memory import keep_freed_memory, release_free_memory

def resident_mb():
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024

assert keep_freed_memory()
buffers = [bytearray(4 << 20) for _ in range(10)]
for buffer in buffers:
    buffer[:: 4096] = b"x" * len(buffer[:: 4096])
full = resident_mb()
del buffers
kept = resident_mb()
release_free_memory()
print(full, kept, resident_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_frames_are_kept_for_reuse_until_the_next_release() -> None:
    """Without keep_freed_memory glibc would unmap each 4 MB buffer as it is freed."""
    result = subprocess.run(
        [sys.executable, "-c", KEEP_THEN_RELEASE],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    full, kept, released = map(float, result.stdout.split())
    assert kept > full - 5
    assert released < kept - 30
