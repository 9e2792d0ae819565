"""Real parts for tests: a server process on a loopback port, a raw /stream reader, pixels, a
small config, and skips for tools a developer's machine may lack."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

RED = (220, 30, 30)
GREEN = (30, 200, 60)
BLUE = (30, 60, 220)
YELLOW = (230, 210, 40)

CONFIG = """
[server]
host = "127.0.0.1"

[stream]
source = "{source}"
width = {width}
height = {height}
quality = 85
keepalive = {keepalive}

[slideshow]
folder = "images"
interval = {interval}
order = "{order}"
fit = "{fit}"
background = "{background}"
transition = "{transition}"
"""


def config_text(
    *,
    width: int = 320,
    height: int = 180,
    interval: float = 30,
    order: str = "name",
    fit: str = "contain",
    background: str = "#000000",
    keepalive: float = 20,
    source: str = "slideshow",
    transition: str = "none",
    extra: str = "",
) -> str:
    """A small valid config; tests change one key at a time."""
    return (
        CONFIG.format(
            width=width,
            height=height,
            interval=interval,
            order=order,
            fit=fit,
            background=background,
            keepalive=keepalive,
            source=source,
            transition=transition,
        )
        + extra
    )


TEST_BROWSER_MARK = "--class=framecast-tests"
"""Marks the tests' own Chromium (a harmless switch), so a test can tell it from the server's."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    TEST_BROWSER_MARK,
]


