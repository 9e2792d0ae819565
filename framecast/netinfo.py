"""The addresses a TV on the LAN can reach this machine at, for the start-up log line."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys

_SIOCGIFADDR = 0x8915
_ANY = {"", "0.0.0.0", "::"}


def local_addresses(host: str) -> list[str]:
    """Every non-loopback address the server answers on, then localhost."""
    if host not in _ANY:
        return [f"[{host}]" if ":" in host else host]
    found = _linux_interface_addresses() if sys.platform.startswith("linux") else []
    if not found:
        with contextlib.suppress(OSError):
            found = [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)]
    usable = sorted(
        {a for a in found if ":" not in a and not ipaddress.ip_address(a).is_loopback},
        key=ipaddress.ip_address,
    )
    return [*usable, "localhost"]


def _linux_interface_addresses() -> list[str]:
    """IPv4 address of each interface, read with the SIOCGIFADDR ioctl (no extra package)."""
    import fcntl

    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue
            addresses.append(socket.inet_ntoa(reply[20:24]))
    return addresses
