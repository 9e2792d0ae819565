"""Freed heap memory goes back to the system."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from framecast.memory import release_free_memory


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
