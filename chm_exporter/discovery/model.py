"""The ``discovery:`` block of the config file.

The issue's example (tests/unit/test_discovery_model.py) shows every field; docs/discovery.md
describes them. Which auths and modules exist is checked by :class:`chm_exporter.config.Config`,
which holds both. This module imports only pydantic, the standard library and
:mod:`chm_exporter.duration`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from chm_exporter.duration import Duration

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A network and broadcast address are swept only in /31 and /32 (IPv4) networks.
_SPECIAL_MAX_PREFIX = 30


def _network(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ipaddress.ip_network(value.strip())
        except ValueError:  # its text repeats the value, which may be a misplaced secret
            raise ValueError(
                "not a network like 10.1.0.0/22 (an address and a prefix length, host bits 0)"
            ) from None
    return value


Network = Annotated[IpNetwork, BeforeValidator(_network)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrawlSettings(_Model):
    """Which neighbours of a found device are probed too."""

    lldp: bool = True
    cdp: bool = True
    max_depth: int = Field(
        default=2, ge=0, le=16, description="hops from a swept address or seed; 0: no crawl"
    )
    stay_within: Literal["networks", "anywhere"] | list[Network] = Field(
        default="networks",
        description="networks: the job's own networks (minus exclude); anywhere; or a list",
    )


class DiscoveryJob(_Model):
    """One discovery job: what to sweep and crawl, with which credentials, how often."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=64)
    networks: list[Network] = Field(default_factory=list)
    seeds: list[str] = Field(default_factory=list)
    exclude: list[Network] = Field(default_factory=list)
    auths: list[str] = Field(min_length=1, description="tried in order; the first that answers")
    module: str = Field(default="auto", description="__param_module of the found devices")
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    interval: Duration = Field(default=3600.0, gt=0)
    grace: Duration | None = Field(
        default=None, gt=0, description="a device that stops answering stays this long"
    )
    max_hosts: int = Field(default=4096, ge=1, le=1 << 20)
    rate: float = Field(default=200, gt=0, le=100_000, description="packets/s, all jobs together")
    port: int = Field(default=161, ge=1, le=65535)
    timeout: Duration = Field(default=1.0, gt=0, le=60, description="seconds per request")
    retries: int = Field(default=1, ge=0, le=5)

    @model_validator(mode="after")
    def _has_start(self) -> DiscoveryJob:
        if not self.networks and not self.seeds:
            raise ValueError("a job needs networks to sweep or seeds to crawl from (or both)")
        return self

    @model_validator(mode="after")
    def _within_max_hosts(self) -> DiscoveryJob:
        count = sweep_size(self.networks, self.exclude)
        if count > self.max_hosts:
            raise ValueError(
                f"networks: {count} addresses to sweep exceed max_hosts {self.max_hosts}; "
                "narrow the networks, exclude some, or raise max_hosts"
            )
        return self

    @property
    def grace_seconds(self) -> float:
        """How long a device that stopped answering stays listed."""
        return self.grace if self.grace is not None else 3 * self.interval

    def addresses(self) -> Iterator[IpAddress]:
        """Every address to sweep, network by network, without the excluded ones."""
        special = _special_addresses(self.networks)
        for net in _remaining(self.networks, self.exclude):
            for address in net:
                if address not in special:
                    yield address

    def within(self, address: IpAddress) -> bool:
        """Whether the crawl may probe `address`."""
        if any(address in net for net in self.exclude):
            return False
        stay = self.crawl.stay_within
        if stay == "anywhere":
            return True
        nets = self.networks if stay == "networks" else stay
        return any(address in net for net in nets)


class DiscoveryConfig(_Model):
    """The ``discovery:`` block."""

    jobs: list[DiscoveryJob] = Field(default_factory=list)
    concurrency: int = Field(
        default=16, ge=1, le=1024, description="devices identified or crawled at once, all jobs"
    )
    sd_file: str | None = Field(
        default=None, description="also write the /sd answer to this file (for file_sd_configs)"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> DiscoveryConfig:
        seen: set[str] = set()
        for i, job in enumerate(self.jobs):
            if job.name in seen:
                raise ValueError(f"jobs.{i}.name: job {job.name!r} is defined twice")
            seen.add(job.name)
        return self

    @property
    def rate(self) -> float:
        """Packets per second of all jobs together: the strictest rate a job names."""
        return min((job.rate for job in self.jobs), default=200.0)


def _special_addresses(networks: list[IpNetwork]) -> set[IpAddress]:
    return {
        address
        for net in networks
        if net.version == 4 and net.prefixlen <= _SPECIAL_MAX_PREFIX
        for address in (net.network_address, net.broadcast_address)
    }


def _remaining(networks: list[IpNetwork], exclude: list[IpNetwork]) -> list[IpNetwork]:
    """The networks with every excluded network cut out (exact, never enumerates)."""
    v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    nets: list[IpNetwork] = [
        *ipaddress.collapse_addresses(v4),
        *ipaddress.collapse_addresses(v6),
    ]
    for ex in exclude:
        kept: list[IpNetwork] = []
        for net in nets:
            if net.version != ex.version or not net.overlaps(ex):
                kept.append(net)
            elif ex.prefixlen > net.prefixlen:  # ex inside net
                kept.extend(net.address_exclude(ex))  # type: ignore[arg-type]
            # else net inside ex: dropped
        nets = kept
    return sorted(nets, key=lambda n: (n.version, n.network_address))


def sweep_size(networks: list[IpNetwork], exclude: list[IpNetwork]) -> int:
    """How many addresses :meth:`DiscoveryJob.addresses` yields."""
    remaining = _remaining(networks, exclude)
    special = _special_addresses(networks)
    inside = sum(1 for a in special if any(a in net for net in remaining))
    return sum(net.num_addresses for net in remaining) - inside
