"""What every prober receives about the probe it is part of."""

from __future__ import annotations

from dataclasses import dataclass, field

from chm_exporter.config import CommunityAuth, LoadedConfig, Module, UsmAuth
from chm_exporter.devicecache import DeviceCache
from chm_exporter.probelog import ProbeLog
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.target import IpFamily, Target, resolve


@dataclass(slots=True)
class ProbeContext:
    """One probe request: target, merged module, credentials, deadline, shared state."""

    target: Target
    module_name: str
    module: Module
    auth_name: str
    auth: CommunityAuth | UsmAuth
    config: LoadedConfig
    log: ProbeLog
    deadline: float
    devices: DeviceCache
    metrics: SelfMetrics
    _resolved: dict[tuple[IpFamily, bool], str] = field(default_factory=dict)

    async def address(self, preferred: IpFamily = "ip4", fallback: bool = True) -> str:
        """The target's IP address (resolved once per probe and family preference).

        Raises:
            ResolveError: the name has no address.
        """
        key = (preferred, fallback)
        if key not in self._resolved:
            self._resolved[key] = await resolve(self.target, preferred, fallback)
        return self._resolved[key]
