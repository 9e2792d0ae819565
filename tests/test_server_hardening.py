"""Issue 11 on the server: safe log lines, SIGHUP, a read deadline for every connection, an idle
pool that shrinks back, and a word about root. Real server processes where bytes matter."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from support import GREEN, Server, StreamReader, config_text, solid, wait_for

from framecast.logtext import printable
from framecast.service.http_server import without_secrets
from framecast.service.pool import HandlerPool

TOKEN = "s3cret-token-42"


def test_printable_escapes_control_characters_and_cuts_long_text() -> None:
    assert printable("plain text, ünïcödé") == "plain text, ünïcödé"
    assert (
        printable("a\x1b[31mred\nnext\tline\x00\u2028") == "a\\x1b[31mred\\nnext\\tline\\x00\\u2028"
    )
    assert printable("x" * 250) == "x" * 200 + "…(50 more)"
    assert printable("ab\x1bcd", limit=3) == "ab…(3 more)", "an escape is never cut in half"
    assert printable("") == ""


def test_secrets_are_hidden_from_log_text() -> None:
    line = f"Bad request syntax ('GET /?x=1&token={TOKEN}&y=2 HTTP/1.1 x')"
    hidden = without_secrets(line, TOKEN)
    assert TOKEN not in hidden
    assert "token=(hidden)&y=2" in hidden
    assert without_secrets("GET /?TOKEN=guess HTTP", None) == "GET /?TOKEN=(hidden) HTTP"
    assert (
        without_secrets("Authorization: Bearer abc.def", None) == "Authorization: Bearer (hidden)"
    )
    assert TOKEN not in without_secrets(f"/x/{TOKEN}/y", TOKEN)
    assert "s3cret" not in without_secrets("/?t=s3cret%2Btoken", "s3cret+token")


def server_text(**server: object) -> str:
    """The default test config with extra [server] keys."""
    keys = "".join(f"\n{key} = {value}" for key, value in server.items())
    return config_text(keepalive=1).replace('host = "127.0.0.1"', 'host = "127.0.0.1"' + keys)


def send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def test_a_malformed_request_is_logged_once_short_escaped_and_without_the_token(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(text=server_text(token=f'"{TOKEN}"'))
    stream = StreamReader(server.port, f"/stream?token={TOKEN}")
    stream.wait_colour(GREEN)
    line = b"GET /stream?token=" + TOKEN.encode() + b"&x=\x1b[2J" + b"A" * 5000 + b" junk HTTP/1.1"
    for _ in range(3):
        assert send_raw(server.port, line + b"\r\nHost: 127.0.0.1\r\n\r\n").startswith(
            b"HTTP/1.0 400"
        )
    wait_for(lambda: "Refused a request from 127.0.0.1" in server.log(), what="the log line")
    assert send_raw(server.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
    log = server.log()
    refused = [entry for entry in log.splitlines() if "Refused a request" in entry]
    assert len(refused) == 1, "once per address per minute"
    assert TOKEN not in log
    assert "token=(hidden)" in refused[0]
    assert "\x1b" not in log
    assert "\\x1b[2J" in refused[0]
    assert len(refused[0]) < 400
    assert "more)" in refused[0]
    assert "Traceback" not in log
    received = stream.count()
    wait_for(lambda: stream.count() > received, 30, what="the stream to go on")
    assert server.process.poll() is None


def test_sighup_reloads_the_config_and_the_server_goes_on(
    images: Path, tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    """The edit is made through a hard link in another folder and keeps the file's size and
    mtime, so the watcher cannot see it: only SIGHUP can apply it."""
    solid(images / "a.png", GREEN)
    server = start_server(text=server_text(max_clients=500))
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    other = tmp_path / "elsewhere"
    other.mkdir()
    link = other / "config.toml"
    os.link(server.config, link)
    before = link.stat()
    text = link.read_text()
    edited = text.replace("max_clients = 500", "max_clients = 499")
    assert len(edited) == len(text)
    assert edited != text
    with link.open("r+") as file:
        file.write(edited)
    os.utime(link, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert server.status()["max_clients"] == 500
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: server.status()["max_clients"] == 499, what="the reloaded config")
    assert "Reloading the config (SIGHUP)" in server.log()
    received = stream.count()
    wait_for(lambda: stream.count() > received, 30, what="the stream to go on")
    assert server.process.poll() is None
    assert server.stop() == 0


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock`; waits a moment for it."""
    try:
        while sock.recv(65536):
            continue
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_a_body_shorter_than_announced_is_dropped_after_client_timeout(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(text=server_text(client_timeout=2))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/pause HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Framecast: 1\r\n"
            b"Content-Length: 10\r\n\r\nx"
        )
        sock.settimeout(0.2)
        wait_for(lambda: closed_by_server(sock), 30, what="the server to hang up")
    assert server.get("/healthz") == (200, b"ok")
    assert server.process.poll() is None


def test_threads_beyond_the_started_ones_end_when_idle_and_the_rest_serve_on() -> None:
    before = threading.active_count()
    pool = HandlerPool(idle_seconds=0.5)
    pool.start(2)
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()

    def long_job() -> None:
        with lock:
            running.append(threading.current_thread().name)
        release.wait(10)

    try:
        for _ in range(6):
            pool.submit(long_job)
        wait_for(lambda: len(running) == 6, 5, what="six jobs running at once")
        assert pool.threads == 6
        release.set()
        wait_for(lambda: pool.threads == 2, 10, what="the pool back to the two it keeps")
        assert pool.idle == 2
        assert threading.active_count() == before + 2
        names: list[str] = []
        for _ in range(5):
            done = threading.Event()

            def job(done: threading.Event = done) -> None:
                names.append(threading.current_thread().name)
                done.set()

            pool.submit(job)
            assert done.wait(5)
            wait_for(lambda: pool.idle == 2, 5, what="the thread free again")
        assert len(set(names)) == 1, "the warm thread serves one connection after another"
    finally:
        release.set()
        pool.stop(5)
    assert threading.active_count() == before


def test_the_start_warns_exactly_when_running_as_root(start_server: Callable[..., Server]) -> None:
    server = start_server()
    lines = [entry for entry in server.log().splitlines() if "Running as root" in entry]
    assert len(lines) == (1 if os.geteuid() == 0 else 0)
    if lines:
        assert "WARNING" in lines[0]
        assert "sudo -u" in lines[0]
