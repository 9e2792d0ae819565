"""The server's name on the LAN: mDNS/DNS-SD by python-zeroconf.

It announces the `_http._tcp` service "Framecast" and the host name `<name>.local`, so a phone or
a TV that resolves `.local` opens `http://framecast.local:8000/`. A name another machine
already answers for is not taken: the second Framecast on a LAN becomes `framecast-2.local`.
It runs on a thread of its own (probing takes seconds); without multicast it logs one line
and the server goes on.
"""

from __future__ import annotations

import logging
import socket
import threading

from zeroconf import DNSQuestionType, ServiceInfo, Zeroconf
from zeroconf._services.info import AddressResolver

from ..supervise import Worker

log = logging.getLogger(__name__)

SERVICE_TYPE = "_http._tcp.local."
MDNS_GROUP = "224.0.0.251"
RESOLVE_MS = 3000
"""How long to listen for another machine answering for a name before taking it."""
MAX_SUFFIX = 20


class Announcer(Worker):
    """Announces `name`.local on `addresses` (IPv4) for `port`.

    `start` and `stop` are called by the server's main thread; the announcing itself runs on
    the announcer's thread.
    """

    def __init__(self, name: str, port: int, addresses: list[str]) -> None:
        super().__init__("mdns")
        self._name = name
        self._port = port
        self._addresses = addresses
        self._zeroconf: Zeroconf | None = None
        self._lock = threading.Lock()
        self.host: str | None = None
        """The name announced, once it is: "framecast.local" or "framecast-2.local"."""

    def wake(self) -> None:
        """Called by `stop`: says goodbye on the network and closes zeroconf, which ends the
        announcer's wait for answers; a thread that has not handed its zeroconf over yet sees
        `stopping` and closes its own."""
        with self._lock:
            zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is not None:
            zeroconf.unregister_all_services()
            zeroconf.close()

    def run(self) -> None:
        """The announcer's thread: find a free name, register the service under it."""
        try:
            _multicast_route()
            zeroconf = Zeroconf(interfaces=self._addresses)
        except OSError as error:
            self._cannot(error)
            return
        with self._lock:
            if self.stopping.is_set():
                zeroconf.close()
                return
            self._zeroconf = zeroconf
        try:
            host = self._free_host(zeroconf)
            # Named after its host when that is not the first choice, so the second box's
            # service does not depend on zeroconf renaming it.
            first = host == f"{self._name}.local"
            instance = "Framecast" if first else f"Framecast ({host.removesuffix('.local')})"
            info = ServiceInfo(
                SERVICE_TYPE,
                f"{instance}.{SERVICE_TYPE}",
                addresses=[socket.inet_aton(a) for a in self._addresses],
                port=self._port,
                server=f"{host}.",
                properties={"path": "/"},
            )
            zeroconf.register_service(info, allow_name_change=True)
        except OSError as error:
            self._cannot(error)
            return
        self.host = host
        log.info("Announced on the network: http://%s:%d/", host, self._port)

    def _cannot(self, error: OSError) -> None:
        log.warning(
            "Cannot announce %s.local on the network (mDNS: %s); the server serves anyway",
            self._name,
            error,
        )

    def _free_host(self, zeroconf: Zeroconf) -> str:
        """`name`.local, or `name-2`.local and so on when another machine answers for it."""
        for number in range(1, MAX_SUFFIX + 1):
            host = f"{self._name}.local" if number == 1 else f"{self._name}-{number}.local"
            # Answers by multicast (QM): a unicast answer to a machine running two responders
            # reaches only one of them.
            resolver = AddressResolver(f"{host}.")
            if not resolver.request(zeroconf, RESOLVE_MS, question_type=DNSQuestionType.QM):
                return host
        return f"{self._name}-{MAX_SUFFIX + 1}.local"


def _multicast_route() -> None:
    """Raise OSError when the machine has no route for mDNS's multicast group: zeroconf would
    then "announce" into nothing without a word. Connecting a UDP socket sends nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((MDNS_GROUP, 5353))
