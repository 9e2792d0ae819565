"""scripts/install-service.sh for real: the unit it prints passes `systemd-analyze verify`, an
install creates the user framecast and the unit, whose ExecStart serves as that user, and
--uninstall removes both. Needs root; where systemd is not PID 1 (containers) the unit cannot
be started, so the test runs its ExecStart itself.

--desktop (a user unit for the desktop user): its printed unit passes `systemd-analyze --user
verify`; a real install runs as an unprivileged user with a temporary HOME (as root: the user
nobody, through runuser; otherwise the current user) and without a user systemd to reach, so the
unit is written, not started, and --uninstall removes it."""

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
from support import ROOT, free_port, need_tool, solid, wait_for

pytestmark = [pytest.mark.system, pytest.mark.live]

SCRIPT = ROOT / "scripts" / "install-service.sh"
UNIT = Path("/etc/systemd/system/framecast.service")
NOT_STARTED = "systemd is not running here: the unit is installed but could not be started"
USER_SYSTEMD_UNREACHABLE = "systemd could not be reached (XDG_RUNTIME_DIR is not set"


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


def verify(unit_text: str, *, user: bool = False) -> None:
    """`systemd-analyze verify` exits 0 even for keys it ignores, so its warnings count too.
    With `user`, as a user unit (`--user verify`), which needs XDG_RUNTIME_DIR: a temporary one
    serves, so this runs as root too."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        path = folder / "framecast.service"
        path.write_text(unit_text)
        runtime = folder / "runtime"
        runtime.mkdir(mode=0o700)
        result = subprocess.run(
            ["systemd-analyze", *(["--user"] if user else []), "verify", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
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


def test_desktop_print_shows_a_user_unit_that_systemd_accepts() -> None:
    need_tool("systemd-analyze", "systemd")
    result = run_script("--desktop", "--print", "--port", "8080")
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    verify(unit, user=True)
    assert unit_value(unit, "PartOf") == "graphical-session.target"
    assert unit_value(unit, "After") == "graphical-session.target"
    assert unit_value(unit, "WantedBy") == "graphical-session.target"
    assert unit_value(unit, "Type") == "notify"
    assert unit_value(unit, "NotifyAccess") == "main"
    assert unit_value(unit, "WatchdogSec") == "30"
    assert unit_value(unit, "Restart") == "on-failure"
    assert unit_value(unit, "RestartSec") == "2"
    assert "User=" not in unit
    assert "Group=" not in unit
    assert shlex.split(unit_value(unit, "ExecStart")) == [
        str(ROOT / ".venv" / "bin" / "python"),
        str(ROOT / "slideshow.py"),
        "--config",
        str(ROOT / "config.toml"),
        "--mdns",
        "--port",
        "8080",
    ]
    plain = run_script("--desktop", "--print")
    assert plain.returncode == 0, plain.stderr
    assert "--port" not in unit_value(plain.stdout, "ExecStart")


def test_desktop_as_root_without_sudo_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the refusal is for root")
    env = {key: value for key, value in os.environ.items() if key != "SUDO_USER"}
    result = subprocess.run(
        ["bash", str(SCRIPT), "--desktop"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**env, "HOME": str(tmp_path)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run it as the desktop user (without sudo)" in result.stderr
    assert not (tmp_path / ".config").exists()


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


def new_folder() -> Path:
    """Not tmp_path: pytest's folders are 700, closed to other users."""
    folder = Path(tempfile.mkdtemp(prefix="framecast-service-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


def make_setup(folder: Path, python: Path) -> Setup:
    """The copy of the repository, a config and its images folder in `folder`."""
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
    return Setup(folder, folder / "repo", config, port)


def need_python_for_others() -> Path:
    python = python_for_others()
    packages = Path(sysconfig.get_paths()["purelib"])
    if python is None or not reachable_by_others(packages / "x"):
        pytest.skip("no Python of this version that another user can run")
    return python


@pytest.fixture
def setup() -> Iterator[Setup]:
    if os.geteuid() != 0:
        pytest.skip("installing a system service needs root")
    need_tool("runuser", "util-linux")
    need_tool("useradd", "passwd")
    need_tool("userdel", "passwd")
    if UNIT.exists() or user_exists():
        pytest.skip(f"{UNIT} or user framecast already exists here: the test leaves them alone")
    python = need_python_for_others()
    folder = new_folder()
    try:
        yield make_setup(folder, python)
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
    # The service announces itself; the test config's host is 127.0.0.1, so it does so on
    # loopback only.
    assert command[-3:] == ["--config", str(setup.config), "--mdns"]

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


# --- Real --desktop installs -----------------------------------------------------------------


@dataclass
class DesktopSetup:
    """A copy as for the system service, and the desktop user who installs: as root the user
    nobody (through runuser), else the current user; HOME a fresh folder that user owns, and no
    session (no XDG_RUNTIME_DIR, D-Bus or DISPLAY), so no user systemd to reach."""

    setup: Setup
    home: Path

    @property
    def unit(self) -> Path:
        return self.home / ".config" / "systemd" / "user" / "framecast.service"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            "env",
            "-u",
            "XDG_RUNTIME_DIR",
            "-u",
            "DBUS_SESSION_BUS_ADDRESS",
            "-u",
            "DISPLAY",
            "-u",
            "SUDO_USER",
            f"HOME={self.home}",
            "bash",
            str(self.setup.script),
            "--desktop",
            *args,
        ]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "nobody", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd="/")

    def install(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("--config", str(self.setup.config), *args)


@pytest.fixture
def desktop() -> Iterator[DesktopSetup]:
    if os.geteuid() == 0:
        need_tool("runuser", "util-linux")
        if subprocess.run(["getent", "passwd", "nobody"], capture_output=True).returncode:
            pytest.skip("no user nobody to install as")
    python = need_python_for_others()
    folder = new_folder()
    try:
        setup = make_setup(folder, python)
        home = folder / "home"
        home.mkdir()
        if os.geteuid() == 0:
            shutil.chown(home, "nobody")
        yield DesktopSetup(setup, home)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_desktop_install_writes_the_user_unit_and_uninstall_removes_it(
    desktop: DesktopSetup,
) -> None:
    result = desktop.install()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"wrote {desktop.unit}" in output
    assert USER_SYSTEMD_UNREACHABLE in output
    assert "systemctl --user enable --now framecast" in output
    unit = desktop.unit.read_text()
    assert unit_value(unit, "WantedBy") == "graphical-session.target"
    assert "User=" not in unit
    assert shlex.split(unit_value(unit, "ExecStart")) == [
        str(desktop.setup.repo / ".venv" / "bin" / "python"),
        str(desktop.setup.repo / "slideshow.py"),
        "--config",
        str(desktop.setup.config),
        "--mdns",
    ]
    if shutil.which("systemd-analyze"):
        verify(unit, user=True)
    assert not (desktop.setup.folder / "etc").exists()

    again = desktop.install()
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"unit unchanged: {desktop.unit}" in again.stdout
    assert desktop.unit.read_text() == unit

    # What `systemctl --user enable` leaves, when the user's systemd cannot be asked to undo it.
    wants = desktop.unit.parent / "graphical-session.target.wants"
    wants.mkdir()
    (wants / "framecast.service").symlink_to(desktop.unit)
    if os.geteuid() == 0:
        shutil.chown(wants, "nobody")
    removed = desktop.run("--uninstall")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"removed {desktop.unit}" in removed.stdout
    assert not desktop.unit.exists()
    assert not (wants / "framecast.service").is_symlink()
    nothing = desktop.run("--uninstall")
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr
    assert "nothing to remove" in nothing.stdout


def test_desktop_without_venv_in_a_repository_the_user_cannot_write_says_so(
    desktop: DesktopSetup,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs a repository the installing user cannot write: run as root")
    shutil.rmtree(desktop.setup.repo / ".venv")
    result = desktop.install()
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"There is no virtualenv {desktop.setup.repo}/.venv" in said
    assert f"{desktop.setup.repo} is not writable by nobody" in said
    assert not desktop.unit.exists()
