"""requirements.txt installs from wheels on 64-bit Raspberry Pi OS (linux aarch64, CPython 3.11),
so a Pi needs no compiler: pip is asked for that platform's wheels only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
GLIBC_TAGS = ("2_17", "2_24", "2_26", "2_27", "2_28", "2_31", "2_34", "2_35", "2_36")
"""manylinux tags a Raspberry Pi OS 12 (glibc 2.36) accepts."""


PI_MARKERS = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "python_version": "3.11",
    "implementation_name": "cpython",
}
"""What a requirement's markers see on the Pi: `pip download --platform` chooses the Pi's wheels
but judges markers by this machine, so the requirements are judged here first."""


def pi_requirements(folder: Path) -> Path:
    """requirements.txt with only the lines a Pi's pip would install."""
    kept = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        marker = Requirement(text).marker
        if marker is None or marker.evaluate(PI_MARKERS):
            kept.append(text)
    path = folder / "requirements-pi.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def test_requirements_install_from_wheels_on_64_bit_raspberry_pi_os(tmp_path: Path) -> None:
    platforms = [arg for tag in GLIBC_TAGS for arg in ("--platform", f"manylinux_{tag}_aarch64")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "-r",
            str(pi_requirements(tmp_path)),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = [path.name.lower() for path in tmp_path.glob("*.whl")]
    for package in ("pillow", "simplejpeg", "flask", "watchdog", "mss"):
        assert any(name.startswith(package) for name in wheels), f"no wheel for {package}"
    compiled = [name for name in wheels if not name.endswith("-none-any.whl")]
    assert compiled, "the compiled packages came as wheels"
    assert all("aarch64" in name for name in compiled), compiled
