"""Wayland protocols that pywayland does not ship, as their XML and the Python that
`pywayland.scanner` makes of it (regenerate with `generate()`;
a test checks that doing so changes nothing). Loaded only when the wlroots backend is chosen.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTOCOLS = ("wlr-screencopy-unstable-v1",)
"""The XML files here, by name without `.xml`."""
CORE = {"wl_output": "wayland", "wl_buffer": "wayland"}
"""Core interfaces the protocols refer to, by the module the scanner imports them from (`.wayland`
beside the generated files, which re-exports pywayland's own)."""


def generate(folder: Path = HERE) -> list[Path]:
    """Writes each protocol's Python into `folder`; the files written."""
    from pywayland.scanner.protocol import Protocol

    written = []
    for name in PROTOCOLS:
        protocol = Protocol.parse_file(str(HERE / f"{name}.xml"))
        own = {interface.name: protocol.name for interface in protocol.interface}
        protocol.output(str(folder), CORE | own)
        written.append(folder / f"{protocol.name}.py")
    return written