def wait_for(
    condition: Callable[[], T], timeout: float = 5.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def names(playlist: Any) -> list[str]:
    """Every slide's name in the playlist, sorted."""
    found, current = [], None
    for _ in range(playlist.count):
        current = playlist.advance(current)
        assert current is not None
        found.append(current.name)
    return sorted(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def solid(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> Path:
    """Write a one-colour image; the format follows the file's extension."""
    image = Image.new("RGB", size, colour)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower())
    image.save(path, fmt) if fmt else image.save(path)
    return path


def _png(path: Path, header: bytes, rows: bytes) -> Path:
    """A PNG file of an IHDR `header` and compressed `rows`."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
    return path


def bomb_png(path: Path, side: int = 30000) -> Path:
    """A real PNG header claiming side×side pixels: 900 megapixels if it were decoded."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return _png(path, header, zlib.compress(b"\0" * (1 + side // 8) * 16))


PNG_COLOUR_TYPES = {"L": (0, 1), "LA": (4, 2), "RGB": (2, 3), "RGBA": (6, 4)}
"""The PNG colour type of each mode and its channels."""


def plain_png(path: Path, size: tuple[int, int], mode: str = "L", level: int = 128) -> Path:
    """A whole 8-bit PNG with every channel at one level, written without holding its pixels:
    even 1×49,000,000 pixels is a small file made in a moment."""
    width, height = size
    colour_type, channels = PNG_COLOUR_TYPES[mode]
    row = b"\0" + bytes([level]) * (width * channels)
    rows_per_piece = max(1, 1_000_000 // len(row))
    packer = zlib.compressobj(9)
    pieces = [
        packer.compress(row * min(rows_per_piece, height - top))
        for top in range(0, height, rows_per_piece)
    ]
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return _png(path, header, b"".join(pieces) + packer.flush())


def drop_atomically(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """Write an image under a temporary name, then rename it in, as careful copiers do."""
    temporary = folder / f".{name}.part"
    solid(temporary.with_suffix(Path(name).suffix), colour)
    target = folder / name
    os.replace(temporary.with_suffix(Path(name).suffix), target)
    return target


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def centre(jpeg: bytes) -> tuple[int, ...]:
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    return tuple(image.getpixel((image.width // 2, image.height // 2)))  # type: ignore[arg-type]


def write_config(path: Path, text: str) -> None:
    """Replace the config the way editors save: a new file renamed over the old one."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)


class Server:
    """`python slideshow.py` in a subprocess on a free loopback port, log kept in a file."""

    def __init__(
        self,
        config: Path,
        port: int | None = None,
        wrapper: list[str] | None = None,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ):
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = config.with_name(f"server-{self.port}.log")
        self._log = self.log_path.open("ab")
        command = [sys.executable, str(ROOT / "slideshow.py"), "--config", str(config)]
        command += ["--host", host, "--port", str(self.port)]
        self.process = subprocess.Popen(
            (wrapper or []) + command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )

    def wait_ready(self, timeout: float = 10.0) -> Server:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.log()}")
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout, what="the server to answer /healthz")
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200
        return dict(json.loads(body))

    def snapshot_centre(self) -> tuple[int, ...] | None:
        code, body = self.get("/snapshot.jpg")
        return centre(body) if code == 200 else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class StreamReader:
    """A real HTTP client on /stream that splits the multipart body into JPEG frames.

    A part is complete when the next part's headers arrive, as browsers see it. Reads on its own
    thread; `frames` holds (arrival time, jpeg bytes).
    """

    def __init__(
        self, port: int, path: str = "/stream", source: str = "127.0.0.1", host: str = "127.0.0.1"
    ) -> None:
        self.connection = http.client.HTTPConnection(
            host, port, timeout=30, source_address=(source, 0)
        )
        self.connection.request("GET", path)
        self._socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.headers = dict(self.response.getheaders())
        self.frames: list[tuple[float, bytes]] = []
        self.received = 0
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        separator = b"\r\n--frame\r\n"
        buffer = b""
        try:
            while True:
                chunk = self.response.read1(65536)
                if not chunk:
                    break
                buffer += chunk
                self.received += len(chunk)
                while True:
                    start = buffer.find(b"\r\n\r\n")
                    end = buffer.find(separator, start + 4) if start >= 0 else -1
                    if end < 0:
                        break
                    jpeg = buffer[start + 4 : end]
                    with self._lock:
                        self.frames.append((time.monotonic(), jpeg))
                    buffer = buffer[end + 2 :]
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self.closed.set()

    def count(self) -> int:
        with self._lock:
            return len(self.frames)

    def latest(self) -> bytes | None:
        with self._lock:
            return self.frames[-1][1] if self.frames else None

    def latest_centre(self) -> tuple[int, ...] | None:
        jpeg = self.latest()
        return centre(jpeg) if jpeg else None

    def wait_colour(self, colour: tuple[int, int, int], timeout: float = 5.0) -> None:
        wait_for(
            lambda: (c := self.latest_centre()) is not None and close_to(c, colour),
            timeout,
            what=f"a frame of colour {colour} (latest {self.latest_centre()})",
        )

    def close(self) -> None:
        """Hang up as a TV does when it is switched off."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self.connection.close()
        self.closed.wait(5)


class VirtualDisplay:
    """A real X server (Xvfb) on a free display number, painted with xsetroot."""

    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        number: int | None = None,
        without: tuple[str, ...] = (),
    ) -> None:
        """`without` names X extensions to switch off, as some X servers lack them."""
        self.number = number if number is not None else free_display_number()
        self.name = f":{self.number}"
        self.size = (width, height)
        self.without = without
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> VirtualDisplay:
        width, height = self.size
        self.process = subprocess.Popen(
            [
                "Xvfb",
                self.name,
                "-screen",
                "0",
                f"{width}x{height}x24",
                "-noreset",
                "-nolisten",
                "tcp",
                *(arg for name in self.without for arg in ("-extension", name)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(
            lambda: (
                Path(f"/tmp/.X11-unix/X{self.number}").exists()
                and self.xsetroot("-solid", "#000000") == 0
            ),
            timeout=10,
            what=f"Xvfb {self.name}",
        )
        return self

    def xsetroot(self, *args: str) -> int:
        return subprocess.run(
            ["xsetroot", "-display", self.name, *args], capture_output=True, timeout=10
        ).returncode

    def paint(self, colour: tuple[int, int, int]) -> None:
        assert self.xsetroot("-solid", hex_colour(colour)) == 0

    def paint_halves(self, left: tuple[int, int, int], right: tuple[int, int, int]) -> None:
        """Left half one colour, right half another, with a one-bit bitmap as big as the screen."""
        width, height = self.size
        row = bytes(0xFF if 8 * i < width // 2 else 0 for i in range((width + 7) // 8))
        bitmap = self.path_for("halves.xbm")
        data = row * height
        lines = [
            ", ".join(f"0x{b:02x}" for b in data[start : start + 12])
            for start in range(0, len(data), 12)
        ]
        bitmap.write_text(
            f"#define h_width {width}\n#define h_height {height}\n"
            "static unsigned char h_bits[] = {\n" + ",\n".join(lines) + " };\n"
        )
        code = self.xsetroot(
            "-bitmap", str(bitmap), "-fg", hex_colour(left), "-bg", hex_colour(right)
        )
        assert code == 0

    def path_for(self, name: str) -> Path:
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"framecast-x{self.number}"
        folder.mkdir(exist_ok=True)
        return folder / name

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def crash(self) -> None:
        """Kill the X server without letting it clean up, as a crash would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None
        for leftover in (
            Path(f"/tmp/.X11-unix/X{self.number}"),
            Path(f"/tmp/.X{self.number}-lock"),
        ):
            leftover.unlink(missing_ok=True)


SWAY_USER = "framecast-test"
"""The unprivileged user that runs sway when the tests run as root (sway refuses root)."""


class HeadlessSway:
    """A real wlroots compositor: sway with the headless backend and the pixman renderer, one
    640×360 output HEADLESS-1, run by an unprivileged user (created when missing) with its own
    XDG_RUNTIME_DIR (mode 700). A process of root reaches it by the socket's absolute path."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.runtime = Path(tempfile.mkdtemp(prefix="framecast-sway-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if subprocess.run(["id", "-u", SWAY_USER], capture_output=True).returncode != 0:
                nologin = ["--shell", "/usr/sbin/nologin"]
                useradd = ["useradd", "--system", "--no-create-home", *nologin, SWAY_USER]
                subprocess.run(useradd, check=True)
            shutil.chown(self.runtime, SWAY_USER, SWAY_USER)
            self.as_user = ["setpriv", "--reuid", SWAY_USER, "--regid", SWAY_USER]
            self.as_user += ["--clear-groups", "--"]
        self.runtime.chmod(0o700)
        self.config = self.runtime / "config"  # where the user can read it
        self.config.write_text("output HEADLESS-1 resolution 640x360\n")
        self.config.chmod(0o644)

    @property
    def socket(self) -> str:
        """The absolute path of the Wayland socket (WAYLAND_DISPLAY for a client)."""
        return str(self.runtime / "wayland-1")

    @property
    def swaysock(self) -> str:
        return str(next(self.runtime.glob("sway-ipc.*.sock")))

    def start(self) -> HeadlessSway:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.runtime),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "WLR_BACKENDS": "headless",
            "WLR_RENDERER": "pixman",
            "WLR_LIBINPUT_NO_DEVICES": "1",
        }
        with (self.work / "sway.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*self.as_user, "sway", "--config", str(self.config)],
                env=env,
                cwd="/",
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for(
            lambda: (
                Path(self.socket).exists()
                and any(self.runtime.glob("sway-ipc.*.sock"))
                and self.swaymsg("-t", "get_outputs").returncode == 0
            ),
            timeout=15,
            what="sway",
        )
        return self

    def swaymsg(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["swaymsg", "-s", self.swaysock, *args], capture_output=True, timeout=10
        )

    def paint(self, colour: tuple[int, int, int], output: str = "HEADLESS-1") -> None:
        """A solid background (drawn by swaybg, a client of sway, a moment later)."""
        run = self.swaymsg("output", output, "bg", hex_colour(colour), "solid_color")
        assert run.returncode == 0, run.stdout + run.stderr

    def reference(self, output: str = "HEADLESS-1") -> Image.Image:
        """The output as grim sees it."""
        env = environment(WAYLAND_DISPLAY=self.socket)
        run = subprocess.run(
            ["grim", "-t", "ppm", "-o", output, "-"], env=env, capture_output=True, timeout=10
        )
        assert run.returncode == 0, run.stderr
        return Image.open(io.BytesIO(run.stdout)).convert("RGB")

    def end(self) -> None:
        """Stops sway (the compositor exiting), keeping its folder for a start again."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            wait_for(lambda: not Path(self.socket).exists(), what="sway's socket gone")

    def stop(self) -> None:
        self.end()
        shutil.rmtree(self.runtime, ignore_errors=True)


def hex_colour(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def free_display_number() -> int:
    for number in range(90 + os.getpid() % 100, 400):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number")


class OneChannel:
    """The web layer's directory of channels with one hub, the default channel: for Flask
    test-client tests of one show."""

    def __init__(self, hub: Any, control: Callable[[str], None] = lambda action: None) -> None:
        self._hub = hub
        self._control = control

    def names(self) -> list[str]:
        return ["default"]

    def hub(self, name: str) -> Any:
        return self._hub if name == "default" else None

    def watch(self, name: str) -> Any:
        return self._hub

    def channel_of(self, tv: str) -> str:
        return "default"

    def assigned(self, tv: str) -> bool:
        return False

    def clients(self) -> int:
        return int(self._hub.clients)

    def command(self, name: str, action: str) -> None:
        self._control(action)


def in_network_namespace(setup: str, script: str) -> dict[str, Any]:
    """Run the Python `script` in a new network namespace (`unshare -n`) after the shell
    commands `setup`; the JSON object its last output line holds. Nothing it sends leaves the
    namespace."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("a network namespace needs root and unshare (util-linux) in CI")
        pytest.skip("needs root and unshare to make a network namespace")
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'{setup} && exec "$0" -c "$1"', sys.executable, script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def need_tool(name: str, package: str) -> None:
    """Skip where a tool is missing on a developer's machine; in CI that is a failure."""
    if shutil.which(name) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: the test command installs {package}")
        pytest.skip(f"{name} is not installed (apt-get install {package})")


def need_pixman() -> None:
    """Skip where libpixman-1 is missing on a developer's machine; in CI that is a failure."""
    from framecast.render import pixman

    if not pixman.available:
        if os.environ.get("CI"):
            pytest.fail("libpixman-1 is missing: the test command installs xvfb, which needs it")
        pytest.skip("libpixman-1 is not installed (apt-get install libpixman-1-0)")


def environment(**changes: str | None) -> dict[str, str]:
    """This process's environment with some variables set or (None) removed."""
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
