"""The wlroots backend: wlr-screencopy on a Wayland compositor (sway, labwc, wayfire, Hyprland).

Each frame is asked for with `copy_with_damage`, which the compositor answers only once
something was drawn on the output: an unchanged screen costs no grab at all, and the wait for
the next frame is a select on the Wayland connection beside the feed's wake-up socket. Pixels
arrive in a memfd-backed wl_shm buffer as XRGB8888 or ARGB8888, little-endian: BGRX bytes, the
layout a Grab carries. Used by the feed's thread only, like the other backends; pywayland and
the generated protocol load only when this backend is chosen.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import select
import time
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from ..config import ScreenSettings
from .grab import Area, Grab, ScreenError, area_of

log = logging.getLogger(__name__)

SHM_FORMATS = {0: "ARGB8888", 1: "XRGB8888"}
"""wl_shm formats whose little-endian bytes are BGRX (the alpha byte is ignored)."""
FIRST_FRAME_SECONDS = 2.0
"""How long a grab waits for the first frame of an area: the compositor sends it at once."""
MANAGER = "zwlr_screencopy_manager_v1"


def wayland_display() -> str | None:
    """The compositor's socket from WAYLAND_DISPLAY, absolute, or None when it is not set."""
    name = os.environ.get("WAYLAND_DISPLAY")
    if not name:
        return None
    if os.path.isabs(name):
        return name
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)


def wlroots_problem() -> str | None:
    """Why the wlroots backend cannot run here, or None when the compositor offers
    wlr-screencopy. Connects once to ask."""
    socket = wayland_display()
    if socket is None:
        return "WAYLAND_DISPLAY is not set: no Wayland compositor to capture"
    try:
        connection = _Connection(socket)
    except ScreenError as error:
        return str(error)
    except (ImportError, OSError) as error:
        return (
            f"pywayland does not load ({error}): install it with .venv/bin/pip install pywayland"
            " (it has wheels for x86-64 only; elsewhere, such as a Raspberry Pi, it is built:"
            " sudo apt-get install gcc python3-dev libffi-dev libwayland-dev first)"
        )
    connection.close()
    return None


@dataclass
class _Output:
    """One wl_output of the compositor, and what xdg-output says of it."""

    global_name: int
    proxy: Any
    name: str = ""
    left: int = 0
    top: int = 0
    width: int = 0
    height: int = 0


@dataclass
class _Frame:
    """One screencopy frame in flight, and what the compositor said of it."""

    proxy: Any
    area: Area
    buffer: tuple[int, int, int, int] | None = None
    formats: list[int] = field(default_factory=list)
    copying: bool = False
    ready: bool = False
    failed: bool = False
    y_invert: bool = False
    problem: str | None = None
    """Why the compositor's buffers cannot be used, when they cannot."""


class _Connection:
    """A connection to the compositor with the globals this backend binds; raises ScreenError
    when it cannot connect or the compositor offers no wlr-screencopy."""

    def __init__(self, socket: str) -> None:
        from pywayland.client.display import Display
        from pywayland.protocol.wayland import WlOutput, WlShm
        from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

        from .protocols.wlr_screencopy_unstable_v1 import ZwlrScreencopyManagerV1

        self.socket = socket
        self.display = Display(socket)
        try:
            self.display.connect()
        except Exception as error:
            raise ScreenError(
                f"Cannot connect to the Wayland compositor at {socket} ({error}): is it running?"
            ) from None
        self.outputs: list[_Output] = []
        self.unplugged: list[str] = []
        offered: dict[str, tuple[int, int]] = {}
        self.registry = self.display.get_registry()

        def added(registry: Any, name: int, interface: str, version: int) -> None:
            if interface == "wl_output":
                proxy = registry.bind(name, WlOutput, min(version, 2))
                self.outputs.append(_Output(name, proxy))
            else:
                offered[interface] = (name, version)

        def removed(registry: Any, name: int) -> None:
            for output in self.outputs:
                if output.global_name == name:
                    self.outputs.remove(output)
                    self.unplugged.append(output.name or f"output {name}")

        self.registry.dispatcher["global"] = added
        self.registry.dispatcher["global_remove"] = removed
        try:
            self.display.roundtrip()
            if MANAGER not in offered:
                raise ScreenError(
                    f"The Wayland compositor at {socket} does not offer wlr-screencopy (not a "
                    'wlroots compositor): use [screen] backend = "auto"'
                )
            if offered[MANAGER][1] < 2:
                raise ScreenError(
                    f"The Wayland compositor at {socket} offers wlr-screencopy version "
                    f"{offered[MANAGER][1]}, without damage: version 2 or later is needed"
                )
            self.shm = self.registry.bind(offered["wl_shm"][0], WlShm, 1)
            self.manager = self.registry.bind(
                offered[MANAGER][0], ZwlrScreencopyManagerV1, min(offered[MANAGER][1], 3)
            )
            self.version = min(offered[MANAGER][1], 3)
            xdg = offered.get("zxdg_output_manager_v1")
            self.xdg = None if xdg is None else self.registry.bind(xdg[0], ZxdgOutputManagerV1, 2)
            for output in self.outputs:
                self._describe(output)
            self.display.roundtrip()
        except ScreenError:
            self.close()
            raise

    def _describe(self, output: _Output) -> None:
        """Asks the output's name, position and size (answered by the next roundtrip)."""

        def mode(_: Any, flags: int, width: int, height: int, refresh: int) -> None:
            if flags & 1 and not output.width:  # the current mode, unless xdg-output said
                output.width, output.height = width, height

        output.proxy.dispatcher["mode"] = mode
        if self.xdg is None:
            return
        described = self.xdg.get_xdg_output(output.proxy)

        def position(_: Any, x: int, y: int) -> None:
            output.left, output.top = x, y

        def size(_: Any, width: int, height: int) -> None:
            output.width, output.height = width, height

        def name(_: Any, text: str) -> None:
            output.name = text

        described.dispatcher["logical_position"] = position
        described.dispatcher["logical_size"] = size
        described.dispatcher["name"] = name

    def monitors(self) -> list[dict[str, Any]]:
        """The outputs as mss numbers its monitors: 0 is all of them, then each in order."""
        if not self.outputs:
            raise ScreenError(f"The Wayland compositor at {self.socket} has no output")
        each: list[dict[str, Any]] = [
            {
                "left": o.left,
                "top": o.top,
                "width": o.width,
                "height": o.height,
                "output": o.name or f"monitor {i + 1}",
            }
            for i, o in enumerate(self.outputs)
        ]
        left = min(m["left"] for m in each)
        top = min(m["top"] for m in each)
        right = max(m["left"] + m["width"] for m in each)
        bottom = max(m["top"] + m["height"] for m in each)
        return [{"left": left, "top": top, "width": right - left, "height": bottom - top}, *each]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a connection to a compositor gone fails, too
            self.display.disconnect()


