"""Past one Prometheus, as docs/scaling.md tells it: hashmod shards that remote_write to a store.

Everything is started here, on loopback, and stopped after:

- the devices: one net-snmp ``snmpd`` answering on port 161 of several ``127.a.b.c`` addresses
  (:class:`tests.servers.snmpdfleet.MultiAddressSnmpd`), and a few addresses where nothing
  answers SNMP (ping still does: all of 127/8 is loopback), so ``ChmSnmpDown`` fires for them;
- one exporter (``python -m chm_exporter``) with deploy/chm/chm.yml's auths and modules;
- Debian's Prometheus 2.42 as the shards, each running **the sharding example of
  docs/scaling.md** (the first ``yaml`` block that uses ``hashmod``), read from the document,
  plus the ``remote_write`` section of its second example, which the document says to add to
  every server; as many shards as the example's ``modulus``;
- a third Prometheus with ``--web.enable-remote-write-receiver``, standing in for the store.

What the test changes in the document's configs, and nothing else: the shard number (the
document says to template it), the exporter's address, intervals of 1-3 s, the ``for:`` of the
shipped rules divided by 60 (as tests/e2e/test_alerting.py does), no ``alerting`` section (no
Alertmanager here: the alerts are read from each shard's API and from the store), the
``remote_write`` URL (the store's receiver) and its ``batch_send_deadline`` (1 s instead of
5 s) and its password file (written here).

Assertions: the shards' targets split the devices with no overlap and no gap (each device on
the shard Prometheus' hashmod gives it, both jobs on the same shard); the store holds every
device, each with the ``shard`` label of the one shard that scraped it; ``ChmSnmpDown``, a
shipped rule evaluated on the shards, fires on each shard for exactly its own silent devices,
and reaches the store as ``ALERTS``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import stack as e2e
from tests.kit import layout
from tests.kit.tools import REPO, binary
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command
from tests.servers.snmpdfleet import MultiAddressSnmpd, loopback_block

pytestmark = pytest.mark.slow

SCALING_DOC = REPO / "docs" / "scaling.md"
EXPORTER_PLACEHOLDER = "chm-exporter:9840"
PROBE_JOBS = ("chm_snmp", "chm_icmp")
#: answering / silent devices per shard
LIVE_PER_SHARD = 3
SILENT_PER_SHARD = 1
INTERVAL = "1s"
#: module=auto reads sysObjectID, then the linux_netsnmp profile: under a busy machine a 1 s
#: scrape (0.5 s deadline after the exporter's offset) is too tight.
SNMP_INTERVAL = "3s"
START_TIMEOUT = 60
SECRETS = {
    "snmp_community": "public",
    "snmp_v3_auth_password": "sharding-auth-password",
    "snmp_v3_priv_password": "sharding-priv-password",
    "ssh_password": "sharding-ssh-password",
}


# -- the document's examples ------------------------------------------------------------------
def doc_examples() -> tuple[dict[str, Any], dict[str, Any]]:
    """(sharding example, remote_write example) of docs/scaling.md, parsed."""
    blocks = re.findall(r"```yaml\n(.*?)```", SCALING_DOC.read_text(encoding="utf-8"), re.S)
    configs = [yaml.safe_load(b) for b in blocks if "scrape_configs:" in b]
    (sharding,) = [c for c in configs if "hashmod" in yaml.safe_dump(c)]
    (writing,) = [c for c in configs if "remote_write" in c]
    return sharding, writing


def shard_rules(job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's hashmod rule and the keep rule after it (the document's sharding pattern)."""
    rules = job["relabel_configs"]
    (index,) = [i for i, rule in enumerate(rules) if rule.get("action") == "hashmod"]
    hashmod, keep = rules[index], rules[index + 1]
    assert keep["action"] == "keep", keep
    assert keep["source_labels"] == [hashmod["target_label"]], keep
    assert hashmod["source_labels"] == ["__address__"], hashmod
    return hashmod, keep


