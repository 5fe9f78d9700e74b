"""Many SNMP agents from few processes: one net-snmp ``snmpd`` answering on many loopback
addresses, each a device of its own for the exporter (``target=127.a.b.c``, port 161).

Every ``127.x.y.z`` is local on Linux (the ``local 127.0.0.0/8 dev lo`` route), so an agent can
bind any of them without adding it to ``lo``. One snmpd answered on at most ~130
``agentAddress`` endpoints here (DESIGN.md): use several processes of ~100 addresses each
(:func:`chunked`). All of them list the same interfaces (those of the namespace they run in)::

    with MultiAddressSnmpd(["127.77.0.1", "127.77.0.2"]) as agent:
        snmpget("127.77.0.2", 161, [SYS_NAME_OID], community=agent.community)

Port 161 needs root (or ``net.ipv4.ip_unprivileged_port_start``); the devices then look like
real ones to Prometheus: a bare address is both the SNMP and the ICMP target.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator, Sequence

from tests.servers.netsnmp import snmpget
from tests.servers.snmpd import SYS_NAME_OID, Snmpd

__all__ = ["MultiAddressSnmpd", "chunked", "loopback_block"]

SNMP_PORT = 161


class MultiAddressSnmpd(Snmpd):
    """One snmpd answering v2c ``public`` on ``udp:<address>:161`` of every address given.

    Only v2c (no SNMPv3 users: their keys are localised per engine at start, which costs
    seconds for a fleet); the community is accepted from all of 127.0.0.0/8.
    """

    name = "snmpd (many addresses)"

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        port: int = SNMP_PORT,
        sys_name: str = "chm-fleet-snmpd",
        extra_conf: str = "",
        start_timeout: float = 20.0,
    ) -> None:
        """Configure; nothing runs until :meth:`start` (or ``with``)."""
        if not addresses:
            raise ValueError("MultiAddressSnmpd needs at least one address")
        super().__init__(
            port=port,
            ipv6=False,
            extra_conf=extra_conf,
            sys_name=sys_name,
            start_timeout=start_timeout,
        )
        self.addresses = list(addresses)
        self.host = self.addresses[0]
        self.users = {}

    def config_text(self) -> str:
        """The snmpd.conf: every address on ``port``, v2c only, no SNMPv3 users."""
        endpoints = ",".join(f"udp:{address}:{self.port}" for address in self.addresses)
        lines = [
            f"agentAddress {endpoints}",
            f"[snmp] persistentDir {self.workdir / 'persist'}",
            f"rocommunity {self.community} 127.0.0.0/8",
            f"sysName {self.sys_name}",
            f"sysLocation {self.sys_location}",
            f"sysContact {self.sys_contact}",
        ]
        return "\n".join(lines) + "\n" + self.extra_conf + "\n"

    def answers(self) -> bool:
        """True when the first and the last address both return this agent's sysName."""
        for address in {self.addresses[0], self.addresses[-1]}:
            result = snmpget(
                address, self.port, [SYS_NAME_OID], community=self.community, timeout=0.5
            )
            if result.returncode != 0 or self.sys_name not in result.stdout:
                return False
        return True


def loopback_block(rng: random.Random | None = None) -> ipaddress.IPv4Network:
    """A random ``127.a.b.0/24`` away from 127.0.x.x, so that parallel runs rarely meet."""
    rng = rng or random.SystemRandom()
    return ipaddress.IPv4Network(f"127.{rng.randrange(100, 255)}.{rng.randrange(0, 256)}.0/24")


def chunked(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
