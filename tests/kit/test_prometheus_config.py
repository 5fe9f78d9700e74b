"""prometheus.yml (top level): promtool check config, and the relabelling as Prometheus does it.

The second test starts the real Prometheus on loopback with the shipped config (exporter and
Alertmanager addresses swapped for unused loopback ports) and reads the targets it built from
the file_sd example: that proves the multi-target pattern, not just the YAML.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kit.layout import load_yaml, prometheus_dir
from tests.kit.tools import REPO, binary, output, run
from tests.servers.process import stop_process

SCALING = REPO / "docs" / "scaling.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_promtool_check_config_accepts_it_with_its_rules(tmp_path: Path) -> None:
    config = prometheus_dir(tmp_path)
    result = run("promtool", "check", "config", config)
    assert result.returncode == 0, output(result)
    assert "is valid prometheus config file syntax" in result.stdout
    # promtool also checks the rule files the config names (it found them where the container does).
    for name in ("recording.yml", "alerts.yml"):
        assert re.search(rf"Checking .*rules/{name}\n\s+SUCCESS: \d+ rules found", result.stdout), (
            output(result)
        )


def test_promtool_check_config_refuses_a_broken_relabel(tmp_path: Path) -> None:
    config = prometheus_dir(tmp_path)
    config.write_text(
        config.read_text().replace("target_label: __param_target", "target_labl: __param_target")
    )
    result = run("promtool", "check", "config", config)
    assert result.returncode != 0, output(result)


def test_jobs_are_the_ones_the_rules_and_docs_name() -> None:
    config = load_yaml(REPO / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {
        "chm_exporter", "chm_snmp", "chm_ssh", "chm_icmp", "chm_discovered", "chm_discovered_icmp"
    }  # fmt: skip
    assert jobs["chm_snmp"]["params"] == {"module": ["auto"]}
    assert jobs["chm_ssh"]["params"] == {"module": ["ios_ssh"]}
    assert jobs["chm_icmp"]["params"] == {"module": ["icmp"]}
    for name in ("chm_snmp", "chm_ssh", "chm_icmp", "chm_discovered", "chm_discovered_icmp"):
        assert jobs[name]["metrics_path"] == "/probe"
        assert jobs[name]["scrape_timeout"] < jobs[name]["scrape_interval"]
    assert config["rule_files"] == ["rules/*.yml"]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    """The real Prometheus on loopback with the shipped config; yields its base URL."""
    exporter = f"127.0.0.1:{free_port()}"
    config = prometheus_dir(
        tmp_path / "etc", exporter=exporter, alertmanager=f"127.0.0.1:{free_port()}"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process, timeout=20)
        log.close()


def active_targets(base: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Prometheus' active targets once every job of the config has its targets."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/targets?state=active", timeout=2) as r:
                last = json.load(r)["data"]["activeTargets"]
        except OSError as exc:
            last = exc
        else:
            jobs = {t["labels"]["job"] for t in last}
            if jobs == {"chm_exporter", "chm_snmp", "chm_ssh", "chm_icmp"} and len(last) == 15:
                return list(last)
        time.sleep(0.25)
    pytest.fail(f"Prometheus did not list the expected targets in {timeout} s: {last}")


def test_prometheus_builds_probe_targets_from_file_sd(prometheus: str) -> None:
    targets = active_targets(prometheus)
    by_key = {(t["labels"]["job"], t["labels"]["instance"]): t for t in targets}

    def query(job: str, instance: str) -> tuple[str, dict[str, list[str]], dict[str, str]]:
        target = by_key[(job, instance)]
        url = urllib.parse.urlsplit(target["scrapeUrl"])
        return url.path, urllib.parse.parse_qs(url.query), target["labels"]

    # The device is the instance, the request goes to the exporter's /probe with the target.
    path, params, labels = query("chm_snmp", "core1.example.net")
    assert path == "/probe"
    assert params == {"module": ["auto"], "target": ["core1.example.net"]}
    assert labels == {
        "instance": "core1.example.net",
        "job": "chm_snmp",
        "site": "ams1",
        "role": "core",
    }
    # __snmp_auth / __snmp_module become request parameters and no label.
    path, params, labels = query("chm_snmp", "192.0.2.21")
    assert params == {"auth": ["v3_priv"], "module": ["auto"], "target": ["192.0.2.21"]}
    assert not any(name.startswith("__") for name in labels)
    _, params, _ = query("chm_snmp", "srv-gw.example.net")
    assert params == {"module": ["linux"], "target": ["srv-gw.example.net"]}
    # ICMP probes the same devices with module icmp and ignores the SNMP settings.
    _, params, labels = query("chm_icmp", "192.0.2.21")
    assert params == {"module": ["icmp"], "target": ["192.0.2.21"]}
    assert labels["job"] == "chm_icmp"
    # SSH-read devices: module ios_ssh unless the group's __ssh_module says otherwise; the
    # SNMP job does not probe them, the ICMP job pings them.
    path, params, labels = query("chm_ssh", "edge1.example.net")
    assert (path, params) == ("/probe", {"module": ["ios_ssh"], "target": ["edge1.example.net"]})
    assert labels == {
        "instance": "edge1.example.net",
        "job": "chm_ssh",
        "site": "ams1",
        "role": "edge",
    }
    _, params, labels = query("chm_ssh", "192.0.2.41")
    assert params == {"module": ["eos_ssh"], "target": ["192.0.2.41"]}
    assert not any(name.startswith("__") for name in labels)
    assert ("chm_snmp", "edge1.example.net") not in by_key
    _, params, _ = query("chm_icmp", "edge1.example.net")
    assert params == {"module": ["icmp"], "target": ["edge1.example.net"]}
    # Every probe target goes to the exporter's address; the exporter job scrapes /metrics.
    exporter = by_key[next(k for k in by_key if k[0] == "chm_exporter")]
    exporter_host = urllib.parse.urlsplit(exporter["scrapeUrl"]).netloc
    assert urllib.parse.urlsplit(exporter["scrapeUrl"]).path == "/metrics"
    for target in targets:
        assert urllib.parse.urlsplit(target["scrapeUrl"]).netloc == exporter_host


def scaling_configs() -> list[str]:
    """The complete prometheus.yml examples of docs/scaling.md (```yaml blocks with scrape_configs)."""
    blocks = re.findall(r"```yaml\n(.*?)```", SCALING.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if "scrape_configs:" in b]


def test_scaling_doc_has_sharding_and_remote_write_examples() -> None:
    configs = scaling_configs()
    assert any("hashmod" in c for c in configs)
    assert any("remote_write" in c for c in configs)


@pytest.mark.parametrize("index", range(2))
def test_scaling_doc_examples_pass_promtool(tmp_path: Path, index: int) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(scaling_configs()[index])
    result = run("promtool", "check", "config", config)
    assert result.returncode == 0, output(result)