def shard_count(sharding: dict[str, Any]) -> int:
    """The example's modulus, the same in every probe job; its own shard number is 0."""
    jobs = {job["job_name"]: job for job in sharding["scrape_configs"]}
    moduli = set()
    for name in PROBE_JOBS:
        hashmod, keep = shard_rules(jobs[name])
        assert keep["regex"] == sharding["global"]["external_labels"]["shard"] == "0"
        moduli.add(hashmod["modulus"])
    (modulus,) = moduli
    assert isinstance(modulus, int), modulus
    assert modulus >= 2, modulus
    return modulus


def prometheus_hashmod(value: str, modulus: int) -> int:
    """Prometheus' ``hashmod``: MD5 of the value, its last 8 bytes big-endian, modulo."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


def shard_config(
    sharding: dict[str, Any], writing: dict[str, Any], *, shard: int, store: str, secret: Path
) -> dict[str, Any]:
    """The document's sharding example for ``shard``, with its remote_write pointed at the store
    (see the module docstring for everything that changes)."""
    config = copy.deepcopy(sharding)
    config["global"].update(
        scrape_interval=INTERVAL,
        scrape_timeout=INTERVAL,
        evaluation_interval=INTERVAL,
        external_labels={**config["global"]["external_labels"], "shard": str(shard)},
    )
    config.pop("alerting")
    for job in config["scrape_configs"]:
        interval = SNMP_INTERVAL if job["job_name"] == "chm_snmp" else INTERVAL
        job["scrape_interval"] = job["scrape_timeout"] = interval
        if job["job_name"] in PROBE_JOBS:
            shard_rules(job)[1]["regex"] = str(shard)
    remote_write = copy.deepcopy(writing["remote_write"])
    for target in remote_write:
        target["url"] = f"{store}/api/v1/write"
        target["basic_auth"]["password_file"] = str(secret)
        target["queue_config"]["batch_send_deadline"] = "1s"
    config["remote_write"] = remote_write
    return config


def write_file_sd(config: dict[str, Any], dest: Path, targets: list[dict[str, Any]]) -> None:
    """The target list where the config's ``file_sd_configs`` look for it (relative to it)."""
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            for pattern in sd["files"]:
                folder = (dest / pattern).parent
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "devices.yml").write_text(yaml.safe_dump(targets), encoding="utf-8")


# -- the stack --------------------------------------------------------------------------------
@dataclass
class Fleet:
    shards: list[str]  # base URLs, index = shard number
    store: str
    live: list[str]
    silent: list[str]
    expected_shard: dict[str, int]
    services: list[e2e.Service]
    started: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def devices(self) -> list[str]:
        return sorted(self.live + self.silent)

    def wait(self, check: Any, what: str, timeout: float = START_TIMEOUT) -> Any:
        try:
            return e2e.wait_until(check, what, timeout, alive=self.services, interval=0.5)
        except AssertionError as exc:
            logs = "".join(f"\n--- {s.name} log\n{s.log_tail(2000)}" for s in self.services)
            raise AssertionError(f"{exc}{logs}") from None

    def mark(self, phase: str) -> None:
        self.timings[phase] = round(time.monotonic() - self.started, 1)


def pick_devices(modulus: int) -> tuple[list[str], list[str], dict[str, int]]:
    """Addresses in a random loopback block, chosen so that every shard gets
    ``LIVE_PER_SHARD`` answering and ``SILENT_PER_SHARD`` silent devices."""
    block = list(loopback_block().hosts())
    live: list[str] = []
    silent: list[str] = []
    expected: dict[str, int] = {}
    wanted = {shard: [LIVE_PER_SHARD, SILENT_PER_SHARD] for shard in range(modulus)}
    for address in map(str, block):
        shard = prometheus_hashmod(address, modulus)
        need = wanted[shard]
        if need[0]:
            live.append(address)
            need[0] -= 1
        elif need[1]:
            silent.append(address)
            need[1] -= 1
        else:
            continue
        expected[address] = shard
        if not any(n for pair in wanted.values() for n in pair):
            return live, silent, expected
    raise AssertionError("a /24 did not give every shard its devices")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("sharding")
    sharding, writing = doc_examples()
    modulus = shard_count(sharding)
    live, silent, expected = pick_devices(modulus)
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(MultiAddressSnmpd(live, sys_name="chm-sharding-snmpd"))
        services: list[e2e.Service] = []

        def start(name: str, argv: list[str]) -> None:
            services.append(e2e.Service(name, argv, tmp).start())
            cleanup.callback(services[-1].stop)

        exporter = f"127.0.0.1:{free_tcp_port()}"
        exporter_config = e2e.exporter_config(tmp / "chm", secrets=SECRETS, extra_auths={})
        start("exporter", exporter_command(exporter_config, exporter))

        store_port = free_tcp_port()
        store = f"http://127.0.0.1:{store_port}"
        store_config = tmp / "store.yml"
        store_config.write_text("global:\n  scrape_interval: 1m\n", encoding="utf-8")
        start(
            "store",
            [binary("prometheus"), f"--config.file={store_config}",
             f"--storage.tsdb.path={tmp / 'store-data'}",
             f"--web.listen-address=127.0.0.1:{store_port}",
             "--web.enable-remote-write-receiver"],
        )  # fmt: skip

        secret = tmp / "remote_write_password"
        secret.write_text("sharding-remote-write-password", encoding="utf-8")
        targets = [{"targets": live + silent, "labels": {"site": "sharding"}}]
        shards = []
        for shard in range(modulus):
            dest = tmp / f"shard{shard}"
            path = layout.prometheus_dir(dest, exporter=exporter, targets=targets)
            e2e.shorten_alert_durations(dest / "rules")
            config = shard_config(sharding, writing, shard=shard, store=store, secret=secret)
            write_file_sd(config, dest, targets)
            text = yaml.safe_dump(config, sort_keys=False)
            assert EXPORTER_PLACEHOLDER in text, "the example no longer names the exporter"
            path.write_text(text.replace(EXPORTER_PLACEHOLDER, exporter), encoding="utf-8")
            port = free_tcp_port()
            start(
                f"shard{shard}",
                [binary("prometheus"), f"--config.file={path}",
                 f"--storage.tsdb.path={dest / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
            )  # fmt: skip
            shards.append(f"http://127.0.0.1:{port}")

        state = Fleet(shards, store, live, silent, expected, services, started)
        for url in [f"http://{exporter}/-/healthy", f"{store}/-/ready"] + [
            f"{s}/-/ready" for s in shards
        ]:
            state.wait(functools.partial(e2e.http_ok, url), f"{url} answers")
        state.mark("processes ready")
        try:
            yield state
        finally:
            print(f"sharding timings (s since start): {state.timings}", file=sys.stderr)


# -- helpers ----------------------------------------------------------------------------------
def scraped_instances(base: str) -> dict[str, set[str]] | None:
    """Instance -> probe jobs among the shard's active targets, once every target was scraped
    at least once (None before)."""
    reply = e2e.http_get(f"{base}/api/v1/targets", {"state": "active"})
    found: dict[str, set[str]] = {}
    for target in reply["data"]["activeTargets"]:
        job = target["labels"]["job"]
        if job not in PROBE_JOBS:
            continue
        if target["health"] == "unknown":
            return None
        found.setdefault(target["labels"]["instance"], set()).add(job)
    return found


def firing(base: str, alertname: str) -> set[str]:
    """Instances for which the Prometheus at ``base`` fires ``alertname`` now."""
    alerts = e2e.http_get(f"{base}/api/v1/alerts")["data"]["alerts"]
    return {
        a["labels"]["instance"]
        for a in alerts
        if a["labels"]["alertname"] == alertname and a["state"] == "firing"
    }


def shards_by_instance(base: str, expr: str) -> dict[str, set[str]]:
    """Instance -> values of the ``shard`` label among the series of ``expr``."""
    found: dict[str, set[str]] = {}
    for sample in e2e.prom_query(base, f"group by (instance, shard) ({expr})"):
        labels = sample["metric"]
        found.setdefault(labels["instance"], set()).add(labels.get("shard", ""))
    return found


# -- the scenario -----------------------------------------------------------------------------
def test_shards_split_the_fleet_and_the_store_sees_all_of_it(fleet: Fleet) -> None:
    # Each shard scrapes exactly the devices hashmod gives it, with both probe jobs.
    per_shard = []
    for shard, base in enumerate(fleet.shards):
        found = fleet.wait(
            functools.partial(scraped_instances, base), f"shard {shard} scraped its targets"
        )
        mine = sorted(d for d, s in fleet.expected_shard.items() if s == shard)
        assert sorted(found) == mine, f"shard {shard} scrapes {sorted(found)}, expected {mine}"
        assert all(jobs == set(PROBE_JOBS) for jobs in found.values()), found
        per_shard.append(set(found))
    fleet.mark("shards scraped")
    every = [device for scraped in per_shard for device in scraped]
    assert sorted(every) == fleet.devices, "a device is scraped by no shard or by two"

    # The devices answer through the exporter: the live ones over SNMP, all of them to ping.
    for shard, base in enumerate(fleet.shards):

        def probes_ok(base: str = base, shard: int = shard) -> bool:
            mine = {d for d, s in fleet.expected_shard.items() if s == shard}
            snmp = {
                r["metric"]["instance"]
                for r in e2e.prom_query(base, 'probe_success{prober="snmp"} == 1')
            }
            icmp = {
                r["metric"]["instance"]
                for r in e2e.prom_query(base, 'probe_success{prober="icmp"} == 1')
            }
            return snmp == mine & set(fleet.live) and icmp == mine

        fleet.wait(probes_ok, f"shard {shard}'s live devices answer SNMP and all answer ping")
    fleet.mark("probes succeed")

    # A shipped alert rule, evaluated on each shard, fires for that shard's silent devices only.
    for shard, base in enumerate(fleet.shards):
        silent_here = {d for d in fleet.silent if fleet.expected_shard[d] == shard}
        got = fleet.wait(
            lambda base=base: firing(base, "ChmSnmpDown") or None,
            f"ChmSnmpDown fires on shard {shard}",
        )
        assert got == silent_here, f"shard {shard}: ChmSnmpDown for {got}, not {silent_here}"
    fleet.mark("alerts fire on the shards")

    # The store sees the whole fleet, every device from exactly the shard that scraped it.
    expected = {d: {str(s)} for d, s in fleet.expected_shard.items()}

    def store_complete() -> dict[str, set[str]] | None:
        seen = shards_by_instance(fleet.store, 'probe_success{job=~"chm_snmp|chm_icmp"}')
        return seen if set(seen) == set(fleet.devices) else None

    seen = fleet.wait(store_complete, "the store holds every device")
    assert seen == expected, f"store: instance -> shard {seen}, expected {expected}"
    snmp_ok = {
        r["metric"]["instance"]
        for r in e2e.prom_query(fleet.store, 'probe_success{prober="snmp"} == 1')
    }
    assert snmp_ok == set(fleet.live)
    # Dashboards' series arrive too (the doc's write_relabel_configs keep them) ...
    assert e2e.prom_query(fleet.store, 'count(chm_interface_up{instance=~"127.*"}) > 0')
    # ... and diagnostics it drops do not.
    assert not e2e.prom_query(fleet.store, "probe_snmp_pdus_sent")

    # The shards' alerts reach the store as ALERTS, each with its shard.
    def store_alerts() -> dict[str, set[str]] | None:
        seen = shards_by_instance(
            fleet.store, 'ALERTS{alertname="ChmSnmpDown", alertstate="firing"}'
        )
        return seen if set(seen) == set(fleet.silent) else None

    alerts = fleet.wait(store_alerts, "the store holds the shards' ChmSnmpDown alerts")
    assert alerts == {d: expected[d] for d in fleet.silent}
    fleet.mark("store complete")
