"""Discovery against real agents on many loopback addresses, then the real Prometheus.

The lab (one module-wide fixture):

- swept: 127.0.1.0/28 and a silent host (a namespace that drops everything, tests.servers.netns)
  - 127.0.1.1-4: net-snmp answering community ``public`` (the job's first auth)
  - 127.0.1.5-6: net-snmp answering only ``second`` (the job's second auth)
  - 127.0.1.10: ``core1``, snmpsim serving tests/data/discovery/core1.snmprec (Cisco; CDP to
    dist1, LLDP to ``outside1`` at 127.0.3.1)
  - every other address: nothing listens (the kernel answers ICMP port unreachable, which the
    sweep does not read)
- crawled (outside the swept range, inside stay_within 127.0.1.0/24 and 127.0.2.0/24):
  ``dist1`` 127.0.2.1 (Juniper, depth 1) -> ``edge1`` 127.0.2.2 (Arista, depth 2) ->
  ``leaf1`` 127.0.2.3 (answering, but depth 3 > max_depth 2: never probed)
- ``outside1`` 127.0.3.1: a net-snmp agent answering ``public``, outside stay_within: never
  probed although core1 names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import platform
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from chm_exporter.config import CommunityAuth, LoadedConfig, load_config, parse_config
from chm_exporter.discovery.model import DiscoveryJob
from chm_exporter.discovery.runner import Discovery
from chm_exporter.discovery.sweep import RateLimiter, SweepSettings, sweep
from chm_exporter.discovery.topology import build
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.selfmetrics import DiscoveryMetrics
from chm_exporter.server import STATE, create_app
from tests.e2e import stack as e2e
from tests.kit import dashboards, layout
from tests.kit.tools import REPO, binary
from tests.servers import netns
from tests.servers.loopback import MultiSnmpd, snmpsim_agents
from tests.servers.ports import free_tcp_port, free_udp_port
from tests.servers.process import exporter_command
from tests.servers.snmpd import V3_USERS, Snmpd
from tests.unit.clients import ClientFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "discovery"
PLAIN = [f"127.0.1.{i}" for i in range(1, 5)]
SECOND = ["127.0.1.5", "127.0.1.6"]
OUTSIDE = "127.0.3.1"
RECORDED = {"127.0.1.10": "core1", "127.0.2.1": "dist1", "127.0.2.2": "edge1", "127.0.2.3": "leaf1"}
FOUND = {*PLAIN, *SECOND, "127.0.1.10", "127.0.2.1", "127.0.2.2"}
#: the shipped Prometheus jobs that read /sd, and the module each scrapes with
DISCOVERY_JOBS = {"chm_discovered": "auto", "chm_discovered_icmp": "icmp"}
# The swept addresses: 14 of the /28 and the silent host.
SWEPT = 15
# net-snmp's sysDescr ends with this machine's architecture, which linux_netsnmp names
LINUX_MODEL = {"x86_64": "Generic x86 64-bit", "aarch64": "Generic ARMv8 64-bit"}.get(
    platform.machine(), platform.machine()
)


@dataclass(frozen=True)
class Lab:
    port: int
    silent: str

    def config_text(self, *, interval: str = "1h") -> str:
        return f"""\
auths:
  public_v2: {{version: 2c, community: public}}
  second_v2: {{version: 2c, community: second}}
modules:
  icmp:
    icmp: {{count: 1}}
discovery:
  jobs:
    - name: lab
      networks: [127.0.1.0/28, {self.silent}/32]
      auths: [public_v2, second_v2]
      port: {self.port}
      rate: 1000
      timeout: 0.5
      retries: 1
      interval: {interval}
      crawl: {{max_depth: 2, stay_within: [127.0.1.0/24, 127.0.2.0/24]}}
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("the discovery lab needs root (a network namespace for the silent host)")
    port = free_udp_port("127.0.1.1")
    recordings = {a: (DATA / f"{n}.snmprec").read_text() for a, n in RECORDED.items()}
    with contextlib.ExitStack() as stack:
        silent = stack.enter_context(netns.blackhole_netns())
        stack.enter_context(MultiSnmpd([*PLAIN, OUTSIDE], port, "public", "plain"))
        stack.enter_context(MultiSnmpd(SECOND, port, "second", "second-only"))
        stack.enter_context(snmpsim_agents(recordings, port))
        yield Lab(port, silent.address)


def _discovery(lab: Lab) -> tuple[Discovery, DiscoveryJob, CollectorRegistry]:
    loaded = LoadedConfig(parse_config(lab.config_text()), None, load_profiles([]))
    registry = CollectorRegistry()
    return (
        Discovery(lambda: loaded, DiscoveryMetrics(registry)),
        loaded.config.discovery.jobs[0],
        registry,
    )


