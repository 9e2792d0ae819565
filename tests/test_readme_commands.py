"""The README's two commands, as a new user runs them: as root on a machine without sudo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest
from support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands of the README's first code block, after its title and one sentence."""
    text = (ROOT / "README.md").read_text()
    opening = re.match(r"# ([^\n]+)\n\n([^\n]+)\n\n```sh\n(.*?)```", text, re.S)
    assert opening is not None, "the README opens with its title, a sentence, the commands"
    title, sentence, block = opening.groups()
    assert title == "Framecast"
    assert sentence.endswith(".")
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def without_sudo(tmp_path: Path) -> dict[str, str]:
    """This environment with a `sudo` that does not exist, first on PATH."""
    shadow = tmp_path / "no-sudo"
    shadow.mkdir()
    fake = shadow / "sudo"
    fake.write_text('#!/bin/sh\necho "sudo: command not found" >&2\nexit 127\n')
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{shadow}:{os.environ['PATH']}"}


def test_the_readme_opens_with_two_commands_that_do_not_begin_with_sudo() -> None:
    commands = readme_commands()
    assert commands == ["bash scripts/serve.sh", "bash scripts/test.sh"]


@pytest.mark.system
@pytest.mark.live
def test_the_serve_command_serves_the_shipped_folder_without_sudo(tmp_path: Path) -> None:
    port = free_port()
    serve = readme_commands()[0].split()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [*serve, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=without_sudo(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=2
                ) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_for(healthy, 120, interval=0.5, what="the server started by the README's command")
        assert "sudo: command not found" not in (tmp_path / "serve.log").read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
        log.close()


@pytest.mark.system
def test_the_test_command_sets_up_without_sudo(tmp_path: Path) -> None:
    command = readme_commands()[1].split()
    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**without_sudo(tmp_path), "FRAMECAST_SETUP_ONLY": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sudo: command not found" not in result.stderr
