"""scripts/install-service.sh for real: the unit it prints passes `systemd-analyze verify`, an
install creates the user framecast and the unit, whose ExecStart serves as that user, and
--uninstall removes both. Needs root; where systemd is not PID 1 (containers) the unit cannot
be started, so the test runs its ExecStart itself."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import need_tool
from support import ROOT, free_port, solid, wait_for

SCRIPT = ROOT / "scripts" / "install-service.sh"
UNIT = Path("/etc/systemd/system/framecast.service")
NOT_STARTED = "systemd is not running here: the unit is installed but could not be started"


def run_script(*args: str, script: Path = SCRIPT) -> subprocess.CompletedProcess[str]:
    # From / so that nothing depends on the caller's directory.
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=300, cwd="/"
    )


def unit_value(text: str, key: str) -> str:
    values = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]
    assert len(values) == 1, f"{key} in\n{text}"
    return values[0]


def user_exists() -> bool:
    return subprocess.run(["getent", "passwd", "framecast"], capture_output=True).returncode == 0


def reachable_by_others(path: Path) -> bool:
    """Every folder above `path` traversable by any user (mode bits; ACLs aside)."""
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in path.parents)


def python_for_others() -> Path | None:
    """A python of this version that another user can run: the virtualenv's own base when it is
    reachable (a system python), else the system's python3 of the same version."""
    candidates = [Path(getattr(sys, "_base_executable", sys.executable)), Path("/usr/bin/python3")]
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in candidates:
        real = candidate.resolve()
        if not real.is_file() or not reachable_by_others(real):
            continue
        probe = subprocess.run(
            [str(real), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == version:
            return real
    return None


# --- --print: no root, no changes -----------------------------------------------------------


def verify(unit_text: str) -> None:
    """`systemd-analyze verify` exits 0 even for keys it ignores, so its warnings count too."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        path = folder / "framecast.service"
        path.write_text(unit_text)
        result = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        complaints = [line for line in result.stderr.splitlines() if "framecast.service" in line]
        assert not complaints, result.stderr
    finally:
        shutil.rmtree(folder)


def test_print_shows_a_unit_that_systemd_accepts_and_changes_nothing() -> None:
    need_tool("systemd-analyze", "systemd")
    had_unit = UNIT.exists()
    result = run_script("--print", "--port", "8000")
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    verify(unit)
    assert unit_value(unit, "Type") == "notify"
    assert unit_value(unit, "NotifyAccess") == "main"
    assert unit_value(unit, "WatchdogSec") == "30"
    assert unit_value(unit, "User") == "framecast"
    assert unit_value(unit, "NoNewPrivileges") == "yes"
    assert unit_value(unit, "ProtectSystem") == "strict"
    assert unit_value(unit, "Restart") == "on-failure"
    assert unit_value(unit, "WorkingDirectory") == str(ROOT)
    assert shlex.split(unit_value(unit, "ExecStart"))[:4] == [
        str(ROOT / ".venv" / "bin" / "python"),
        str(ROOT / "slideshow.py"),
        "--config",
        str(ROOT / "config.toml"),
    ]
    assert "AmbientCapabilities" not in unit
    assert UNIT.exists() == had_unit

    low = run_script("--print", "--port", "80")
    assert low.returncode == 0, low.stderr
    verify(low.stdout)
    assert unit_value(low.stdout, "AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert "--port 80" in unit_value(low.stdout, "ExecStart")


def test_desktop_is_refused_with_what_to_do_instead() -> None:
    result = run_script("--desktop")
    assert result.returncode == 2
    assert "bash scripts/serve.sh inside the desktop session" in result.stderr


# --- Real installs ---------------------------------------------------------------------------


@dataclass
class Setup:
    """A copy of the repository under /tmp with a virtualenv user framecast can run, a config
    and its images folder beside it, all readable by others."""

    folder: Path
    repo: Path
    config: Path
    port: int

    @property
    def script(self) -> Path:
        return self.repo / "scripts" / "install-service.sh"

    def install(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_script("--config", str(self.config), *args, script=self.script)


def copy_repo(target: Path, python: Path) -> None:
    """The files the service runs, and a virtualenv from `python` that finds the packages of the
    test's own virtualenv (same Python version), so nothing is downloaded."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target.mkdir()
    for name in ("slideshow.py", "requirements.txt", "config.toml"):
        shutil.copy2(ROOT / name, target / name)
    for name in ("framecast", "scripts"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    venv = target / ".venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True)
    packages = Path(sysconfig.get_paths()["purelib"])
    (python_dir,) = (venv / "lib").glob("python3*")
    (python_dir / "site-packages" / "test-packages.pth").write_text(f"{packages}\n")
    subprocess.run(["chmod", "-R", "a+rX", str(target)], check=True)


@pytest.fixture
def setup() -> Iterator[Setup]:
    if os.geteuid() != 0:
        pytest.skip("installing a system service needs root")
    need_tool("runuser", "util-linux")
    need_tool("useradd", "passwd")
    need_tool("userdel", "passwd")
    if UNIT.exists() or user_exists():
        pytest.skip(f"{UNIT} or user framecast already exists here: the test leaves them alone")
    python = python_for_others()
    packages = Path(sysconfig.get_paths()["purelib"])
    if python is None or not reachable_by_others(packages / "x"):
        pytest.skip("no Python of this version that another user can run")
    # Not tmp_path: pytest's folders are 700, closed to the user framecast.
    folder = Path(tempfile.mkdtemp(prefix="framecast-service-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        copy_repo(folder / "repo", python)
        port = free_port()
        config = folder / "config.toml"
        text = (ROOT / "config.toml").read_text()
        text = text.replace('host = "0.0.0.0"', 'host = "127.0.0.1"')
        text = text.replace("port = 8000", f"port = {port}")
        config.write_text(text)
        config.chmod(0o644)
        images = folder / "images"
        images.mkdir(mode=0o755)
        solid(images / "one.jpg", (220, 30, 30)).chmod(0o644)
        yield Setup(folder, folder / "repo", config, port)
    finally:
        # Clean the system even when the test failed half-way.
        result = run_script(
            "--uninstall", script=folder / "repo" / "scripts" / "install-service.sh"
        )
        shutil.rmtree(folder, ignore_errors=True)
        assert result.returncode == 0, result.stdout + result.stderr


def get_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_install_creates_user_and_unit_that_serves_and_uninstall_removes_them(
    setup: Setup,
) -> None:
    result = setup.install()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "created system user framecast" in output
    if not Path("/run/systemd/system").exists():
        assert NOT_STARTED in output

    entry = subprocess.run(
        ["getent", "passwd", "framecast"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert entry.split(":")[6] in ("/usr/sbin/nologin", "/sbin/nologin"), entry
    assert UNIT.is_file()
    unit = UNIT.read_text()
    verify(unit)
    assert unit_value(unit, "WorkingDirectory") == str(setup.repo)
    assert "AmbientCapabilities" not in unit
    command = shlex.split(unit_value(unit, "ExecStart"))
    assert command[-2:] == ["--config", str(setup.config)]

    if Path("/run/systemd/system").exists():
        # systemd runs here: the script started the service itself.
        wait_for(lambda: get_status(setup.port, "/healthz") == 200, 20, what="the service")
    else:
        log = (setup.folder / "service.log").open("wb")
        server = subprocess.Popen(
            ["runuser", "-u", "framecast", "--", *command],
            cwd=unit_value(unit, "WorkingDirectory"),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:

            def healthy() -> bool:
                if server.poll() is not None:
                    raise AssertionError(
                        f"the service exited early:\n{(setup.folder / 'service.log').read_text()}"
                    )
                return get_status(setup.port, "/healthz") == 200

            wait_for(healthy, 20, what="the unit's ExecStart, as user framecast, to serve")
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(10)
            # runuser's child too, so that userdel finds no process of framecast.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            log.close()

    removed = run_script("--uninstall", script=setup.script)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"removed {UNIT}" in removed.stdout
    assert "removed user framecast" in removed.stdout
    assert not UNIT.exists()
    assert not user_exists()
    again = run_script("--uninstall", script=setup.script)
    assert again.returncode == 0
    assert "nothing to remove" in again.stdout


def test_install_twice_changes_nothing_the_second_time(setup: Setup) -> None:
    first = setup.install()
    assert first.returncode == 0, first.stdout + first.stderr
    unit = UNIT.read_text()
    second = setup.install()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "user framecast exists" in second.stdout
    assert "unit unchanged" in second.stdout
    assert UNIT.read_text() == unit


def test_an_images_folder_the_user_cannot_read_is_named_and_nothing_installed(
    setup: Setup,
) -> None:
    locked = setup.folder / "locked"
    locked.mkdir()
    locked.chmod(0o700)
    solid(locked / "one.jpg", (30, 60, 220))
    text = setup.config.read_text().replace('folder = "images"', 'folder = "locked"')
    setup.config.write_text(text)

    result = setup.install()
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(locked) in result.stderr
    assert "chmod o+rx" in result.stderr
    assert not UNIT.exists()
