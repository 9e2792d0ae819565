"""The last few seconds of one channel's sound in one format, shared by every listener.

Like the frame hub, one thread publishes and any number of HTTP threads read; nothing is
queued per listener: each keeps only the number of the last block it sent, and one that falls
behind skips ahead to near the live edge.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .pcm import TICK_SECONDS

KEEP_SECONDS = 3.0
BURST_SECONDS = 1.0
"""A new listener gets this much at once, so its player starts at once instead of buffering."""
MAX_LAG_SECONDS = 1.0
"""A listener further behind than this skips to `CATCH_UP_SECONDS` behind the newest block."""
CATCH_UP_SECONDS = 0.25


def _blocks(seconds: float) -> int:
    return max(1, round(seconds / TICK_SECONDS))


class AudioHub:
    """A ring of the newest blocks under a condition variable, and a count of listeners.

    `publish` is called by the channel's mixing thread; `listening`, `recent` and `after` by
    HTTP threads; `close` at shutdown. `on_change` listeners run on the thread whose listener
    came or went.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._blocks: deque[bytes] = deque(maxlen=_blocks(KEEP_SECONDS))
        self._seq = 0
        """The number of the newest block (the first is 1)."""
        self._listeners = 0
        self._closed = False
        self._on_change: list[Callable[[], None]] = []

    def publish(self, block: bytes) -> None:
        with self._cond:
            self._blocks.append(block)
            self._seq += 1
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget what was kept: the sound it held is no longer this channel's."""
        with self._cond:
            self._blocks.clear()

    def recent(self, seconds: float = BURST_SECONDS) -> tuple[bytes, int]:
        """The last `seconds` of sound in one piece, and the number of its last block."""
        with self._cond:
            return self._newest(_blocks(seconds)), self._seq

    def after(self, seq: int, timeout: float) -> tuple[bytes, int]:
        """The blocks after block `seq` in one piece and the number of the last, waiting up to
        `timeout` s for one; a listener too far behind gets only the last `CATCH_UP_SECONDS`.
        Empty when the wait timed out or the hub closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq <= seq and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b"", seq
                self._cond.wait(left)
            if self._closed:
                return b"", seq
            behind = self._seq - seq
            if behind > _blocks(MAX_LAG_SECONDS):
                behind = _blocks(CATCH_UP_SECONDS)
            return self._newest(behind), self._seq

    def _newest(self, count: int) -> bytes:
        """The newest `count` blocks in one piece (the caller holds the lock). A listener that
        keeps up takes one block at a time: that one is handed over as it is, not copied."""
        blocks = self._blocks
        count = min(count, len(blocks))
        if count == 1:
            return blocks[-1]
        return b"".join(itertools.islice(blocks, len(blocks) - count, None))

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a listener comes or goes."""
        with self._cond:
            self._on_change.append(listener)

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Count one listener for as long as the block runs."""
        self._change(+1)
        try:
            yield
        finally:
            self._change(-1)

    def _change(self, step: int) -> None:
        with self._cond:
            self._listeners += step
            callbacks = list(self._on_change)
        for callback in callbacks:
            callback()

    @property
    def listeners(self) -> int:
        with self._cond:
            return self._listeners

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def close(self) -> None:
        """Wake every listener so that its stream ends."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
