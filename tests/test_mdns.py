"""mDNS: the server announces itself, inside a network namespace the test makes (`unshare -n`),
so nothing is sent on a real interface. The namespace has only `lo`, with multicast on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support import config_text, in_network_namespace, solid

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent

INSIDE = textwrap.dedent(
    """
    import json, sys, urllib.request
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from support import Server, wait_for
    from zeroconf import ServiceBrowser, Zeroconf
    from zeroconf._services.info import AddressResolver

    servers = []
    for _ in range({count}):
        # One after the other, as boxes on a LAN come up: the second finds the first's name.
        server = Server(Path({config!r})).wait_ready(20)
        servers.append(server)
        said = ("Announced on the network", "Cannot announce")
        wait_for(lambda: any(w in server.log() for w in said), 20, what="the announcement")
    zc = Zeroconf(interfaces=["127.0.0.1"])
    found = {{}}

    class Listener:
        def add_service(self, zc, kind, name):
            info = zc.get_service_info(kind, name, 3000)
            if info is not None:
                found[name] = (info.server, info.port)

        update_service = add_service

        def remove_service(self, zc, kind, name):
            pass

    browser = ServiceBrowser(zc, "_http._tcp.local.", Listener())
    try:
        wait_for(lambda: len(found) >= {count}, 20, interval=0.2, what="the services")
    except AssertionError:
        pass
    resolver = AddressResolver("framecast.local.")
    resolved = resolver.parsed_addresses() if resolver.request(zc, 3000) else []
    health = [urllib.request.urlopen(s.url + "/healthz", timeout=5).status for s in servers]
    logs = [s.log() for s in servers]
    for server in servers:
        server.stop()
    browser.cancel()
    zc.close()
    print(json.dumps({{"found": found, "resolved": resolved, "health": health, "logs": logs}}))
    """
)


def in_namespace(tmp_path: Path, count: int, multicast: bool) -> dict[str, object]:
    """Run `count` servers with mDNS and a browser in a new network namespace."""
    config = tmp_path / "config.toml"
    config.write_text(
        config_text().replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nmdns = true')
    )
    script = INSIDE.format(tests=str(ROOT / "tests"), config=str(config), count=count)
    setup = "ip link set lo up"
    if multicast:
        setup += " && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
    return in_network_namespace(setup, script)


def test_two_servers_announce_themselves_under_two_names(tmp_path: Path, images: Path) -> None:
    solid(images / "slide.png", (200, 30, 30))
    seen = in_namespace(tmp_path, 2, multicast=True)
    assert seen["health"] == [200, 200]
    servers = sorted(server for server, _ in seen["found"].values())  # type: ignore[attr-defined]
    assert servers == ["framecast-2.local.", "framecast.local."], seen
    assert seen["resolved"] == ["127.0.0.1"]
    logs = seen["logs"]
    assert logs, seen
    assert any("Announced on the network: http://framecast.local:" in log for log in logs)  # type: ignore[attr-defined]
    assert any("Announced on the network: http://framecast-2.local:" in log for log in logs)  # type: ignore[attr-defined]


def test_without_multicast_the_server_says_so_once_and_serves(tmp_path: Path, images: Path) -> None:
    solid(images / "slide.png", (200, 30, 30))
    seen = in_namespace(tmp_path, 1, multicast=False)
    assert seen["health"] == [200]
    log = seen["logs"][0]  # type: ignore[index]
    assert log.count("Cannot announce framecast.local") == 1, log