class WlrootsGrabber:
    """The wlroots backend: one connection and at most one frame in flight, opened by the first
    grab (again after a loss), closed after any error."""

    def __init__(self) -> None:
        self._connection: _Connection | None = None
        self._frame: _Frame | None = None
        self._last: Grab | None = None
        self._memory: tuple[int, mmap.mmap, Any, Any, tuple[int, int, int, int]] | None = None

    def open(self) -> None:
        """Connects to the compositor; raises ScreenError saying why not."""
        if self._connection is not None:
            return
        socket = wayland_display()
        if socket is None:
            raise ScreenError("WAYLAND_DISPLAY is not set: start Framecast inside the session")
        self._connection = _Connection(socket)

    def grab(self, settings: ScreenSettings) -> Grab:
        """The area's newest frame, or news that none came since the last (`drawn` False);
        raises ScreenError."""
        self.open()
        assert self._connection is not None
        try:
            self._check_outputs()
            area = self._area(settings)
            frame = self._frame
            if frame is not None and frame.area.box != area.box:
                self._drop_frame()
                frame, self._last = None, None
            if frame is None:
                frame = self._capture(area)
            self._pump(0.0)
            if self._last is None:
                deadline = time.monotonic() + FIRST_FRAME_SECONDS
                while not (frame.ready or frame.failed) and time.monotonic() < deadline:
                    self._pump(deadline - time.monotonic())
                    self._check_outputs()
            if frame.failed:
                self._drop_frame()
                raise ScreenError(
                    frame.problem
                    or f"The compositor could not copy monitor {area.label} (a failed frame): "
                    "trying again"
                )
            if not frame.ready:
                if self._last is None:
                    raise ScreenError(
                        f"The compositor sent no frame of monitor {area.label} within "
                        f"{FIRST_FRAME_SECONDS:.0f} s: trying again"
                    )
                return replace(self._last, label=area.label, drawn=False)
            grab = self._take(frame)
            self._capture(area)
            self._connection.display.flush()
            return grab
        except ScreenError:
            raise
        except Exception as error:
            self._lost(error)

    def wait_drawn(self, timeout: float, wake: int) -> bool:
        """Sleeps until the frame in flight is ready (something was drawn: True), or `wake` is
        readable or `timeout` s have passed (False)."""
        frame, connection = self._frame, self._connection
        if frame is None or connection is None:
            select.select([wake], [], [], max(0.0, timeout))
            return False
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while not (frame.ready or frame.failed):
                connection.display.dispatch(block=False)
                connection.display.flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                fd = connection.display.get_fd()
                readable, _, _ = select.select([wake, fd], [], [], left)
                if wake in readable:
                    return False
                if fd in readable:
                    connection.display.read()
                    connection.display.dispatch(block=False)
                if connection.unplugged:
                    return True
        except Exception:  # the compositor went away: the next grab says so
            return True
        return True

    def _area(self, settings: ScreenSettings) -> Area:
        assert self._connection is not None
        if settings.monitor == 0:
            raise ScreenError(
                "[screen] monitor = 0 (all monitors at once) cannot be captured on Wayland: "
                "choose one monitor, by number from 1 or by name"
            )
        return area_of(self._connection.monitors(), settings)

    def _check_outputs(self) -> None:
        assert self._connection is not None
        if self._connection.unplugged:
            names = ", ".join(self._connection.unplugged)
            self._connection.unplugged.clear()
            self._drop_frame()
            self._last = None
            raise ScreenError(f"Monitor {names} was unplugged: showing another when asked")

    def _capture(self, area: Area) -> _Frame:
        """Asks for the next frame of `area`; copied once the compositor says which buffer."""
        assert self._connection is not None
        connection = self._connection
        number = next(
            i
            for i, m in enumerate(connection.monitors())
            if i > 0
            and m["left"] <= area.box["left"]
            and m["top"] <= area.box["top"]
            and area.box["left"] + area.box["width"] <= m["left"] + m["width"]
            and area.box["top"] + area.box["height"] <= m["top"] + m["height"]
        )
        output = connection.outputs[number - 1]
        left, top = area.box["left"] - output.left, area.box["top"] - output.top
        proxy = connection.manager.capture_output_region(
            0, output.proxy, left, top, area.box["width"], area.box["height"]
        )
        frame = _Frame(proxy, area)

        def buffer(_: Any, fmt: int, width: int, height: int, stride: int) -> None:
            frame.formats.append(fmt)
            if fmt in SHM_FORMATS and frame.buffer is None:
                frame.buffer = (fmt, width, height, stride)
            if connection.version < 3:
                self._copy(frame)

        def flags(_: Any, value: int) -> None:
            frame.y_invert = bool(value & 1)

        def ready(_: Any, *__: int) -> None:
            frame.ready = True

        def failed(_: Any) -> None:
            frame.failed = True

        proxy.dispatcher["buffer"] = buffer
        proxy.dispatcher["buffer_done"] = lambda _: self._copy(frame)
        proxy.dispatcher["flags"] = flags
        proxy.dispatcher["ready"] = ready
        proxy.dispatcher["failed"] = failed
        self._frame = frame
        return frame

    def _copy(self, frame: _Frame) -> None:
        """Hands the compositor a shared-memory buffer for `frame`, to fill once drawn."""
        if frame.copying or frame.failed:
            return
        if frame.buffer is None:
            offered = ", ".join(str(f) for f in frame.formats) or "none"
            frame.failed = True
            frame.problem = (
                "The compositor offers no 32-bit XRGB8888 or ARGB8888 shared-memory buffer "
                f"(wl_shm formats {offered}): this backend cannot capture it"
            )
            return
        frame.copying = True
        frame.proxy.copy_with_damage(self._buffer(frame.buffer))

    def _buffer(self, shape: tuple[int, int, int, int]) -> Any:
        """A wl_buffer in a memfd of `shape` (format, width, height, stride), kept while the
        shape holds."""
        assert self._connection is not None
        if self._memory is not None and self._memory[4] == shape:
            return self._memory[3]
        self._free()
        fmt, width, height, stride = shape
        size = stride * height
        fd = os.memfd_create("framecast-screencopy", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        memory = mmap.mmap(fd, size)
        pool = self._connection.shm.create_pool(fd, size)
        buffer = pool.create_buffer(0, width, height, stride, fmt)
        self._memory = (fd, memory, pool, buffer, shape)
        return buffer

    def _take(self, frame: _Frame) -> Grab:
        """The pixels of a ready frame, as a new BGRX bytearray (the feed keeps it)."""
        assert self._memory is not None
        assert frame.buffer is not None
        self._frame = None
        with contextlib.suppress(Exception):
            frame.proxy.destroy()
        _, width, height, stride = frame.buffer
        memory = self._memory[1]
        row = width * 4
        if stride == row and not frame.y_invert:
            pixels = bytearray(memory[: row * height])
        else:
            rows = range(height - 1, -1, -1) if frame.y_invert else range(height)
            pixels = bytearray(b"".join(memory[y * stride : y * stride + row] for y in rows))
        grab = Grab(pixels, width, height, frame.area.label, drawn=True)
        self._last = grab
        return grab

    def _pump(self, timeout: float) -> None:
        """Sends what is asked and handles what the compositor said, waiting up to `timeout` s
        for it to say something."""
        assert self._connection is not None
        display = self._connection.display
        display.dispatch(block=False)
        display.flush()
        readable, _, _ = select.select([display.get_fd()], [], [], max(0.0, timeout))
        if readable:
            display.read()
            display.dispatch(block=False)

    def _drop_frame(self) -> None:
        if self._frame is not None:
            with contextlib.suppress(Exception):
                self._frame.proxy.destroy()
            self._frame = None

    def _free(self) -> None:
        if self._memory is not None:
            fd, memory, pool, buffer, _ = self._memory
            with contextlib.suppress(Exception):
                buffer.destroy()
                pool.destroy()
            memory.close()
            os.close(fd)
            self._memory = None

    def _lost(self, error: Exception) -> NoReturn:
        socket = self._connection.socket if self._connection is not None else "?"
        self.close()
        raise ScreenError(
            f"Lost the Wayland compositor at {socket} ({error}): waiting for it to come back"
        ) from None

    def close(self) -> None:
        self._drop_frame()
        self._free()
        self._last = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
