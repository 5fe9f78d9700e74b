"""What the corpus tests share: one auth per recorded device, probing through the app, reading
samples and recorded values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.integration import corpus
from tests.integration.exposition import SampleKey, parse_exposition
from tests.unit.clients import Client

Samples = dict[SampleKey, float]
# snmpsim is pure Python and slow on the largest recordings when the machine is loaded: the
# corpus tests check values, not speed (benchmarks do that), so the probe may take this long.
CORPUS_MODULE_TIMEOUT = 60
Labels = tuple[tuple[str, str], ...]


def auth_name(community: str) -> str:
    """A config key for a community (`cisco_ios/ios_2960x` → `cisco_ios__ios_2960x`)."""
    return community.replace("/", "__").replace("-", "_").replace(".", "_")


def write_config(
    folder: Path, communities: Iterable[str], modules: Mapping[str, Any], **extra: Any
) -> Path:
    """A config with one v2c auth per community and the given modules."""
    config = {
        "auths": {auth_name(c): {"version": "2c", "community": c} for c in communities},
        "modules": dict(modules),
        **extra,
    }
    path = folder / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def profile_modules(profiles: Iterable[str]) -> dict[str, Any]:
    """One module per profile, named after it, with the timeouts snmpsim needs under load."""
    return {
        p: {"timeout": CORPUS_MODULE_TIMEOUT, "snmp": {"profiles": [p], "timeout": 3, "retries": 2}}
        for p in sorted(set(profiles))
    }


async def probe_text(
    client: Client,
    port: int,
    community: str,
    module: str,
    scrape_timeout: float = CORPUS_MODULE_TIMEOUT,
    **params: str,
) -> str:
    """The /probe answer for a recorded device served by snmpsim on 127.0.0.1:`port`."""
    resp = await client.get(
        "/probe",
        params={
            "target": f"127.0.0.1:{port}",
            "module": module,
            "auth": auth_name(community),
            **params,
        },
        headers={"X-Prometheus-Scrape-Timeout-Seconds": str(scrape_timeout)},
    )
    assert resp.status == 200
    return await resp.text()


async def probe_ok(client: Client, port: int, community: str, module: str) -> Samples:
    """Probe, assert the SNMP prober succeeded, and return the samples."""
    text = await probe_text(client, port, community, module)
    samples = parse_exposition(text)
    assert samples[("probe_success", (("prober", "snmp"),))] == 1, text[:2000]
    return samples


def series(samples: Samples, name: str) -> dict[Labels, float]:
    """Every sample of one metric, by labels."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def one(samples: Samples, name: str, **labels: str) -> float:
    """The sample of `name` with exactly these labels."""
    return samples[(name, tuple(sorted(labels.items())))]


def recorded_text(community: str, oid: str) -> str:
    """A recorded OctetString as text (hex-coded ones decoded)."""
    kind, value = corpus.recording(community)[oid]
    return bytes.fromhex(value).decode() if kind == "4x" else value


def recorded_int(community: str, oid: str) -> int:
    """A recorded integer."""
    return int(corpus.recording(community)[oid][1])
