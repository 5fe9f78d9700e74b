"""The exporter against emulated SSH devices: config, client and one scrape, for the SSH tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration.exposition import SampleKey, parse_exposition
from tests.servers.ssh_device import PLATFORMS, SshDevice

PASSWORD = "s3cret-pass"
ENABLE = "en-secret-1"


def lab_config(tmp_path: Path, **ssh: Any) -> Path:
    """A config with module `<platform>` for every platform, auth `lab`, extra ssh settings."""
    config: dict[str, Any] = {
        "ssh_auths": {
            "lab": {"username": "netops", "password": PASSWORD, "enable_password": ENABLE},
            "wrong": {"username": "netops", "password": "not-the-password"},
        },
        "modules": {
            platform: {
                "timeout": 10,
                "ssh": {
                    "auth": "lab",
                    "platform": platform,
                    "known_hosts_file": str(tmp_path / "pins"),
                    "command_timeout": 3,
                    "login_timeout": 5,
                    **ssh,
                },
            }
            for platform in PLATFORMS
        },
    }
    config["modules"]["ping"] = {"icmp": {"count": 1}}
    config["modules"]["wrong_password"] = {
        "ssh": {**config["modules"]["cisco_iosxe"]["ssh"], "auth": "wrong"}
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def lab_app(config: Path) -> web.Application:
    """The exporter for a lab config."""
    return create_app(load_config(config), timeout_offset=0.5)


@dataclass
class Scrape:
    """One /probe answer: its samples and the debug text."""

    metrics: dict[SampleKey, float]
    debug: str

    def success(self) -> float:
        """probe_success of the SSH prober."""
        return self.metrics[("probe_success", (("prober", "ssh"),))]

    def series(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Every sample of metric `name`, by labels."""
        return {labels: v for (n, labels), v in self.metrics.items() if n == name}

    def labelled(self, name: str) -> list[dict[str, str]]:
        """The label sets of metric `name`, as dicts."""
        return [dict(labels) for labels in self.series(name)]


async def scrape(
    client: TestClient[Any, web.Application],
    dev: SshDevice,
    module: str | None = None,
    scrape_timeout: float | None = None,
) -> Scrape:
    """Probe `dev` with the module of its platform (debug on) and parse the answer."""
    headers = {}
    if scrape_timeout is not None:
        headers["X-Prometheus-Scrape-Timeout-Seconds"] = str(scrape_timeout)
    resp = await client.get(
        "/probe",
        params={
            "target": f"127.0.0.1:{dev.port}",
            "module": module or dev.platform,
            "debug": "true",
        },
        headers=headers,
    )
    assert resp.status == 200
    text = await resp.text()
    body = text.split("returned:\n", 1)[1].split("\nModule configuration", 1)[0]
    return Scrape(parse_exposition(body), text)


async def self_metric(client: TestClient[Any, web.Application], series: str) -> float:
    """The value of one /metrics series, written as exposed (``name{label="v"}``); 0 if absent."""
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == series:
            return float(value)
    return 0.0
