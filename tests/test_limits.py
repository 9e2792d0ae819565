"""Many screens on one server: limits, slow and vanished clients, tokens, hostile requests."""

from __future__ import annotations

import http.client
import signal
import socket
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from support import (
    GREEN,
    RED,
    Server,
    StreamReader,
    config_text,
    in_network_namespace,
    solid,
    wait_for,
    write_config,
)

TOKEN = "s3cret-token-42"


def raw_request(port: int, data: bytes, timeout: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            if b"\r\n\r\n" in reply and not reply.startswith(b"HTTP/1.0 200"):
                break
        return reply


def test_streams_past_max_clients_get_503_with_retry_after(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(text=config_text() + "")
    write_config(
        server.config,
        config_text().replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nmax_clients = 2'),
    )
    wait_for(lambda: server.status()["max_clients"] == 2, what="the new limit")
    first, second = StreamReader(server.port), StreamReader(server.port)
    first.wait_colour(GREEN)
    second.wait_colour(GREEN)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/stream")
    refused = connection.getresponse()
    assert refused.status == 503
    assert refused.getheader("Retry-After") == "10"
    connection.close()
    started = time.monotonic()
    assert server.get("/status")[0] == 200
    assert server.get("/snapshot.jpg")[0] == 200
    assert server.get("/")[0] == 200
    assert time.monotonic() - started < 1
    assert "max_clients" in server.log()
    first.close()
    wait_for(lambda: server.status()["clients"] == 1, what="a place to free up")
    third = StreamReader(server.port)
    third.wait_colour(GREEN)


def test_a_client_that_stops_reading_is_dropped_after_client_timeout(
    images: Path, start_server: Callable[..., Server]
) -> None:
    Image.effect_noise((1280, 720), 80).convert("RGB").save(images / "a.jpg", quality=95)
    Image.effect_noise((1280, 720), 90).convert("RGB").save(images / "b.jpg", quality=95)
    text = config_text(width=1280, height=720, interval=0.1).replace(
        'host = "127.0.0.1"', 'host = "127.0.0.1"\nclient_timeout = 2'
    )
    server = start_server(text=text)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    healthy = StreamReader(server.port)
    wait_for(lambda: server.status()["clients"] == 2, what="two clients")
    received = healthy.count()
    wait_for(lambda: server.status()["clients"] == 1, timeout=10, what="the stuck client dropped")
    assert healthy.count() > received, "the healthy client kept receiving"
    stuck.close()


def test_a_token_guards_everything_but_health(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", RED)
    text = config_text().replace('host = "127.0.0.1"', f'host = "127.0.0.1"\ntoken = "{TOKEN}"')
    server = start_server(text=text)
    for path in ("/", "/stream", "/snapshot.jpg", "/status"):
        code, body = server.get(path)
        assert code == 401, path
        assert TOKEN.encode() not in body
        assert server.get(path + "?token=wrong-token")[0] == 401
    assert server.get("/healthz") == (200, b"ok")
    assert server.get("/player.js")[0] == 200
    assert server.get(f"/status?token={TOKEN}")[0] == 200
    assert server.get(f"/snapshot.jpg?token={TOKEN}")[0] == 200
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert connection.getresponse().status == 200
    connection.close()
    stream = StreamReader(server.port, f"/stream?token={TOKEN}")
    stream.wait_colour(RED)
    log = server.log()
    assert log.count("missing or wrong token") == 1, "logged once per address per minute"
    assert TOKEN not in log


def test_responses_name_no_version_and_the_page_sets_a_strict_csp(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.getheader("Server") == "Framecast"
    policy = response.getheader("Content-Security-Policy") or ""
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    connection.close()


def test_hostile_requests_are_refused_and_streaming_goes_on(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server(keepalive=1)
    stream = StreamReader(server.port)
    stream.wait_colour(GREEN)
    assert server.get("/../../etc/passwd")[0] == 404
    code, body = server.get("/images/../config.toml")
    assert code == 404
    assert b"[slideshow]" not in body
    assert raw_request(
        server.port, b"GET /%2e%2e/config.toml HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    ).startswith(b"HTTP/1.0 404")
    huge = b"GET /status?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert raw_request(server.port, huge).split(b" ")[1] in (b"414", b"400")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("POST", "/stream", body=b"x")
    assert connection.getresponse().status == 405
    connection.close()

    codes: list[int] = []

    def flood() -> None:
        for n in range(60):
            codes.append(server.get("/" if n % 2 else "/snapshot.jpg")[0])

    threads = [threading.Thread(target=flood) for _ in range(8)]
    received = stream.count()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 480
    wait_for(lambda: stream.count() > received + 1, what="the stream to go on")
    assert server.process.poll() is None


def test_a_slowloris_is_hung_up_on(start_server: Callable[..., Server]) -> None:
    server = start_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /status HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        for byte in b"Host: a-very-slow-client.example\r\n" * 4:
            try:
                sock.sendall(bytes([byte]))
                sock.settimeout(1.0)
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed, "the server kept waiting for the request head"
        assert time.monotonic() - started < 15
    assert server.get("/healthz") == (200, b"ok")


def test_hundreds_of_streams_end_cleanly_on_sigterm(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server()
    sockets = []
    for _ in range(200):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sockets.append(sock)
    wait_for(lambda: server.status()["clients"] == 200, timeout=20, what="200 streams")
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(5) == 0
    assert time.monotonic() - started < 2.0
    for sock in sockets:
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.0 200"), "each stream was served"
        assert data.endswith(b"Content-Type: image/jpeg\r\n\r\n"), "and ended after a whole part"
        sock.close()


def test_a_second_ctrl_c_exits_at_once(images: Path, start_server: Callable[..., Server]) -> None:
    solid(images / "a.png", GREEN)
    server = start_server()
    StreamReader(server.port).wait_colour(GREEN)
    # Two pending SIGINTs merge into one, so the second signal here is a SIGTERM; the server
    # treats any signal that arrives while it is stopping the same way. The server is held
    # still while both are sent: otherwise it may have stopped before the second one arrives.
    server.process.send_signal(signal.SIGSTOP)
    server.process.send_signal(signal.SIGINT)
    server.process.send_signal(signal.SIGTERM)
    server.process.send_signal(signal.SIGCONT)
    assert server.process.wait(5) == 128 + signal.SIGTERM


CAPPED = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from support import GREEN, Server, StreamReader, wait_for

    server = Server(Path({config!r}), host="0.0.0.0").wait_ready(20)
    tv = [StreamReader(server.port, source="10.9.0.2", host="10.9.0.1") for _ in range(10)]
    wait_for(lambda: sum(not r.closed.is_set() for r in tv) == 3, 10, what="3 left")
    ended = [r.closed.is_set() for r in tv]
    other = StreamReader(server.port, source="10.9.0.3", host="10.9.0.1")
    local = [StreamReader(server.port) for _ in range(5)]
    wait_for(lambda: server.status()["clients"] == 9, 10, what="9 streams")
    tv[-1].wait_colour(GREEN)
    other.wait_colour(GREEN)
    seen = {{
        "ended": ended,
        "other": not other.closed.is_set(),
        "local": [not r.closed.is_set() for r in local],
        "log": server.log(),
    }}
    for reader in [*tv, other, *local]:
        reader.close()
    server.stop()
    print(json.dumps(seen))
    """
)


@pytest.mark.live
def test_one_address_holds_a_few_streams_and_a_new_one_ends_its_oldest(
    images: Path, tmp_path: Path
) -> None:
    """In a network namespace whose `lo` also has three addresses outside 127/8: one TV
    (10.9.0.2) in a reload loop, another TV, and local clients, which are never capped."""
    solid(images / "a.png", GREEN)
    config = tmp_path / "config.toml"
    config.write_text(
        config_text().replace("[server]\n", "[server]\nmax_streams_per_address = 3\n")
    )
    addresses = " && ".join(f"ip addr add 10.9.0.{n}/32 dev lo" for n in (1, 2, 3))
    script = CAPPED.format(tests=str(Path(__file__).parent), config=str(config))
    seen = in_network_namespace(f"ip link set lo up && {addresses}", script)
    assert seen["ended"] == [True] * 7 + [False] * 3, "the oldest streams of the TV ended"
    assert seen["other"], "another TV keeps its stream"
    assert seen["local"] == [True] * 5, "loopback clients are not capped"
    assert "max_streams_per_address = 3" in seen["log"]


def test_a_browser_that_sends_no_accept_header_gets_the_page_and_the_stream(
    images: Path, start_server: Callable[..., Server]
) -> None:
    solid(images / "a.png", GREEN)
    server = start_server()
    for path, kind in (("/", b"text/html"), ("/stream", b"multipart/x-mixed-replace")):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            answer = b""
            while b"\xff\xd9" not in answer and b"</html>" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0]
        assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"), head
        assert kind in head
    assert b"\xff\xd8" in answer, "a JPEG came on the stream"
