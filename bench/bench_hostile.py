"""Hostile-client figures (issue 25): what a huge request body costs the server, and how many
admin tokens a guesser gets looked at. A real server on a loopback port; prints markdown tables.
Run from the repository root:

    .venv/bin/python bench/bench_hostile.py
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

from bench_core import table
from harness import RED, Server, config_text, solid

ADMIN = "the-admin-token-of-this-bench"
CHUNK = 1 << 20


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of a process, in KB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def huge_body(port: int, path: str, megabytes: int) -> tuple[str, float, int]:
    """POST a body announced as `megabytes` MB of JSON to `path`, sending its first MB: the
    answer's status line, how soon it came, and how many MB of the rest the server then read
    (Werkzeug reads and discards what is left of a body it did not take, in 10 MB reads)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        began = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {megabytes * CHUNK}\r\n\r\n".encode()
        )
        chunk = b" " * CHUNK
        sock.sendall(chunk)
        answer = sock.recv(4096).split(b"\r\n", 1)[0].decode() or "(closed)"
        answered = time.monotonic() - began
        sent = 1
        try:
            for _ in range(megabytes - 1):
                sock.sendall(chunk)
                sent += 1
        except OSError:
            pass
    return answer, answered, sent - 1


def guesses(port: int, seconds: float, workers: int, cookie: bool, source: str) -> dict[str, int]:
    """Wrong admin tokens (or session cookies) from the address `source` as fast as `workers`
    connections send them:
    how many were answered at once with 401 (looked at), after the lockout's wait (looked at,
    one at a time), or at once with 429 (not looked at)."""
    counts = {"401": 0, "429 after the wait": 0, "429 at once": 0, "other": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def guess() -> None:
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=10, source_address=(source, 0)
            )
            began = time.monotonic()
            if cookie:
                headers = {"Cookie": f"framecast_admin={secrets.token_urlsafe(32)}"}
                connection.request("GET", "/api/admin/channels", headers=headers)
            else:
                body = f'{{"token": "{secrets.token_hex(12)}"}}'
                headers = {"Content-Type": "application/json"}
                connection.request("POST", "/api/admin/login", body, headers)
            status = connection.getresponse().status
            took = time.monotonic() - began
            connection.close()
            kind = (
                "401"
                if status == 401
                else ("429 after the wait" if took >= 0.9 else "429 at once")
                if status == 429
                else "other"
            )
            with lock:
                counts[kind] += 1

    threads = [threading.Thread(target=guess) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=1024, help="the huge body's size")
    parser.add_argument("--seconds", type=float, default=60.0, help="of guessing, each way")
    parser.add_argument("--workers", type=int, default=4, help="guessing connections at once")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    (folder / "images").mkdir()
    solid(folder / "images" / "a.png", RED)
    config = folder / "config.toml"
    config.write_text(config_text() + f'\n[admin]\ntoken = "{ADMIN}"\n\n[web]\napi = true\n')
    server = Server(config).wait_ready()
    try:
        rows = []
        for path in ("/api/admin/login", "/api/screenshots"):
            before = memory_kb(server.process.pid)
            answer, answered, discarded = huge_body(server.port, path, args.megabytes)
            after = memory_kb(server.process.pid)
            rows.append(
                [
                    f"POST {path}, {args.megabytes} MB announced",
                    answer,
                    f"{answered * 1000:.1f}",
                    discarded,
                    f"{before['VmHWM'] / 1024:.0f} → {after['VmHWM'] / 1024:.0f}",
                ]
            )
        table(
            "A huge request body",
            [
                "request",
                "answer",
                "answered after ms (1 MB sent)",
                "MB of the rest then read and discarded",
                "server peak RSS MB, before → after",
            ],
            rows,
        )
        rows = []
        for cookie, source in ((False, "127.0.0.1"), (True, "127.0.0.2")):
            counts = guesses(server.port, args.seconds, args.workers, cookie, source)
            looked = counts["401"] + counts["429 after the wait"]
            rows.append(
                [
                    f"session cookies, from {source}"
                    if cookie
                    else f"tokens at /api/admin/login, from {source}",
                    sum(counts.values()),
                    counts["401"],
                    counts["429 after the wait"],
                    counts["429 at once"],
                    counts["other"],
                    f"{looked / args.seconds * 60:.0f}",
                ]
            )
        table(
            f"Guessing the admin token from one address, {args.workers} connections, "
            f"{args.seconds:g} s each",
            [
                "guessing",
                "requests",
                "401 (looked at)",
                "429 after the wait (looked at)",
                "429 at once (not looked at)",
                "other",
                "looked at per minute",
            ],
            rows,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
