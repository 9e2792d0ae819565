"""A real redis-server on a loopback port, and origins and edges as `slideshow.py` subprocesses."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from support import ROOT, Server, free_port, wait_for

from framecast.relay.link import PASSWORD_VARIABLE
from framecast.relay.signing import SECRET_VARIABLE

RELAY_SECRET = "a-test-secret-0123456789abcdef"
"""What the test origins and edges share in $FRAMECAST_RELAY_SECRET."""


def relay_environment(secret: str = RELAY_SECRET, password: str | None = None) -> dict[str, str]:
    """This process's environment with the relay's shared secret (and Redis's password)."""
    environment = {**os.environ, SECRET_VARIABLE: secret}
    if password is not None:
        environment[PASSWORD_VARIABLE] = password
    return environment


class RedisServer:
    """Debian's redis-server on a free loopback port, without persistence; it can be killed and
    started again on the same port."""

    def __init__(self, folder: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = list(options)
        self.log_path = folder / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no"),
                    *self.options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.answers, 10, what=f"redis-server on port {self.port}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def kill(self) -> None:
        """Gone at once, as a crash or a power cut would leave it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


class RoleServer(Server):
    """`slideshow.py --role ROLE --redis URL` on a free loopback port; an origin with its config
    file, an edge with none."""

    def __init__(
        self,
        role: str,
        redis_url: str,
        folder: Path,
        config: Path | None = None,
        port: int | None = None,
        secret: str = RELAY_SECRET,
        password: str | None = None,
    ) -> None:
        self.config = config or folder / "no-config.toml"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / f"{role}-{self.port}.log"
        self._log = self.log_path.open("ab")
        command = [sys.executable, str(ROOT / "slideshow.py"), "--role", role, "--redis", redis_url]
        if config is not None:
            command += ["--config", str(config)]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=relay_environment(secret, password),
        )

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def post(self, path: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("POST", path, headers={"X-Framecast": "1"})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()