@pytest.fixture(scope="module")
def ran(lab: Lab) -> tuple[Discovery, CollectorRegistry, float]:
    """One run of the lab job (in process), and how long it took."""
    discovery, job, registry = _discovery(lab)
    started = time.perf_counter()
    asyncio.run(discovery.run_once(job))
    return discovery, registry, time.perf_counter() - started


def _targets(discovery: Discovery) -> dict[str, dict[str, str]]:
    return {g["targets"][0].rsplit(":", 1)[0]: g["labels"] for g in discovery.sd_groups()}


def test_finds_every_answering_agent_with_its_auth(ran: tuple[Discovery, Any, float]) -> None:
    discovery, _, _ = ran
    targets = _targets(discovery)
    assert set(targets) == FOUND
    for address in FOUND:
        expected = "second_v2" if address in SECOND else "public_v2"
        assert targets[address]["__param_auth"] == expected, address
        assert targets[address]["__param_module"] == "auto"
        assert targets[address]["discovery_job"] == "lab"


def test_identifies_vendor_platform_model_as_module_auto_does(
    ran: tuple[Discovery, Any, float],
) -> None:
    targets = _targets(ran[0])
    picked = {
        a: {k: targets[a][k] for k in ("vendor", "platform", "model", "sys_name")}
        for a in ("127.0.1.10", "127.0.2.1", "127.0.2.2", "127.0.1.1")
    }
    assert picked == {
        "127.0.1.10": {
            "vendor": "cisco",
            "platform": "ios",
            "model": "WS-C2960X-48FPD-L",
            "sys_name": "core1.lab.example",
        },
        "127.0.2.1": {
            "vendor": "juniper",
            "platform": "junos",
            "model": "ex4300-48t",
            "sys_name": "dist1.lab.example",
        },
        "127.0.2.2": {
            "vendor": "arista",
            "platform": "eos",
            "model": "DCS-7050SX3-48YC8",
            "sys_name": "edge1",
        },
        "127.0.1.1": {
            "vendor": "net-snmp",
            "platform": "linux",
            "model": LINUX_MODEL,
            "sys_name": "plain",
        },
    }


def test_crawl_stops_at_max_depth_and_stay_within(ran: tuple[Discovery, Any, float]) -> None:
    discovery, _, _ = ran
    depth = {d.address: d.depth for d in discovery.registry.devices()}
    assert depth["127.0.1.10"] == 0
    assert depth["127.0.2.1"] == 1
    assert depth["127.0.2.2"] == 2
    assert "127.0.2.3" not in depth  # leaf1 answers, but is 3 hops away
    assert OUTSIDE not in depth  # answers, but outside stay_within
    report = discovery.reports["lab"]
    assert (report.swept, report.answered_sweep, report.identified) == (SWEPT, 7, 9)


def test_silent_addresses_cost_their_rounds_and_nothing_more(
    ran: tuple[Discovery, CollectorRegistry, float],
) -> None:
    """15 addresses: public round 1 (15 sent, 5 answer), round 2 (10), second round 1 (10, 2
    answer), round 2 (8). A port-unreachable address is retried as a silent one is."""
    _, registry, seconds = ran
    assert (
        registry.get_sample_value(
            "chm_exporter_discovery_packets_sent_total", {"discovery_job": "lab"}
        )
        == 43
    )
    assert (
        registry.get_sample_value(
            "chm_exporter_discovery_addresses_swept_total", {"discovery_job": "lab"}
        )
        == SWEPT
    )
    devices = {
        vendor: registry.get_sample_value(
            "chm_exporter_discovery_devices", {"discovery_job": "lab", "vendor": vendor}
        )
        for vendor in ("net-snmp", "cisco", "juniper", "arista")
    }
    assert devices == {"net-snmp": 6, "cisco": 1, "juniper": 1, "arista": 1}
    assert seconds < 20


def test_topology_has_both_ends_ports_and_protocol(ran: tuple[Discovery, Any, float]) -> None:
    topo = build(ran[0].registry.devices())
    nodes = {n["id"].rsplit(":", 1)[0]: n for n in topo["nodes"]}
    assert {a for a, n in nodes.items() if n["discovered"]} == FOUND
    assert {a for a, n in nodes.items() if not n["discovered"]} == {"127.0.2.3", OUTSIDE}

    def name(node_id: str) -> str:
        node = nodes[node_id.rsplit(":", 1)[0]] if node_id not in nodes else nodes[node_id]
        return str(node["sys_name"]).split(".")[0]

    edges = {
        (
            e["protocol"],
            *sorted([(name(e["source"]), e["source_port"]), (name(e["target"]), e["target_port"])]),
        )
        for e in topo["edges"]
    }
    assert edges == {
        ("cdp", ("core1", "Gi1/0/1"), ("dist1", "xe-0/0/0")),
        ("lldp", ("core1", "Gi1/0/1"), ("dist1", "xe-0/0/0")),
        ("lldp", ("core1", "Gi1/0/2"), ("outside1", "eth1")),
        ("lldp", ("dist1", "xe-0/0/1"), ("edge1", "Ethernet1")),
        ("lldp", ("edge1", "Ethernet2"), ("leaf1", "eth0")),
    }


