"""Every stream's frames, written by one thread.

Each hub's newest frame goes out to all of its TVs with non-blocking sends from one thread that
sleeps in the system's selector (epoll on Linux). A thread per TV woke for every frame, fought
the others for the GIL and polled before each send: on an edge with many TVs that, not the
bytes, was most of the CPU. A TV still taking one frame gets the newest once it has it; nothing
queues for it.
"""

from __future__ import annotations

import contextlib
import math
import selectors
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from ..hub import Frame, FrameHub
from ..supervise import LoopWorker
from . import mjpeg
from .viewers import Viewer

SMALL_SEND_BUFFER = 64 * 1024
LARGE_SEND_BUFFER = 512 * 1024
SLOW_WRITE_SECONDS = 0.1
QUICK_WRITE_SECONDS = 0.02
QUICK_WRITES_FOR_LARGE = 30
IDLE_WAKE_SECONDS = 1.0
WAKE_READ_BYTES = 4096


class SendBuffer:
    """How one stream's kernel send buffer follows its client.

    At first it has room for the first frame, so that it leaves in one write while the client
    has not yet shown its speed; it is small once the client lags, so the kernel cannot queue
    seconds of old frames for it; large once the client takes every frame at once, which costs
    fewer wake-ups per frame.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._writes = 0
        self._quick_writes = 0
        self._size = 0

    def writing(self, part_bytes: int) -> None:
        """A frame of `part_bytes` is about to be written: the first gets room to leave at once."""
        if not self._writes:
            self._resize(max(part_bytes, SMALL_SEND_BUFFER))

    def wrote(self, seconds: float) -> None:
        """One frame took `seconds` to write. After the first the buffer is small until the
        client has taken `QUICK_WRITES_FOR_LARGE` frames in a row at once."""
        self._writes += 1
        if seconds >= SLOW_WRITE_SECONDS or self._writes == 1:
            self._quick_writes = 0
            self._resize(SMALL_SEND_BUFFER)
        elif seconds < QUICK_WRITE_SECONDS:
            self._quick_writes += 1
            if self._quick_writes >= QUICK_WRITES_FOR_LARGE:
                self._resize(LARGE_SEND_BUFFER)

    def _resize(self, size: int) -> None:
        if size == self._size:
            return
        self._size = size
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class DelayLine:
    """A TV's picture held back by `delay` seconds, to reach its screen with its sound (which a
    browser plays later than it shows an image). Frames wait in the order they were published;
    a frame due while a newer one is also due is skipped, as a slow client skips."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._waiting: deque[Frame] = deque()

    def clear(self) -> None:
        self._waiting.clear()

    def offer(self, frame: Frame) -> None:
        """A frame newer than any offered before."""
        self._waiting.append(frame)

    def due(self, now: float) -> Frame | None:
        """The newest frame whose time has come by `now`, if any."""
        due: Frame | None = None
        while self._waiting and self._waiting[0].published_at + self.delay <= now:
            due = self._waiting.popleft()
        return due

    def next_due(self) -> float:
        """When the oldest waiting frame is due; infinity when none waits."""
        return self._waiting[0].published_at + self.delay if self._waiting else math.inf


