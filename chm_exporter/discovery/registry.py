"""The devices discovery found, per job, and their rendering for Prometheus' http_sd.

A device seen in a run is (re)listed with that run's time; one not seen stays listed until
``grace`` seconds after it was last seen, then leaves. A device found by two jobs is offered to
Prometheus once, by the job listed first in the config (two target groups would scrape it twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chm_exporter import atomicfile
from chm_exporter.discovery.identify import Examined

DEFAULT_SNMP_PORT = 161


@dataclass(frozen=True, slots=True)
class Device:
    """A found device as one job knows it."""

    job: str
    address: str
    port: int
    module: str
    examined: Examined
    depth: int
    first_seen: float
    last_seen: float

    @property
    def target(self) -> str:
        """What Prometheus passes as ``target=``: the address, with the port if not 161."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == DEFAULT_SNMP_PORT else f"{host}:{self.port}"


class Registry:
    """Found devices by (job, address)."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str, str], Device] = {}

    def update(
        self, job: str, seen: Iterable[Device], now: float, grace: float
    ) -> tuple[list[Device], list[Device]]:
        """Record a finished run of `job`: what it saw, and drop what is past its grace.

        Returns:
            The devices new to the job, and the ones that left it.
        """
        new = []
        fresh = set()
        for device in seen:
            key = (job, device.address)
            fresh.add(key)
            old = self._devices.get(key)
            if old is None:
                new.append(device)
            else:
                device = replace(device, first_seen=old.first_seen)
            self._devices[key] = device
        gone = [
            d
            for key, d in self._devices.items()
            if key[0] == job and key not in fresh and now - d.last_seen > grace
        ]
        for device in gone:
            del self._devices[(job, device.address)]
        return new, gone

    def replace(self, devices: Iterable[Device]) -> None:
        """Hold exactly `devices` (a worker that follows the one running the jobs)."""
        self._devices = {(d.job, d.address): d for d in devices}

    def keep_jobs(self, names: Iterable[str]) -> None:
        """Forget the devices of jobs no longer configured."""
        keep = set(names)
        for key in [k for k in self._devices if k[0] not in keep]:
            del self._devices[key]

    def devices(self, job: str | None = None) -> list[Device]:
        """Every device (of one job), by job then address."""
        return sorted(
            (d for d in self._devices.values() if job is None or d.job == job),
            key=lambda d: (d.job, _address_key(d.address)),
        )

    def sd_groups(self, job_order: Sequence[str], job: str | None = None) -> list[dict[str, Any]]:
        """Prometheus http_sd target groups: one per device, each target once.

        ``__param_auth`` is the auth's *name* (the secret stays in the exporter's config) and
        ``__param_module`` the job's module; Prometheus turns ``__param_*`` into the scrape
        URL's parameters.
        """
        rank = {name: i for i, name in enumerate(job_order)}
        groups: dict[str, dict[str, Any]] = {}
        for device in sorted(
            self.devices(job), key=lambda d: (rank.get(d.job, len(rank)), _address_key(d.address))
        ):
            if device.target in groups:
                continue
            ident = device.examined.identity
            groups[device.target] = {
                "targets": [device.target],
                "labels": {
                    "__param_auth": device.examined.auth_name,
                    "__param_module": device.module,
                    "vendor": ident.vendor,
                    "platform": ident.platform,
                    "model": ident.model,
                    "sys_name": ident.sys_name,
                    "discovery_job": device.job,
                },
            }
        return [groups[t] for t in sorted(groups, key=_address_key)]


def _address_key(address: str) -> tuple[int, ...]:
    """Numeric order for IPv4 (10.0.0.9 before 10.0.0.10), text order otherwise."""
    parts = address.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return (4, *(int(p) for p in parts))
    return (6, *address.encode())


def write_atomically(path: Path, data: Any) -> None:
    """Write JSON to `path` so that a reader (Prometheus' file_sd) never sees half a file."""
    atomicfile.write_atomically(path, json.dumps(data, indent=1) + "\n")