def test_device_that_stops_answering_leaves_after_its_grace(lab: Lab) -> None:
    """Run once; then run as if the second auth were gone: within the grace period the two
    devices it read stay listed, after it they leave."""
    discovery, job, _ = _discovery(lab)
    asyncio.run(
        discovery.run_once(
            job.model_copy(update={"crawl": job.crawl.model_copy(update={"max_depth": 0})})
        )
    )
    assert set(SECOND) <= set(_targets(discovery))
    without = job.model_copy(
        update={"auths": ["public_v2"], "crawl": job.crawl.model_copy(update={"max_depth": 0})}
    )
    asyncio.run(discovery.run_once(without))
    assert set(SECOND) <= set(_targets(discovery)), "left before the grace period"
    asyncio.run(discovery.run_once(without.model_copy(update={"grace": 0.001})))
    assert not set(SECOND) & set(_targets(discovery))
    assert "127.0.1.1" in _targets(discovery)


# -- the real Prometheus reads /sd and scrapes what it lists -----------------------------------
def _prometheus_config(dest: Path, exporter: str) -> Path:
    """prometheus.yml's discovery jobs as shipped, the exporter on loopback,
    short intervals; the other jobs left out (they scrape file_sd devices this test has not)."""
    path = layout.prometheus_dir(dest, exporter=exporter)
    config = layout.load_yaml(path)
    jobs = [j for j in config["scrape_configs"] if j["job_name"] in DISCOVERY_JOBS]
    assert len(jobs) == len(DISCOVERY_JOBS), "the shipped prometheus.yml lacks discovery jobs"
    for job in jobs:
        job["scrape_interval"] = job["scrape_timeout"] = "5s"
        for sd in job["http_sd_configs"]:
            sd["refresh_interval"] = "1s"
    config["scrape_configs"] = jobs
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config.pop("alerting", None)
    config["rule_files"] = []
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def test_prometheus_scrapes_each_found_device_with_its_auth_and_module(
    lab: Lab, tmp_path: Path
) -> None:
    config = tmp_path / "chm.yml"
    config.write_text(lab.config_text())
    exporter_port, prom_port = free_tcp_port(), free_tcp_port()
    exporter = f"127.0.0.1:{exporter_port}"
    prom_config = _prometheus_config(tmp_path / "prometheus", exporter)
    services = [
        e2e.Service("exporter", exporter_command(config, exporter), tmp_path),
        e2e.Service(
            "prometheus",
            [
                binary("prometheus"),
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path,
        ),
    ]
    base = f"http://127.0.0.1:{prom_port}"
    try:
        for service in services:
            service.start()

        def scraped() -> list[dict[str, Any]] | None:
            reply = e2e.http_get(f"{base}/api/v1/targets", {"state": "active"})
            active = [t for t in reply["data"]["activeTargets"] if t["health"] == "up"]
            return active if len(active) == len(DISCOVERY_JOBS) * len(FOUND) else None

        active = e2e.wait_until(
            scraped, "Prometheus scrapes every found device", 45, alive=services
        )
        for job, module in DISCOVERY_JOBS.items():
            targets = [t for t in active if t["labels"]["job"] == job]
            by_instance = {t["labels"]["instance"].rsplit(":", 1)[0]: t for t in targets}
            assert set(by_instance) == FOUND
            for address, target in by_instance.items():
                query = urllib.parse.parse_qs(urllib.parse.urlparse(target["scrapeUrl"]).query)
                auth = ["second_v2" if address in SECOND else "public_v2"]
                assert query.get("auth") == (auth if module == "auto" else None)
                assert query["module"] == [module]
                assert query["target"] == [f"{address}:{lab.port}"]
                assert target["labels"]["discovery_job"] == "lab"

        def snmp_ok() -> list[dict[str, Any]] | None:
            rows = e2e.prom_query(base, 'probe_success{job="chm_discovered",prober="snmp"} == 1')
            return rows if len(rows) == len(FOUND) else None

        e2e.wait_until(snmp_ok, "every found device's SNMP probe succeeds", 30, alive=services)
        info = e2e.prom_query(base, 'chm_device_info{job="chm_discovered",vendor="juniper"}')
        assert [r["metric"]["sys_name"] for r in info] == ["dist1.lab.example"]
        assert info[0]["metric"]["model"] == "ex4300-48t"
        _check_topology_dashboard(base, lab.port)
        sd = e2e.http_get(f"http://{exporter}/sd")
        assert len(sd) == len(FOUND)
        page = e2e.http_get(f"http://{exporter}/")
        picture = page[page.index("<svg") : page.index("</svg>")]
        assert picture.count("<circle") == len(FOUND) + 2  # and leaf1, outside1, undiscovered
        assert picture.count("<line") == 5
        assert ">core1.lab.example</text>" in picture
    finally:
        for service in reversed(services):
            service.stop()


def _check_topology_dashboard(base: str, port: int) -> None:
    """The Node graph's queries return nodes and edges; core1's CDP edge points at dist1's
    management address (the instance of a device scraped without a port, here with one)."""
    path = REPO / "dashboards" / "chm-topology.json"
    answers = {}
    for expr in dashboards.panel_queries(path):
        rows = e2e.prom_query(base, dashboards.substitute(expr, {"instance": ".*"}))
        assert rows, f"no data: {expr}"
        answers[expr] = [r["metric"] for r in rows]
    nodes, edges = next(iter(answers.values())), list(answers.values())[1]
    assert {n["id"] for n in nodes} == {f"{a}:{port}" for a in FOUND}
    assert {"source": f"127.0.1.10:{port}", "target": "127.0.2.1", "mainstat": "cdp"}.items() <= {
        k: v for e in edges if e["mainstat"] == "cdp" for k, v in e.items()
    }.items()


async def test_probe_is_not_delayed_by_a_running_sweep(
    lab: Lab, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    """A sweep paced to take 10 s runs while /probe reads an agent: the probe answers while the
    sweep is still running (discovery waits on its own rate and budget, never on /probe's
    path). How long it takes is the benchmark's to measure, not asserted here."""
    config = tmp_path / "chm.yml"
    config.write_text(
        lab.config_text().replace("127.0.1.0/28", "127.0.9.0/25").replace("rate: 1000", "rate: 25")
    )
    app = create_app(load_config(config))
    client = await aiohttp_client(app)
    discovery = app[STATE].discovery
    await asyncio.sleep(0.5)  # the job's first run has started sweeping
    response = await client.get(
        "/probe", params={"target": f"127.0.1.1:{lab.port}", "module": "auto"}
    )
    assert 'probe_success{prober="snmp"} 1' in await response.text()
    assert not discovery.reports, "the probe waited for the sweep to end"


def test_v3_auths_first_that_reads_wins(lab: Lab) -> None:
    """Every net-snmp agent answers the v3 discovery request; the user the agents do not know
    fails identification and the next v3 auth reads them."""
    aes = V3_USERS["chm_aes"]
    text = lab.config_text().replace(
        "auths:\n",
        "auths:\n"
        "  v3_unknown: {version: 3, username: nobody-here, security_level: authPriv,"
        " auth_password: wrong-password, priv_password: wrong-password}\n"
        f"  v3_aes: {{version: 3, username: chm_aes, security_level: authPriv,"
        f" auth_protocol: {aes.auth_proto}, auth_password: {aes.auth_pw},"
        f" priv_protocol: {aes.priv_proto}, priv_password: {aes.priv_pw}}}\n",
        1,
    )
    text = text.replace("[public_v2, second_v2]", "[v3_unknown, v3_aes, public_v2]")
    text = text.replace("127.0.1.0/28", "127.0.1.0/29").replace("max_depth: 2", "max_depth: 0")
    loaded = LoadedConfig(parse_config(text), None, load_profiles([]))
    discovery = Discovery(lambda: loaded, DiscoveryMetrics(CollectorRegistry()))
    asyncio.run(discovery.run_once(loaded.config.discovery.jobs[0]))
    auths = {address: labels["__param_auth"] for address, labels in _targets(discovery).items()}
    assert auths == dict.fromkeys([*PLAIN, *SECOND], "v3_aes")


def test_sweeps_ipv6(snmpd_server: Snmpd) -> None:
    assert snmpd_server.host6 is not None
    auth = CommunityAuth.model_validate({"version": "2c", "community": snmpd_server.community})
    result = asyncio.run(
        sweep(
            [ipaddress.ip_address(snmpd_server.host6), ipaddress.ip_address("::2")],
            [auth],
            RateLimiter(1000),
            SweepSettings(snmpd_server.port, 0.3, 0),
        )
    )
    assert result.answered == {"::1": 0}
    assert result.packets_sent == 2
