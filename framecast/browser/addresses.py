"""Which addresses a page fetched for the screenshot API may reach: the public Internet only,
unless `[web] allow_private` says otherwise. The API makes this machine fetch URLs for whoever
asks, so without this check it would hand out the LAN, the machine itself and a cloud's
metadata service.

Called on the browser's event loop through an executor (the lookups block).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
"""URLs that never reach the network."""


def refused_url(url: str) -> str | None:
    """Why the page may not fetch `url`, or None: a host that is, or resolves to, anything
    but a public unicast address (loopback, private, link-local, carrier NAT, multicast,
    reserved), a scheme other than http(s) and ws(s)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in LOCAL_SCHEMES:
        return None
    if scheme not in ("http", "https", "ws", "wss"):
        return f"{scheme}: URLs are not fetched"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return None  # the browser's own lookup fails the same way and says so
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if _private(address):
            named = host if host == str(address) else f"{host} is {address}, which"
            return (
                f"{named} is an address on this machine or its network: "
                "set [web] allow_private = true to allow it"
            )
    return None


def _private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast
