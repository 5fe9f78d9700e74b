"""Discovery's parts on their edge cases, with a recording fake reader (the main tests use real
agents: tests/integration/test_discovery.py)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from chm_exporter.config import CommunityAuth, LoadedConfig, UsmAuth, load_config, parse_config
from chm_exporter.discovery.ber import community_get, reply_id, v3_discovery
from chm_exporter.discovery.identify import (
    Examined,
    Identity,
    Neighbor,
    NotIdentifiedError,
    ReadSettings,
    examine,
)
from chm_exporter.discovery.reader import Budget, PacedReader, estimated_packets
from chm_exporter.discovery.registry import Device, Registry, write_atomically
from chm_exporter.discovery.report import RunReport
from chm_exporter.discovery.runner import Discovery
from chm_exporter.discovery.shared import SharedFile, save
from chm_exporter.discovery.sweep import RateLimiter
from chm_exporter.discovery.topology import build, render_svg
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.profiles import WalkPlan, WalkResult
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.selfmetrics import DiscoveryMetrics
from chm_exporter.server import create_app
from tests.unit.clients import Client, ClientFactory

SYS: dict[str, object] = {
    "1.3.6.1.2.1.1.1.0": b"Juniper Networks, Inc. ex4300-48t Ethernet Switch, kernel JUNOS 21.4R3",
    "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.2636.1.1.1.2.133",
    "1.3.6.1.2.1.1.5.0": b"dist1",
}


# -- ber ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ident", [1, 127, 128, 255, 256, 65535, 0x7FFFFFFF])
def test_request_ids_read_back(ident: int) -> None:
    assert reply_id(community_get(1, b"public", ident)) == ident
    assert reply_id(community_get(0, b"x" * 200, ident)) == ident  # long form length
    assert reply_id(v3_discovery(ident)) == ident


def test_garbage_is_not_a_reply() -> None:
    packet = community_get(1, b"public", 4242)
    for cut in range(len(packet) - 12):
        assert reply_id(packet[:cut]) is None
    rng = random.Random(7)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        result = reply_id(data)
        assert result is None or isinstance(result, int)


def test_rate_limiter_paces_every_caller_together() -> None:
    async def main() -> float:
        limiter = RateLimiter(1000)
        started = time.perf_counter()

        async def send(n: int) -> None:
            for _ in range(n):
                await limiter.acquire()

        await asyncio.gather(send(100), send(100))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    assert elapsed >= 0.18  # 200 packets at 1000/s, less one burst of 20 ms


# -- identification through a recording fake -----------------------------------------------------
@dataclass
class FakeReader:
    """Answers from `values` for auths in `answers` (at `addresses`, or any); records every
    read."""

    values: dict[str, object]
    answers: set[str]
    addresses: set[str] | None = None
    calls: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    async def read(
        self,
        address: str,
        port: int,
        auth: CommunityAuth | UsmAuth,
        plan: WalkPlan,
        budget: Budget,
        log: ProbeLog,
    ) -> WalkResult:
        name = auth.community.get_secret_value() if isinstance(auth, CommunityAuth) else "v3"
        self.calls.append((name, list(plan.gets), list(plan.walks)))
        if name not in self.answers or address not in (self.addresses or {address}):
            raise SnmpProbeError(f"no answer for {name}")
        result = WalkResult()
        for oid in plan.gets:
            if oid in self.values:
                result.add_scalar(oid, self.values[oid])  # type: ignore[arg-type]
        return result


AUTHS: list[tuple[str, CommunityAuth | UsmAuth]] = [
    ("first", CommunityAuth.model_validate({"version": "2c", "community": "one"})),
    ("second", CommunityAuth.model_validate({"version": "2c", "community": "two"})),
]


def test_first_auth_that_answers_wins_and_picks_the_auto_profile() -> None:
    reader = FakeReader(SYS, {"two"})
    settings = ReadSettings(161, 0.1, 0, ("lldp",))
    examined = asyncio.run(
        examine(reader, "192.0.2.1", AUTHS, load_profiles([]), settings, ProbeLog("x", "y"))
    )
    assert examined.auth_name == "second"
    ident = examined.identity
    assert (ident.vendor, ident.platform, ident.model) == ("juniper", "junos", "ex4300-48t")
    assert ident.profiles == ("juniper_junos",)
    sys_gets = ["1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.1.0"]
    assert reader.calls[0] == ("one", sys_gets, [])
    assert reader.calls[1] == ("two", sys_gets, [])
    _, _gets, walks = reader.calls[2]
    assert "1.0.8802.1.1.2.1.4.1.1.9" in walks  # lldpRemSysName, from the lldp profile
    assert not any(w.startswith("1.3.6.1.2.1.2.2.1") for w in walks)  # no interface table


def test_no_auth_answers_names_each_failure() -> None:
    reader = FakeReader(SYS, set())
    with pytest.raises(NotIdentifiedError, match="first: no answer for one; second: no answer"):
        asyncio.run(
            examine(reader, "192.0.2.1", AUTHS, {}, ReadSettings(161, 0.1, 0, ()), ProbeLog("", ""))
        )


# -- registry, http_sd, file_sd ------------------------------------------------------------------
def _device(
    job: str, address: str, *, port: int = 161, seen: float = 0.0, name: str = ""
) -> Device:
    ident = Identity("1.3.6.1.4.1.9.1.1", name or address, "", vendor="cisco")
    return Device(job, address, port, "auto", Examined("public_v2", ident, ()), 0, seen, seen)


def test_a_device_of_two_jobs_is_listed_once_by_the_first_job() -> None:
    registry = Registry()
    registry.update("b", [_device("b", "10.0.0.1"), _device("b", "10.0.0.10")], 0, 60)
    registry.update("a", [_device("a", "10.0.0.1")], 0, 60)
    groups = registry.sd_groups(["a", "b"])
    assert [(g["targets"], g["labels"]["discovery_job"]) for g in groups] == [
        (["10.0.0.1"], "a"),
        (["10.0.0.10"], "b"),
    ]
    assert registry.sd_groups(["a", "b"], "b")[0]["labels"]["discovery_job"] == "b"


def test_target_carries_a_port_other_than_161_and_brackets_ipv6() -> None:
    assert _device("a", "10.0.0.1", port=1161).target == "10.0.0.1:1161"
    assert _device("a", "2001:db8::1").target == "[2001:db8::1]"
    assert _device("a", "2001:db8::1", port=1161).target == "[2001:db8::1]:1161"


def test_grace_period_and_first_seen() -> None:
    registry = Registry()
    new, gone = registry.update("a", [_device("a", "10.0.0.1", seen=100)], 100, 50)
    assert [d.address for d in new] == ["10.0.0.1"]
    assert gone == []
    new, gone = registry.update("a", [_device("a", "10.0.0.1", seen=120)], 120, 50)
    assert new == []
    assert registry.devices()[0].first_seen == 100
    assert registry.update("a", [], 170, 50) == ([], [])  # 50 s after last seen: stays
    _, gone = registry.update("a", [], 171, 50)
    assert [d.address for d in gone] == ["10.0.0.1"]
    assert registry.devices() == []


def test_sd_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "sd" / "discovered.json"
    write_atomically(path, [{"targets": ["a"], "labels": {}}])
    write_atomically(path, [{"targets": ["b"], "labels": {}}])
    assert json.loads(path.read_text()) == [{"targets": ["b"], "labels": {}}]
    assert [p.name for p in path.parent.iterdir()] == ["discovered.json"]


# -- topology --------------------------------------------------------------------------------------
def test_neighbour_without_address_matches_by_name_and_svg_escapes() -> None:
    a = _device("j", "10.0.0.1", name="a<b>.example")
    neighbor = Neighbor("lldp", "Gi1", "core&2.example.net", "Gi9", "", "", "")
    b = _device("j", "10.0.0.2", name="CORE&2")
    a = Device(a.job, a.address, a.port, a.module, Examined("x", a.examined.identity, (neighbor,)),
               0, 0, 0)  # fmt: skip
    topo = build([a, b])
    assert topo["edges"] == [
        {"id": "lldp|10.0.0.1|Gi1|10.0.0.2|Gi9", "protocol": "lldp", "source": "10.0.0.1",
         "source_port": "Gi1", "target": "10.0.0.2", "target_port": "Gi9"}
    ]  # fmt: skip
    svg = render_svg(topo)
    assert "a&lt;b&gt;.example" in svg
    assert "<b>" not in svg
    assert svg.count("<circle") == 2
    assert svg.count("<line") == 1


# -- HTTP ------------------------------------------------------------------------------------------
CONFIG = """\
auths:
  public_v2: {version: 2c, community: public}
discovery:
  jobs:
    - {name: lab, networks: [127.0.9.0/30], auths: [public_v2], port: 9, timeout: 0.1,
       retries: 0, crawl: {max_depth: 0}}
"""


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    path = tmp_path / "chm.yml"
    path.write_text(CONFIG)
    return await aiohttp_client(create_app(load_config(path), enable_lifecycle=True))


async def test_sd_unknown_job_is_a_400(client: Client) -> None:
    response = await client.get("/sd?job=nope")
    assert response.status == 400
    assert await response.text() == "unknown discovery job 'nope' (known: lab)\n"


async def test_sd_topology_and_landing_page_answer(client: Client) -> None:
    assert await (await client.get("/sd")).json() == []
    assert await (await client.get("/topology")).json() == {"nodes": [], "edges": []}
    svg = await client.get("/topology.svg")
    assert svg.content_type == "image/svg+xml"
    assert "no devices discovered yet" in await svg.text()
    page = await (await client.get("/")).text()
    assert "<h2>Discovery</h2>" in page
    assert "<svg" in page


async def test_reload_without_the_job_forgets_its_metrics(client: Client, tmp_path: Path) -> None:
    metrics = await (await client.get("/metrics")).text()
    assert 'chm_exporter_discovery_interval_seconds{discovery_job="lab"} 3600.0' in metrics
    (tmp_path / "chm.yml").write_text(CONFIG.split("discovery:")[0])
    assert (await client.post("/-/reload")).status == 200
    metrics = await (await client.get("/metrics")).text()
    assert "lab" not in metrics


# -- a run, with seeds only (no sweep) -------------------------------------------------------------
def test_seed_run_lists_the_device_writes_the_sd_file_and_counts(tmp_path: Path) -> None:
    sd_file = tmp_path / "discovered.json"
    text = f"""\
auths:
  first: {{version: 2c, community: one}}
  second: {{version: 2c, community: two}}
discovery:
  sd_file: {sd_file}
  jobs:
    - {{name: seeds, seeds: [192.0.2.7, 192.0.2.8], auths: [first, second]}}
"""
    loaded = LoadedConfig(parse_config(text), None, load_profiles([]))
    registry = CollectorRegistry()
    discovery = Discovery(lambda: loaded, DiscoveryMetrics(registry))
    discovery.reader = FakeReader(SYS, {"two"}, {"192.0.2.7"})
    report = asyncio.run(discovery.run_once(loaded.config.discovery.jobs[0]))
    assert (report.swept, report.identified) == (0, 1)
    assert json.loads(sd_file.read_text()) == discovery.sd_groups()
    assert discovery.sd_groups()[0]["labels"]["__param_auth"] == "second"

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"discovery_job": "seeds", **labels})

    assert sample("chm_exporter_discovery_devices", vendor="juniper") == 1
    assert sample("chm_exporter_discovery_failures_total", reason="not_identified") == 1
    assert sample("chm_exporter_discovery_new_devices_total") == 1
    assert sample("chm_exporter_discovery_runs_total") == 1


def test_a_worker_that_follows_answers_what_the_one_running_the_jobs_found(
    tmp_path: Path,
) -> None:
    text = """\
auths:
  first: {version: 2c, community: one}
discovery:
  jobs:
    - {name: seeds, seeds: [192.0.2.7], auths: [first]}
"""
    loaded = LoadedConfig(parse_config(text), None, load_profiles([]))
    shared = tmp_path / "discovery.json"
    runner = Discovery(lambda: loaded, DiscoveryMetrics(CollectorRegistry()), shared=shared)
    runner.reader = FakeReader(SYS, {"one"})
    follower_metrics = CollectorRegistry()
    follower = Discovery(
        lambda: loaded, DiscoveryMetrics(follower_metrics), shared=shared, runs_jobs=False
    )
    assert follower.sd_groups() == []  # nothing written yet
    assert asyncio.run(_apply_and_close(follower)) == 0  # starts no job
    asyncio.run(runner.run_once(loaded.config.discovery.jobs[0]))
    assert follower.sd_groups() == runner.sd_groups() != []
    assert follower.registry.devices() == runner.registry.devices()
    assert follower.reports == runner.reports
    assert (
        follower_metrics.get_sample_value(
            "chm_exporter_discovery_runs_total", {"discovery_job": "seeds"}
        )
        is None
    )  # counted once, by the one that ran it


def test_the_shared_file_keeps_every_field_and_is_read_again_only_when_replaced(
    tmp_path: Path,
) -> None:
    neighbor = Neighbor("cdp", "Gi1", "core2", "Gi9", "00:11", "WS-C3850", "10.0.0.2")
    device = _device("j", "10.0.0.1", name="core1")
    device = replace(device, examined=replace(device.examined, neighbors=(neighbor,)))
    report = RunReport("j", 100.0, 1.5, 254, 3, 2, 1, 1, ["10.0.0.9: no answer"])
    path = tmp_path / "discovery.json"
    shared = SharedFile(path)
    assert shared.refresh() is False  # no file yet: nothing found yet
    save(path, [device], {"j": report})
    assert shared.refresh() is True
    assert (shared.devices, shared.reports) == ([device], {"j": report})
    assert shared.refresh() is False  # unchanged: not parsed again
    save(path, [], {})
    assert shared.refresh() is True
    assert shared.devices == []


async def _apply_and_close(discovery: Discovery) -> int:
    """Apply the config; how many job tasks that started."""
    discovery.apply()
    started = len(discovery._tasks)
    await discovery.close()
    return started


def test_runs_follow_the_configured_rate_and_budget() -> None:
    """The shared rate is the smallest job rate of the config the run reads (no apply())."""

    def loaded(rate: int, concurrency: int) -> LoadedConfig:
        text = f"""\
auths: {{a: {{version: 2c}}}}
discovery:
  concurrency: {concurrency}
  jobs:
    - {{name: one, seeds: [192.0.2.1], auths: [a], rate: {rate}}}
    - {{name: two, seeds: [192.0.2.2], auths: [a], rate: 3000}}
"""
        return LoadedConfig(parse_config(text), None, {})

    current = loaded(2000, 4)
    discovery = Discovery(lambda: current, DiscoveryMetrics(CollectorRegistry()))
    assert discovery.limiter.rate == 2000
    current = loaded(500, 2)
    discovery.reader = FakeReader(SYS, set())
    asyncio.run(discovery.run_once(current.config.discovery.jobs[1]))
    assert discovery.limiter.rate == 500


def test_identification_requests_count_against_the_rate() -> None:
    """3 GETs (one batch) and 4 columns are 5 packets: the tenth read of 5 waits for slot 45
    at 100 packets/s, 0.45 s (less one 20 ms burst); unpaced, the reads take microseconds."""
    plan = WalkPlan(gets=["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"],
                    walks=["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3", "1.3.6.1.2.1.2.2.1.5",
                           "1.3.6.1.2.1.2.2.1.8"])  # fmt: skip
    assert estimated_packets(plan) == 5
    auth = AUTHS[0][1]

    async def main() -> float:
        paced = PacedReader(FakeReader(SYS, {"one"}), RateLimiter(100))
        started = time.perf_counter()
        for _ in range(10):
            await paced.read("192.0.2.1", 161, auth, plan, Budget(1, 0, 1e9), ProbeLog("", ""))
        return time.perf_counter() - started

    assert asyncio.run(main()) >= 0.42