class PartCache:
    """The wire bytes of each hub's newest frame, built once and shared by every stream."""

    def __init__(self) -> None:
        self._parts: weakref.WeakKeyDictionary[FrameHub, tuple[int, bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, hub: FrameHub, frame: Frame) -> bytes:
        seq, part = self._parts.get(hub, (-1, b""))
        if frame.seq == seq:
            return part
        part = mjpeg.part(frame.jpeg)
        if frame.seq > seq:
            self._parts[hub] = (frame.seq, part)
        return part


class FanOutStream:
    """One TV's stream as the fan-out thread writes it: which hub, what is half sent, what is
    due next. Built by the stream's HTTP thread; `ended` is set by the fan-out thread when the
    stream cannot go on (the client is gone, stopped reading for `client_timeout`, or its hub
    closed); everything else runs on the fan-out thread under its lock."""

    def __init__(
        self,
        sock: socket.socket,
        hub: FrameHub,
        viewer: Viewer,
        delay: float,
        client_timeout: float,
    ) -> None:
        """Turns `sock` non-blocking: from now on only the fan-out thread writes to it."""
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        self.hub = hub
        self.viewer = viewer
        self.ended = threading.Event()
        self.polled = False
        """Whether the fan-out's selector waits for this socket to take more."""
        self._line = DelayLine(delay)
        self._buffer = SendBuffer(sock)
        self._client_timeout = client_timeout
        self._seen = 0
        self._sent: Frame | None = None
        self._pending: memoryview | None = None
        self._offset = 0
        self._started = 0.0
        self._progress_at = 0.0
        self._resend_at = math.inf

    def follow(self, hub: FrameHub) -> None:
        """Show `hub` from its current frame on, after whatever part is half sent."""
        self.hub = hub
        self._seen = 0
        self._sent = None
        self._line.clear()
        self._resend_at = math.inf

    def step(self, now: float, parts: PartCache, keepalive: float) -> float:
        """Take the hub's newest frame into the delay line, send what is due without blocking,
        and say when this stream is next due (the fan-out also wakes for a new frame, and for
        room in the socket while `pending`). Raises OSError when the client is gone or has
        taken nothing for `client_timeout`."""
        newest = self.hub.wait_newer(self._seen, 0)
        if newest is not None:
            self._seen = newest.seq
            self._line.offer(newest)
        if self._pending is None:
            frame = self._line.due(now)
            if frame is None and self._sent is not None and now >= self._resend_at:
                frame = self._sent
            if frame is not None:
                self._sent = frame
                self._start(parts.of(self.hub, frame), now)
        if self._pending is not None:
            self._send(now, keepalive)
        if self._pending is not None:
            if now - self._progress_at >= self._client_timeout:
                raise TimeoutError(f"took nothing for {self._client_timeout:g} s")
            return self._progress_at + self._client_timeout
        return min(self._line.next_due(), self._resend_at)

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def client_left(self) -> bool:
        """Whether the client closed its end (HTTP thread): a stream client sends nothing after
        its request, so anything to read is end of file. A send would only notice a TV switched
        off at the next frame, up to a whole keepalive later."""
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _start(self, part: bytes, now: float) -> None:
        self._buffer.writing(len(part))
        self._pending = memoryview(part)
        self._offset = 0
        self._started = self._progress_at = now

    def _send(self, now: float, keepalive: float) -> None:
        assert self._pending is not None
        try:
            sent = self.sock.send(self._pending[self._offset :])
        except BlockingIOError:
            return
        self._offset += sent
        self._progress_at = now
        if self._offset < len(self._pending):
            return
        self._buffer.wrote(time.monotonic() - self._started)
        self.viewer.frames += 1
        self.viewer.bytes += len(self._pending)
        self._pending = None
        self._resend_at = now + keepalive


class FanOut:
    """Writes every stream's frames on one thread, started with the first stream and stopped
    (and joined) by the HTTP thread whose stream was the last to leave.

    `add`, `move` and `remove` are called by streams' HTTP threads; hubs wake the thread from
    their publishing threads through a socket pair (`FrameHub.on_change`)."""

    def __init__(self, keepalive: Callable[[], float]) -> None:
        self._keepalive = keepalive
        self._lock = threading.Lock()
        self._streams: dict[int, FanOutStream] = {}
        self._parts = PartCache()
        self._hubs: weakref.WeakSet[FrameHub] = weakref.WeakSet()
        self._selector = selectors.DefaultSelector()
        self._woken, self._waker = socket.socketpair()
        for end in (self._woken, self._waker):
            end.setblocking(False)
        weakref.finalize(self, _close, self._selector, self._woken, self._waker)
        self._selector.register(self._woken, selectors.EVENT_READ)
        self._thread: LoopWorker | None = None

    def add(self, stream: FanOutStream) -> None:
        """Start sending `stream` its hub's frames."""
        with self._lock:
            self._streams[stream.fd] = stream
            self._hear(stream.hub)
            if self._thread is None:
                # A run of its own from the first stream in to the last out: a run that outlived
                # its stop must not see its `stopping` cleared by the next.
                self._thread = LoopWorker("stream-fanout", self._run, self._wake_up)
                self._thread.start()
        self._wake_up()

    def move(self, stream: FanOutStream, hub: FrameHub) -> None:
        """`stream` shows `hub` now, from its current frame on."""
        with self._lock:
            stream.follow(hub)
            self._hear(hub)
        self._wake_up()

    def remove(self, stream: FanOutStream) -> None:
        """Stop writing to `stream` (its HTTP thread closes the socket next); the last stream
        out stops the thread and waits for it. Its run is told under the lock, so it steps no
        stream once the lock is free, not even one of the next run's."""
        with self._lock:
            self._forget(stream)
            thread = None
            if not self._streams and self._thread is not None:
                thread, self._thread = self._thread, None
                thread.stopping.set()
        if thread is not None:
            thread.stop()

    def _hear(self, hub: FrameHub) -> None:
        if hub not in self._hubs:
            self._hubs.add(hub)
            hub.on_change(self._wake_up)

    def _forget(self, stream: FanOutStream) -> None:
        if self._streams.get(stream.fd) is not stream:
            return
        del self._streams[stream.fd]
        if stream.polled:
            with contextlib.suppress(OSError, KeyError, ValueError):
                self._selector.unregister(stream.sock)

    def _wake_up(self) -> None:
        """Called on any thread: a frame, a stream or a stop for the fan-out thread to see. A
        full pair means a wake-up is waiting already."""
        with contextlib.suppress(BlockingIOError):
            self._waker.send(b"\0")

    def _run(self, stop: threading.Event) -> None:
        """The fan-out thread: waits for frames, for room in slow clients' sockets and for
        what is due (keepalives, delayed frames, timeouts); then sends what it can."""
        all_due = time.monotonic()
        wait = 0.0
        while True:
            events = self._selector.select(wait)
            with self._lock:
                if stop.is_set():
                    return
                woken = any(key.fileobj is self._woken for key, _ in events)
                if woken:
                    with contextlib.suppress(BlockingIOError):
                        self._woken.recv(WAKE_READ_BYTES)
                if woken or time.monotonic() >= all_due:
                    all_due = self._round(list(self._streams.values()))
                    due = all_due
                else:
                    ready = [self._streams.get(key.fd) for key, _ in events]
                    due = min(all_due, self._round([s for s in ready if s is not None]))
            wait = max(0.0, due - time.monotonic())

    def _round(self, streams: list[FanOutStream]) -> float:
        """Steps each of `streams`: all of them after a wake or when something is due, else
        only those whose sockets have room. Returns when the next of them is due. Under the
        lock, on the fan-out thread."""
        now = time.monotonic()
        keepalive = self._keepalive()
        due = now + IDLE_WAKE_SECONDS
        for stream in streams:
            try:
                if stream.hub.closed:
                    raise ConnectionAbortedError("its channel closed")
                due = min(due, stream.step(now, self._parts, keepalive))
            except OSError:
                self._forget(stream)
                stream.ended.set()
                continue
            if stream.pending != stream.polled:
                if stream.pending:
                    self._selector.register(stream.sock, selectors.EVENT_WRITE)
                else:
                    self._selector.unregister(stream.sock)
                stream.polled = stream.pending
        return due


def _close(selector: selectors.BaseSelector, *ends: socket.socket) -> None:
    selector.close()
    for end in ends:
        end.close()
