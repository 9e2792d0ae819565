"""The addresses and names a TV on the LAN reaches this machine at: for the start-up log line,
the QR code of the main one, and to refuse requests for other hosts (DNS rebinding)."""

from __future__ import annotations

import contextlib
import functools
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


def main_url(host: str, port: int) -> str:
    """The address a TV on the LAN most likely uses: the first of `local_addresses`, which puts
    the LAN addresses before "localhost". The one the log's QR code and the placeholder show."""
    return f"http://{local_addresses(host)[0]}:{port}/"


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


def split_host(header: str) -> tuple[str, str]:
    """The host and the port ("" when absent) of a `Host` header: the host in lower case,
    without the brackets of an IPv6 address or a final dot."""
    text = header.strip().lower()
    if text.startswith("[") and "]" in text:
        name, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        name, _, port = text.partition(":")
    else:
        name, port = text, ""
    return name.removesuffix("."), port


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@functools.cache
def machine_names() -> frozenset[str]:
    """This machine's own names, as a browser on the LAN may address it: found once, on the
    first request that needs them (the fully qualified name can take a DNS look-up)."""
    hostname = socket.gethostname().lower()
    names = {hostname, f"{hostname}.local"}
    with contextlib.suppress(OSError, UnicodeError):
        names.add(socket.getfqdn(hostname).lower())
    return frozenset(names)
