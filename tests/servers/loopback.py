"""Many SNMP agents on many loopback addresses, for discovery tests and the sweep benchmark.

Every 127.x.y.z is local on Linux (the ``local 127.0.0.0/8 dev lo`` route), so an agent can bind
127.0.1.7 without adding the address to ``lo``. Two kinds:

- :class:`MultiSnmpd`: one net-snmp ``snmpd`` answering on many addresses at once (``agentAddress
  udp:127.0.1.1:P,udp:127.0.1.2:P,...``), one community, the v3 users of
  :mod:`tests.servers.snmpd`. The cheapest way to get dozens of agents.
- :func:`snmpsim_agents`: one snmpsim process per address, each serving one recording as the
  community ``public`` (snmpsim 1.2.2 selects data by community, not by the address it was
  asked on, so several devices need several processes). Started in parallel.

An address with nothing listening answers UDP with an ICMP port unreachable at once: tests
that need a host that answers nothing at all use :mod:`tests.servers.netns`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from tests.servers.snmpd import Snmpd
from tests.servers.snmpsim import Snmpsim

__all__ = ["SIM_COMMUNITY", "MultiSnmpd", "snmpsim_agents"]

SIM_COMMUNITY = "public"


class MultiSnmpd(Snmpd):
    """snmpd on `addresses` (all on `port`), answering `community` from any loopback source."""

    def __init__(self, addresses: Sequence[str], port: int, community: str, sys_name: str) -> None:
        super().__init__(port=port, ipv6=False, sys_name=sys_name)
        self.addresses = list(addresses)
        self.host = self.addresses[0]
        self.community = community

    def config_text(self) -> str:
        """The base config with every address and a community open to 127.0.0.0/8."""
        lines = super().config_text().splitlines()
        out = []
        for line in lines:
            if line.startswith("agentAddress "):
                line = "agentAddress " + ",".join(f"udp:{a}:{self.port}" for a in self.addresses)
            elif line.startswith("rocommunity "):
                line = f"rocommunity {self.community} 127.0.0.0/8"
            out.append(line)
        return "\n".join(out) + "\n"


@contextlib.contextmanager
def snmpsim_agents(recordings: Mapping[str, str], port: int) -> Iterator[dict[str, Snmpsim]]:
    """One snmpsim per address (address -> snmprec text), all on `port`, community ``public``."""
    sims = {
        address: Snmpsim(
            data_files=[],
            extra_files={SIM_COMMUNITY: text},
            host=address,
            port=port,
            probe_community=SIM_COMMUNITY,
        )
        for address, text in recordings.items()
    }
    started: list[Snmpsim] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(sims))) as pool:
            futures = {pool.submit(sim.start): sim for sim in sims.values()}
            errors = []
            for future, sim in futures.items():
                try:
                    future.result()
                    started.append(sim)
                except Exception as exc:  # every start is awaited before raising
                    errors.append(exc)
            if errors:
                raise errors[0]
        yield sims
    finally:
        for sim in started:
            sim.stop()
