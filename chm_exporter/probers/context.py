"""What a prober receives: the validated request (`ProbeRequest`) inside the probe's context
(`ProbeContext`: config, log, deadline, self-metrics, per-device state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chm_exporter.config import LoadedConfig, Module
from chm_exporter.devicecache import DeviceCache
from chm_exporter.errors import RequestError
from chm_exporter.probelog import ProbeLog
from chm_exporter.resolver import Resolution
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.sessions import SessionPool
from chm_exporter.target import IpFamily, Target


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """A validated /probe request.

    `params` holds every query parameter by name (all its values): a prober reads its own
    (SNMP: `auth`) with :meth:`param`. `credentials` names, per prober of the module, the
    credentials it will use (for the log and the landing page; never a secret).
    """

    target: Target
    module_name: str
    module: Module
    timeout: float
    debug: bool
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """The value of query parameter `name`, None when absent.

        Raises:
            RequestError: the parameter is given more than once (reason: its name).
        """
        return single_param(self.params, name)


def single_param(params: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    """The one value of query parameter `name`, None when absent.

    Raises:
        RequestError: the parameter is given more than once (reason: its name).
    """
    values = params.get(name, ())
    if len(values) > 1:
        raise RequestError(f"parameter {name!r} is given {len(values)} times", reason=name)
    return values[0] if values else None


@dataclass(slots=True)
class ProbeContext:
    """One probe in progress: the request, the config it was validated against, the probe's
    log, its deadline (event-loop time), the exporter's metrics and its per-device state; each
    prober gets its own copy, with the addresses it may send to."""

    request: ProbeRequest
    config: LoadedConfig
    log: ProbeLog
    deadline: float
    devices: DeviceCache
    metrics: SelfMetrics
    ssh: SessionPool
    resolution: Resolution = field(default_factory=Resolution)
    """The target's addresses this prober may use: resolved once for the whole probe by the
    handler and already checked against `allowed_targets` and the prober's auth."""
    preferred: IpFamily = "ip4"
    fallback: bool = True

    def address(self) -> str:
        """The address this prober sends to: the first of its preferred family among those
        the handler allowed (see :func:`chm_exporter.probe.check_targets`).

        Raises:
            ResolveError: the name has no (allowed) address.
        """
        return self.resolution.pick(self.preferred, self.fallback)
