"""Fleet benchmark: one exporter scraping N SNMP agents at a Prometheus-like pace, all on loopback.

Run as root from the repository root (a network namespace, tap devices)::

    .venv/bin/python -m bench.fleet                  # 1,000 agents, 2 x 5 minutes, ~15 minutes
    .venv/bin/python -m bench.fleet --quick          # 100 agents, short phases, ~2 minutes
    .venv/bin/python -m bench.fleet --py-spy 120     # also sample the exporter with py-spy
    .venv/bin/python -m bench.fleet --anchors        # also snmp_exporter + blackbox_exporter

What happens, inside a private network namespace (``chmfleet-<hex>``, deleted after; nothing is
added to the host's interfaces or addresses):

1. ``--interfaces`` tap devices, so that every agent's IF-MIB lists them and ``lo``; a ``sink``
   tap with a static neighbour that swallows whatever is routed to 198.18.0.0/15 (the
   benchmarking range): those addresses are the *silent* devices, no SNMP or ICMP answer, no
   ICMP error, as a dead device.
2. ``--devices`` agents: every ``127.1.x.y`` is local, and net-snmp ``snmpd`` processes answer
   on port 161 of ``--per-agent`` (100) addresses each
   (:class:`tests.servers.snmpdfleet.MultiAddressSnmpd`): 10 processes for 1,000 agents.
3. CHM (``.venv/bin/chm-exporter``, ``--web.workers``) with module ``auto`` (sysObjectID picks
   the ``linux_netsnmp`` profile and the standard MIBs) and deploy/chm/chm.yml's ``icmp``
   module (3 echoes).
4. A load generator in this process, paced as Prometheus paces a scrape pool: every device is
   scraped with ``module=auto`` every ``--interval`` (60 s, timeout 30 s) and pinged with
   ``module=icmp`` every ``--icmp-interval`` (30 s, timeout 10 s), as deploy/prometheus's jobs
   do; the devices' offsets are spread evenly over the interval; keep-alive connections.

Phases: warm-up (``--warmup``, at least one SNMP interval: every device's first, uncached
scrape, which learns each column's rows and so walks with smaller bulks; a shorter one is raised
to the interval, with a note), then ``fleet`` (``--duration``), then ``fleet 10% silent`` (the
same exporter, ``--silent-share`` of the devices replaced by silent ones), then with
``--anchors`` the comparison (bench/fleetanchors.py): a fresh CHM with ``module=if_mib`` and
one-echo ICMP, then Debian's ``prometheus-snmp-exporter`` (bench/snmp_exporter.yml's if_mib:
ifTable and ifXTable) with ``prometheus-blackbox-exporter`` (one echo), on the same devices at
the same pace, each with a warm-up of one interval and ``--anchor-duration`` measured, and the
CHM / anchor ratios printed; then the throughput of 1 and 2 workers: a fresh exporter
each, ``--concurrency`` scrapes in flight without pause over ``--throughput-devices`` devices
(``--closed-loop-only``: only this). The closed loop is made fair on a shared machine with CPU
cgroups (bench/cpugroups.py): each worker in a group of its own, capped at ``--worker-cpu``
cores (one run per value; 0: uncapped), the agents and the load generator in one group, all
weighted ``--pin-weight`` against other sessions. Capped, the exporter is the bottleneck with 1
and with 2 workers, so the ratio measures the exporter, not what else runs.
Every 10 s the exporter's CPU (user and system apart, bench/fleetcpu.py), RSS, PSS and open
descriptors (supervisor and workers summed; the two anchors summed and apart), the agents' and
this process's CPU are sampled. The exporter's system CPU is the kernel's work on its behalf
(UDP on loopback, where a sender's ``sendto`` also runs the delivery; the HTTP answers; epoll):
a floor no change in Python removes, printed as the devices per core it alone would allow.
The summary is printed; everything goes to ``bench/results/fleet.json`` (git-ignored), the
processes' logs to ``bench/results/logs``.

Every process, tap and the namespace are removed at the end, also on Ctrl-C or SIGTERM.
Benchmarks only: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.mmap_dict import MmapedDict

from bench.cpugroups import CpuGroups
from bench.fleetanchors import (
    Route,
    anchor_processes,
    anchor_routes,
    chm_routes,
    ratio_rows,
    ratio_table,
    wait_anchors,
)
from bench.fleetcpu import (
    CpuSplit,
    cores_between,
    cpu_split_of,
    machine_busy_s,
    self_cpu_split,
)
from bench.run import (
    BLACKBOX_EXPORTER,
    CHM_BINARY,
    RESULTS,
    ROOT,
    SNMP_EXPORTER,
    Process,
    loadavg,
    percentile,
    proc_cpu_seconds,
    run_cleaning_up,
    run_in_netns,
    running,
    versions,
    wait_http,
)
from tests.servers.ports import free_tcp_port
from tests.servers.snmpd import _ip_batch, tap_interfaces
from tests.servers.snmpdfleet import MultiAddressSnmpd, chunked

FLEET_CMD = [sys.executable, "-m", "bench.fleet"]
CHM_IF_MIB = "chm if_mib"
ANCHORS = "anchors"
NETNS_PREFIX = "chmfleet-"
TAP_PREFIX = "chmf"
SINK = "chmfsink"
SILENT_NET = ipaddress.IPv4Network("198.18.0.0/15")
SINK_GATEWAY = "198.19.255.254"
ANSWERING_BASE = ipaddress.IPv4Address("127.1.0.1")
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
SAMPLE_EVERY_S = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

CHM_CONFIG = """\
auths:
  public_v2: {version: 2c, community: public}
modules:
  icmp:
    icmp: {count: 3, preferred_ip_protocol: ip4}
  icmp1:  # the closed loop's and --anchors': one echo (as blackbox_exporter sends)
    icmp: {count: 1, preferred_ip_protocol: ip4}
  if_mib:  # --anchors: what snmp_exporter's if_mib walks (bench/run.py's CHM module)
    snmp: {profiles: [system, if_mib]}
"""


def chm_config(max_repetitions: int | None) -> str:
    """The exporter's config; ``auto`` with another max-repetitions when one is given."""
    if max_repetitions is None:
        return CHM_CONFIG
    return CHM_CONFIG + f"  auto:\n    snmp: {{max_repetitions: {max_repetitions}}}\n"


_SNMP_OK = re.compile(r'^probe_success\{prober="snmp"\} 1$', re.M)
_ICMP_OK = re.compile(r'^probe_success\{prober="icmp"\} 1$', re.M)
_VARBINDS = re.compile(r"^probe_snmp_varbinds (\S+)$", re.M)


# -- addresses and processes ------------------------------------------------------------------
def answering_addresses(n: int) -> list[str]:
    """``n`` loopback addresses 127.1.0.1, 127.1.0.2, ... (skipping .0 and .255)."""
    found: list[str] = []
    address = ANSWERING_BASE
    while len(found) < n:
        if int(address) % 256 not in (0, 255):
            found.append(str(address))
        address += 1
    return found


def silent_addresses(n: int) -> list[str]:
    """``n`` addresses in 198.18.0.0/15 (routed into the sink)."""
    hosts = SILENT_NET.hosts()
    return [str(next(hosts)) for _ in range(n)]


def with_silent(answering: Sequence[str], silent: Sequence[str]) -> list[tuple[str, bool]]:
    """The fleet with ``len(silent)`` of its devices replaced by silent ones, spread evenly
    (so that they are spread over the scrape interval too)."""
    mixed = [(address, False) for address in answering]
    if silent:
        step = len(answering) / len(silent)
        for n, address in enumerate(silent):
            mixed[int(n * step)] = (address, True)
    return mixed


@contextlib.contextmanager
def silent_sink() -> Iterator[None]:
    """Route 198.18.0.0/15 into a tap nobody reads (a static neighbour, so no ARP): packets
    to it vanish without an answer or an error."""
    _ip_batch(
        [
            f"tuntap add dev {SINK} mode tap",
            f"link set {SINK} up",
            f"neigh add {SINK_GATEWAY} lladdr 02:00:00:00:00:01 dev {SINK} nud permanent",
            f"route add {SILENT_NET} via {SINK_GATEWAY} dev {SINK} onlink",
        ],
        check=True,
    )
    try:
        yield
    finally:
        _ip_batch([f"tuntap del dev {SINK} mode tap"])


def group_pids(pid: int) -> list[int]:
    """A process and its children (the exporter's supervisor and workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *map(int, children)]


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(pid)
    return total


def memory_of(pids: Sequence[int]) -> tuple[float, float]:
    """(RSS, PSS) in MiB, summed (PSS shares the pages a fork shares)."""
    rss = pss = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key == "Rss":
                    rss += int(rest.split()[0]) / 1024
                elif key == "Pss":
                    pss += int(rest.split()[0]) / 1024
    return rss, pss


def fds_of(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/fd"))
    return total


def self_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- scraping ---------------------------------------------------------------------------------
@dataclass
class Scrape:
    """One scrape as the load generator saw it."""

    kind: str  # snmp | icmp
    target: str
    silent: bool
    started: float  # monotonic
    wall: float
    ok: bool
    status: int
    varbinds: int | None
    samples: int
    pdus: int | None = None
    body_bytes: int = 0
    error: str | None = None


@dataclass
class Sample:
    """Resources every SAMPLE_EVERY_S seconds."""

    t: float  # seconds since the start of the bench
    phase: str
    exporter_cpu_s: float
    exporter_rss_mib: float
    exporter_pss_mib: float
    exporter_fds: int
    agents_cpu_s: float
    client_cpu_s: float
    load1: float
    #: the three CPU figures above, user and system apart
    exporter_split: CpuSplit
    agents_split: CpuSplit
    client_split: CpuSplit
    #: per exporter process group (CHM; or snmp_exporter and blackbox_exporter apart):
    #: [user CPU s, system CPU s, RSS MiB]
    parts: dict[str, list[float]] = field(default_factory=dict)
    machine_busy_s: float = 0.0  # every process on the machine, ours included


@dataclass
class Fleet:
    """What the scrapers and samplers share.

    ``exporter`` (with ``also``: other processes that count as the exporter, blackbox_exporter
    beside snmp_exporter) answers ``routes`` (SNMP, ICMP); ``base_url`` is its HTTP root.
    """

    base_url: str
    exporter: Process
    agent_pids: list[int]
    routes: tuple[Route, Route] | None = None
    also: list[Process] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    scrapes: list[Scrape] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    phase: str = "setup"

    def __post_init__(self) -> None:
        if self.routes is None:
            self.routes = chm_routes(self.base_url, "auto", "icmp")

    def exporter_pids(self) -> list[int]:
        return [pid for p in (self.exporter, *self.also) for pid in group_pids(p.pid)]

    def sample(self) -> Sample:
        pids = self.exporter_pids()
        rss, pss = memory_of(pids)
        cpu = cpu_split_of(pids)
        agents = cpu_split_of(self.agent_pids)
        client = self_cpu_split()
        parts = {}
        for process in (self.exporter, *self.also):
            mine = group_pids(process.pid)
            split = cpu_split_of(mine)
            parts[process.name] = [split.user_s, split.sys_s, round(memory_of(mine)[0], 1)]
        return Sample(
            t=round(time.monotonic() - self.t0, 2),
            phase=self.phase,
            exporter_cpu_s=cpu.total_s,
            exporter_rss_mib=round(rss, 1),
            exporter_pss_mib=round(pss, 1),
            exporter_fds=fds_of(pids),
            agents_cpu_s=agents.total_s,
            client_cpu_s=client.total_s,
            load1=float(loadavg()[0]),
            exporter_split=cpu,
            agents_split=agents,
            client_split=client,
            parts=parts,
            machine_busy_s=machine_busy_s(),
        )


async def scrape_once(
    http: aiohttp.ClientSession,
    route: Route,
    target: str,
    silent: bool,
    scrape_timeout: float,
) -> Scrape:
    url = route.for_target(target)
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": f"{scrape_timeout:g}"}
    started = time.monotonic()
    status, body, error = 0, "", None
    try:
        async with http.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=scrape_timeout)
        ) as resp:
            status = resp.status
            body = await resp.text()
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    wall = time.monotonic() - started
    ok = status == 200 and route.ok.search(body) is not None
    varbinds = pdus = None
    if route.varbinds and (match := route.varbinds.search(body)):
        varbinds = int(float(match.group(1)))
    if status not in (0, 200):
        error = f"HTTP {status}: {body[:200]}"
    samples = body.count("\n") - body.count("# ")  # sample lines (HELP/TYPE lines out)
    if route.pdus and (match := route.pdus.search(body)):
        pdus = int(float(match.group(1)))
    return Scrape(
        route.prober, target, silent, started, wall, ok, status, varbinds, samples, pdus,
        len(body), error,
    )  # fmt: skip


async def paced(
    http: aiohttp.ClientSession,
    fleet: Fleet,
    targets: Sequence[tuple[str, bool]],
    route: Route,
    interval: float,
    scrape_timeout: float,
    stop_at: float,
) -> None:
    """Scrape every target once per ``interval``, the targets' offsets spread evenly over it;
    one scrape per target at a time (the timeout is below the interval, as Prometheus wants)."""
    start = time.monotonic()

    async def one_target(index: int, target: str, silent: bool) -> None:
        due = start + interval * index / len(targets)
        while due < stop_at:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            fleet.scrapes.append(await scrape_once(http, route, target, silent, scrape_timeout))
            due += interval

    await asyncio.gather(*(one_target(i, t, s) for i, (t, s) in enumerate(targets)))


async def sampler(fleet: Fleet, stop: asyncio.Event) -> None:
    while not stop.is_set():
        fleet.samples.append(fleet.sample())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)
    fleet.samples.append(fleet.sample())


# -- phases -----------------------------------------------------------------------------------
@dataclass
class KindStats:
    scrapes: int
    ok: int
    http_200: int  # answered, successful or not (a silent device's probe: 200, probe_success 0)
    success_ratio: float
    wall_p50_ms: float
    wall_p99_ms: float
    wall_max_ms: float
    varbinds_mean: float | None
    samples_mean: float
    pdus_mean: float | None
    body_bytes_mean: float
    first_error: str | None


def kind_stats(scrapes: Sequence[Scrape]) -> KindStats | None:
    if not scrapes:
        return None
    walls = [s.wall for s in scrapes]
    varbinds = [s.varbinds for s in scrapes if s.varbinds is not None and s.ok]
    failed = [s for s in scrapes if not s.ok]
    return KindStats(
        scrapes=len(scrapes),
        ok=len(scrapes) - len(failed),
        http_200=sum(1 for s in scrapes if s.status == 200),
        success_ratio=(len(scrapes) - len(failed)) / len(scrapes),
        wall_p50_ms=percentile(walls, 50) * 1000,
        wall_p99_ms=percentile(walls, 99) * 1000,
        wall_max_ms=max(walls) * 1000,
        varbinds_mean=sum(varbinds) / len(varbinds) if varbinds else None,
        samples_mean=sum(s.samples for s in scrapes) / len(scrapes),
        pdus_mean=_mean([s.pdus for s in scrapes if s.ok]),
        body_bytes_mean=sum(s.body_bytes for s in scrapes) / len(scrapes),
        first_error=next((f"{s.target}: {s.error or 'probe_success 0'}" for s in failed), None),
    )


@dataclass
class PhaseResult:
    """One measured phase."""

    name: str
    devices: int
    silent: int
    workers: int
    seconds: float
    snmp: KindStats | None
    icmp: KindStats | None
    snmp_silent: KindStats | None
    icmp_silent: KindStats | None
    exporter_cores: float
    agents_cores: float
    client_cores: float
    devices_per_exporter_core: float
    cpu_us_per_varbind: float | None
    rss_mib: list[float]
    pss_mib: list[float]
    fds: list[int]
    load1: list[float]
    exporter: str = "chm"  # what answered: chm, or the anchors
    modules: str = "auto + icmp"  # SNMP + ICMP module
    exporter_user_cores: float = 0.0
    exporter_sys_cores: float = 0.0
    exporter_sys_share: float = 0.0  # the kernel's share of the exporter's CPU
    agents_user_cores: float = 0.0
    agents_sys_cores: float = 0.0
    client_user_cores: float = 0.0
    client_sys_cores: float = 0.0
    cpu_us_per_varbind_user: float | None = None
    cpu_us_per_varbind_sys: float | None = None
    exporter_cpu_ms_per_device_minute: float = 0.0
    exporter_sys_ms_per_device_minute: float = 0.0
    #: devices per core if the exporter's user-space CPU were 0: the kernel's floor
    kernel_floor_devices_per_core: float | None = None
    #: per exporter process group: user_cores, sys_cores, rss_end_mib
    parts: dict[str, dict[str, float]] = field(default_factory=dict)
    #: what the rest of the machine took meanwhile (other sessions' work), in cores
    others_cores: float = 0.0
    #: the SNMP scrapes' median time in each 10 s of the phase (by start): a queue that
    #: grows shows as a rising list
    snmp_wall_p50_ms_every_10s: list[float] = field(default_factory=list)


def phase_result(
    fleet: Fleet,
    name: str,
    devices: int,
    silent: int,
    workers: int,
    t_start: float,
    t_end: float,
    exporter: str = "chm",
    modules: str = "auto + icmp",
) -> PhaseResult:
    mine = [s for s in fleet.samples if s.phase == name]
    first, last = mine[0], mine[-1]
    # The CPU read between the phase's first and last samples is that of the scrapes started in
    # it (the warm-up's last ones finished before it began; its own last ones finish before the
    # last sample, which may come seconds after its end when scrapes queue or time out): spread
    # over the phase's length, not the samples', as the scrape rate is.
    seconds = t_end - t_start
    scrapes = [s for s in fleet.scrapes if t_start <= s.started < t_end]

    def pick(kind: str, silent_ones: bool) -> KindStats | None:
        return kind_stats([s for s in scrapes if s.kind == kind and s.silent == silent_ones])

    split = cores_between(first.exporter_split, last.exporter_split, seconds)
    agents = cores_between(first.agents_split, last.agents_split, seconds)
    client = cores_between(first.client_split, last.client_split, seconds)
    cores = (last.exporter_cpu_s - first.exporter_cpu_s) / seconds
    snmp = pick("snmp", False)
    varbinds_per_s = (
        snmp.varbinds_mean * snmp.ok / (t_end - t_start) if snmp and snmp.varbinds_mean else None
    )
    parts = {}
    for part, (user1, sys1, rss1) in last.parts.items():
        user0, sys0, _ = first.parts.get(part, [user1, sys1, rss1])
        parts[part] = {
            "user_cores": (user1 - user0) / seconds,
            "sys_cores": (sys1 - sys0) / seconds,
            "rss_end_mib": rss1,
        }
    per_device_minute_ms = 60_000 / devices if devices else 0.0
    ours = split.total + agents.total + client.total
    windows: dict[int, list[float]] = collections.defaultdict(list)
    for scrape in scrapes:
        if scrape.kind == "snmp" and not scrape.silent:
            windows[int((scrape.started - t_start) // SAMPLE_EVERY_S)].append(scrape.wall)
    return PhaseResult(
        name=name,
        devices=devices,
        silent=silent,
        workers=workers,
        seconds=round(last.t - first.t, 1),
        snmp=snmp,
        icmp=pick("icmp", False),
        snmp_silent=pick("snmp", True),
        icmp_silent=pick("icmp", True),
        exporter_cores=cores,
        agents_cores=(last.agents_cpu_s - first.agents_cpu_s) / seconds,
        client_cores=(last.client_cpu_s - first.client_cpu_s) / seconds,
        devices_per_exporter_core=devices / cores if cores else float("inf"),
        cpu_us_per_varbind=cores / varbinds_per_s * 1e6 if varbinds_per_s else None,
        rss_mib=[s.exporter_rss_mib for s in mine],
        pss_mib=[s.exporter_pss_mib for s in mine],
        fds=[s.exporter_fds for s in mine],
        load1=[s.load1 for s in mine],
        exporter=exporter,
        modules=modules,
        exporter_user_cores=split.user,
        exporter_sys_cores=split.sys,
        exporter_sys_share=split.sys_share,
        agents_user_cores=agents.user,
        agents_sys_cores=agents.sys,
        client_user_cores=client.user,
        client_sys_cores=client.sys,
        cpu_us_per_varbind_user=split.user / varbinds_per_s * 1e6 if varbinds_per_s else None,
        cpu_us_per_varbind_sys=split.sys / varbinds_per_s * 1e6 if varbinds_per_s else None,
        exporter_cpu_ms_per_device_minute=cores * per_device_minute_ms,
        exporter_sys_ms_per_device_minute=split.sys * per_device_minute_ms,
        kernel_floor_devices_per_core=devices / split.sys if split.sys else None,
        parts=parts,
        others_cores=max(0.0, (last.machine_busy_s - first.machine_busy_s) / seconds - ours),
        snmp_wall_p50_ms_every_10s=[
            round(percentile(windows[w], 50) * 1000, 1) for w in sorted(windows)
        ],
    )


async def run_paced_phase(
    http: aiohttp.ClientSession,
    fleet: Fleet,
    name: str,
    targets: Sequence[tuple[str, bool]],
    args: argparse.Namespace,
    seconds: float,
) -> tuple[float, float]:
    """Scrape ``targets`` for ``seconds`` (SNMP and ICMP); return the phase's (start, end)."""
    fleet.phase = name
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler(fleet, stop))
    start = time.monotonic()
    end = start + seconds
    print(f"fleet: {name}: {len(targets)} devices for {seconds:g} s", flush=True)
    assert fleet.routes is not None
    snmp, icmp = fleet.routes
    await asyncio.gather(
        paced(http, fleet, targets, snmp, args.interval, args.snmp_timeout, end),
        paced(http, fleet, targets, icmp, args.icmp_interval, args.icmp_timeout, end),
    )
    stop.set()
    await sampling
    return start, end


@dataclass
class Throughput:
    kind: str
    workers: int
    concurrency: int
    devices: int
    seconds: float
    scrapes: int
    failures: int
    scrapes_per_s: float
    wall_p50_ms: float
    exporter_cores: float
    agents_cores: float
    client_cores: float
    exporter_cpu_ms_per_scrape: float
    per_worker_cpu_s: list[float]
    first_pass_cpu_ms_per_scrape: float  # every device new to the exporter
    first_pass_varbinds: float | None
    varbinds: float | None
    worker_cpu_budget: float = 0.0  # cores per worker (cgroup quota); 0: none
    per_worker_probes: list[int] = field(default_factory=list)  # answered by each worker
    per_worker_throttled_s: list[float] = field(default_factory=list)
    scrapes_per_exporter_cpu_s: float = 0.0


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the closed loop: one connection, one request at
    a time. aiohttp's client cost ~0.28 ms of CPU per request here (0.35-0.53 cores at 1,200-2,000
    ICMP probes/s): on a 2-core machine that is CPU the exporter's second worker needs."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, timeout_header: str) -> tuple[int, bytes]:
        """(status, body); (0, error text) when the connection fails."""
        for attempt in (0, 1):  # a kept-alive connection the server closed: once more
            try:
                if self._streams is None:
                    self._streams = await asyncio.open_connection(self._host, self._port)
                reader, writer = self._streams
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {self._host}\r\n"
                    f"X-Prometheus-Scrape-Timeout-Seconds: {timeout_header}\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                if b"\r\nconnection: close" in head.lower():
                    self.close()
                return status, body
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.close()
                if attempt:
                    return 0, f"{type(exc).__name__}: {exc}".encode()
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def raw_scrape(client: RawHttp, kind: str, target: str, scrape_timeout: float) -> Scrape:
    """One closed-loop scrape (as :func:`scrape_once`, through :class:`RawHttp`)."""
    module = "auto" if kind == "snmp" else kind
    started = time.monotonic()
    status, raw = await client.get(f"/probe?target={target}&module={module}", f"{scrape_timeout:g}")
    wall = time.monotonic() - started
    body = raw.decode("utf-8", "replace")
    pattern = _SNMP_OK if kind == "snmp" else _ICMP_OK
    ok = status == 200 and pattern.search(body) is not None
    varbinds = int(float(m.group(1))) if kind == "snmp" and (m := _VARBINDS.search(body)) else None
    error = None if status == 200 else f"HTTP {status}: {body[:200]}"
    size = len(raw)
    return Scrape(kind, target, False, started, wall, ok, status, varbinds, 0, None, size, error)


# prometheus_client's reader carries no annotations: typed here.
_read_metric_file: Callable[[str], Iterator[tuple[str, float, float, int]]] = (
    MmapedDict.read_all_values_from_file
)


def probes_per_worker(pids: Sequence[int]) -> dict[int, int]:
    """Probes each worker answered so far, from its prometheus_client multiprocess file
    (``chm_exporter_probes_total``; with --web.workers 1 there is none: {})."""
    counts: dict[int, int] = {}
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found = re.search(rf"(\S*chm-exporter-metrics-[^/\s]+)/counter_{pid}\.db", maps)
        if found is None:
            continue
        path = f"{found.group(1)}/counter_{pid}.db"
        total = 0.0
        for key, value, *_ in _read_metric_file(path):
            _, sample, labels, _ = json.loads(key)
            if sample == "chm_exporter_probes_total" and labels.get("prober") in ("snmp", "icmp"):
                total += value
        counts[pid] = int(total)
    return counts


async def throughput(
    fleet: Fleet,
    kind: str,
    targets: Sequence[str],
    workers: int,
    concurrency: int,
    seconds: float,
    budget: float = 0.0,
    groups: CpuGroups | None = None,
) -> Throughput:
    """Closed loop: ``concurrency`` scrapes in flight without pause, the targets in turn, after
    two unmeasured passes over them (every worker learns the devices); one :class:`RawHttp`
    connection per scrape in flight."""
    host, port = fleet.base_url.removeprefix("http://").rsplit(":", 1)
    clients = [RawHttp(host, int(port)) for _ in range(concurrency)]
    first: list[Scrape] = []

    async def warm(client: RawHttp, queue: collections.deque[str], into: list[Scrape]) -> None:
        while queue:
            into.append(await raw_scrape(client, kind, queue.popleft(), 30))

    # The first pass meets every device new (no auto-selection, no lookup columns cached).
    cpu_first = cpu_of(fleet.exporter_pids())
    queue = collections.deque(targets)
    await asyncio.gather(*(warm(c, queue, first) for c in clients))
    cpu_first = cpu_of(fleet.exporter_pids()) - cpu_first
    queue = collections.deque(targets)
    await asyncio.gather(*(warm(c, queue, []) for c in clients))
    done: list[Scrape] = []
    turn = iter(range(10**9))
    stop_at = time.monotonic() + seconds

    async def loop(client: RawHttp) -> None:
        while time.monotonic() < stop_at:
            target = targets[next(turn) % len(targets)]
            done.append(await raw_scrape(client, kind, target, 30))

    pids = fleet.exporter_pids()
    worker_pids = pids[1:] if workers > 1 else pids
    cpu0 = [cpu_of([p]) for p in pids]
    probes0 = probes_per_worker(worker_pids)
    throttled0 = [groups.throttled_seconds(f"w{i}") for i in range(workers)] if groups else []
    agents0, client0, t0 = cpu_of(fleet.agent_pids), self_cpu(), time.monotonic()
    await asyncio.gather(*(loop(c) for c in clients))
    elapsed = time.monotonic() - t0
    per_pid = [cpu_of([p]) - c for p, c in zip(pids, cpu0, strict=True)]
    probes1 = probes_per_worker(worker_pids)
    throttled = (
        [round(groups.throttled_seconds(f"w{i}") - t, 2) for i, t in enumerate(throttled0)]
        if groups
        else []
    )
    for client in clients:
        client.close()
    cpu = sum(per_pid)
    return Throughput(
        kind=kind,
        workers=workers,
        concurrency=concurrency,
        devices=len(targets),
        seconds=round(elapsed, 1),
        scrapes=len(done),
        failures=sum(1 for s in done if not s.ok),
        scrapes_per_s=len(done) / elapsed,
        wall_p50_ms=percentile([s.wall for s in done], 50) * 1000,
        exporter_cores=cpu / elapsed,
        agents_cores=(cpu_of(fleet.agent_pids) - agents0) / elapsed,
        client_cores=(self_cpu() - client0) / elapsed,
        exporter_cpu_ms_per_scrape=cpu / len(done) * 1000 if done else float("nan"),
        per_worker_cpu_s=[round(c, 2) for c in per_pid],
        first_pass_cpu_ms_per_scrape=cpu_first / len(first) * 1000,
        first_pass_varbinds=_mean([s.varbinds for s in first]),
        varbinds=_mean([s.varbinds for s in done]),
        worker_cpu_budget=budget,
        per_worker_probes=[probes1.get(p, 0) - probes0.get(p, 0) for p in worker_pids]
        if probes1
        else [len(done)],
        per_worker_throttled_s=throttled,
        scrapes_per_exporter_cpu_s=len(done) / cpu if cpu else float("nan"),
    )


def _mean(values: Sequence[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


# -- py-spy -----------------------------------------------------------------------------------
def start_py_spy(pid: int, seconds: float, out: Path, log_dir: Path) -> Process:
    """Sample one exporter process (without pausing it) into collapsed stacks."""
    argv = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds)),
            "--rate", "100", "--nonblocking", "--format", "raw", "--output", str(out)]  # fmt: skip
    return Process("py-spy", argv, log_dir).start()


_FRAME_LINE = re.compile(r":\d+\)$")
_IDLE = {"EpollSelector.select (selectors.py)", "select (selectors.py)"}


def summarize_profile(path: Path, top: int = 30) -> str:
    """Self and inclusive shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_FRAME_LINE.sub(")", f) for f in stack.split(";")]
        if frames[-1] in _IDLE:  # the event loop waiting: no CPU
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples)"
    lines = [f"{total} busy samples ({idle} idle in the event loop's select left out); self:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("inclusive time:")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


# -- report -----------------------------------------------------------------------------------
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_phase(r: PhaseResult) -> None:
    print(f"\n== {r.name}: {r.exporter}, {r.modules}: {r.devices} devices ({r.silent} silent), "
          f"{r.workers} worker(s), {r.seconds:g} s")  # fmt: skip
    for label, stats in (("snmp", r.snmp), ("icmp", r.icmp), ("snmp silent", r.snmp_silent),
                         ("icmp silent", r.icmp_silent)):  # fmt: skip
        if stats is None:
            continue
        print(
            f"  {label:<12} {stats.scrapes:>6} scrapes  success {stats.success_ratio:8.4%}  "
            f"p50 {stats.wall_p50_ms:7.1f} ms  p99 {stats.wall_p99_ms:7.1f} ms  "
            f"max {stats.wall_max_ms:7.1f} ms  varbinds {_ms(stats.varbinds_mean)}  "
            f"samples {stats.samples_mean:,.0f}  PDUs {_ms(stats.pdus_mean)}"
        )
        if stats.first_error and not label.endswith("silent"):
            print(f"      first failure: {stats.first_error[:200]}")
    per_vb = f"{r.cpu_us_per_varbind:.2f}" if r.cpu_us_per_varbind else "-"
    print(
        f"  exporter {r.exporter_cores:.3f} cores -> {r.devices_per_exporter_core:,.0f} devices "
        f"per core; {per_vb} us CPU per varbind (whole process, ICMP included)"
    )
    for line in cpu_split_lines(r):
        print(f"  {line}")
    print(
        f"  agents {r.agents_cores:.3f} cores (user {r.agents_user_cores:.3f}, "
        f"system {r.agents_sys_cores:.3f}), load generator {r.client_cores:.3f} cores, "
        f"the rest of the machine {r.others_cores:.3f} cores\n"
        f"  SNMP p50 ms every 10 s {r.snmp_wall_p50_ms_every_10s}\n"
        f"  exporter RSS MiB {r.rss_mib}\n  exporter PSS MiB {r.pss_mib}\n"
        f"  exporter fds {r.fds}\n  load1 {r.load1}"
    )


def cpu_split_lines(r: PhaseResult) -> list[str]:
    """The exporter's user and system CPU, and what the system part means: the kernel's work
    for the exporter (UDP to and from the agents on loopback, where the sender's sendto also
    runs the delivery; the HTTP answers over TCP; epoll), which no change in Python removes."""
    uvb, svb = r.cpu_us_per_varbind_user, r.cpu_us_per_varbind_sys
    per_vb = f"; per varbind user {uvb:.2f} us, system {svb:.2f} us" if uvb and svb else ""
    lines = [
        f"exporter user {r.exporter_user_cores:.3f} cores, system (kernel) "
        f"{r.exporter_sys_cores:.3f} cores = {r.exporter_sys_share:.0%} of its CPU{per_vb}; "
        f"{r.exporter_cpu_ms_per_device_minute:.1f} ms CPU per device and minute, "
        f"{r.exporter_sys_ms_per_device_minute:.1f} ms of it in the kernel"
    ]
    if r.kernel_floor_devices_per_core:
        lines.append(
            f"kernel floor: the system part alone allows {r.kernel_floor_devices_per_core:,.0f} "
            "devices per core (no Python change removes it: sockets, loopback delivery, epoll)"
        )
    for name, part in r.parts.items():
        if len(r.parts) > 1:
            lines.append(
                f"  {name}: user {part['user_cores']:.3f}, system {part['sys_cores']:.3f} cores, "
                f"RSS {part['rss_end_mib']:.1f} MiB"
            )
    return lines


def print_ratios(phases: Sequence[dict[str, Any]]) -> None:
    """CHM (module if_mib, and module auto when run) against the anchors, metric by metric."""
    for chm, anchor in comparison_pairs(phases):
        print(f"\n== {chm['name']} / {anchor['name']} (same devices, same pace)")
        print(ratio_table(chm["name"], anchor["name"], ratio_rows(chm, anchor)))


def comparison_pairs(
    phases: Sequence[dict[str, Any]],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(CHM phase, anchor phase) pairs of a run: ``chm if_mib`` against the anchors."""
    by_name = {p["name"]: p for p in phases}
    if ANCHORS not in by_name or CHM_IF_MIB not in by_name:
        return []
    return [(dict(by_name[CHM_IF_MIB]), dict(by_name[ANCHORS]))]


def print_throughput(results: Sequence[Throughput]) -> None:
    print("\n== throughput (closed loop)")
    for t in results:
        cap = f"{t.worker_cpu_budget:g} cores/worker" if t.worker_cpu_budget else "no budget"
        print(
            f"  {t.kind} {t.workers} worker(s), {cap}: {t.scrapes_per_s:6.1f} scrapes/s  p50 "
            f"{t.wall_p50_ms:6.1f} ms  exporter {t.exporter_cores:.2f} cores "
            f"({t.exporter_cpu_ms_per_scrape:.2f} ms/scrape = {t.scrapes_per_exporter_cpu_s:.0f} "
            f"scrapes per exporter CPU-s; per process {t.per_worker_cpu_s} CPU-s, "
            f"{t.per_worker_probes} probes, throttled {t.per_worker_throttled_s} s)  "
            f"agents {t.agents_cores:.2f}  client {t.client_cores:.2f}  failures {t.failures}\n"
            f"    varbinds/scrape {_ms(t.varbinds)}; first pass (devices new to the exporter) "
            f"{t.first_pass_cpu_ms_per_scrape:.1f} ms/scrape, {_ms(t.first_pass_varbinds)} varbinds"
        )
    for budget in dict.fromkeys(t.worker_cpu_budget for t in results):
        for kind in ("snmp", "icmp1"):
            runs = {
                t.workers: t for t in results if t.kind == kind and t.worker_cpu_budget == budget
            }
            if 1 in runs and 2 in runs and runs[1].scrapes_per_s:
                one, two = runs[1], runs[2]
                print(
                    f"  {kind}, budget {budget or 'none'}: 2 / 1 workers: "
                    f"{two.scrapes_per_s / one.scrapes_per_s:.2f}x throughput, "
                    f"{two.scrapes_per_exporter_cpu_s / one.scrapes_per_exporter_cpu_s:.2f}x "
                    "scrapes per exporter CPU-second"
                )


def markdown(payload: dict[str, Any]) -> str:
    """The results of a run (its JSON) as the tables docs/benchmarks.md shows."""
    rows = [
        "| phase | exporter, modules | devices (silent) | workers | SNMP success "
        "| SNMP p50 / p99 ms | ICMP success | ICMP p50 / p99 ms | exporter cores (user / sys) "
        "| kernel share | devices per core (kernel floor) | us CPU per varbind (user / sys) "
        "| varbinds, PDUs per scrape | RSS MiB (end) | agents' cores (user / sys) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if not payload["phases"]:  # --closed-loop-only
        rows = []
    for r in payload["phases"]:
        snmp, icmp = r["snmp"], r["icmp"]
        floor = r.get("kernel_floor_devices_per_core")
        rows.append(
            f"| {r['name']} | {r.get('exporter', 'chm')}, {r.get('modules', 'auto + icmp')} "
            f"| {r['devices']:,} ({r['silent']}) | {r['workers']} "
            f"| {snmp['success_ratio']:.3%} ({snmp['scrapes']:,}) "
            f"| {snmp['wall_p50_ms']:.0f} / {snmp['wall_p99_ms']:.0f} "
            f"| {icmp['success_ratio']:.3%} ({icmp['scrapes']:,}) "
            f"| {icmp['wall_p50_ms']:.0f} / {icmp['wall_p99_ms']:.0f} "
            f"| {r['exporter_cores']:.3f} ({r.get('exporter_user_cores', 0):.3f} / "
            f"{r.get('exporter_sys_cores', 0):.3f}) | {r.get('exporter_sys_share', 0):.0%} "
            f"| {r['devices_per_exporter_core']:,.0f} ({floor or 0:,.0f}) "
            f"| {r['cpu_us_per_varbind'] or 0:.1f} ({r.get('cpu_us_per_varbind_user') or 0:.1f} / "
            f"{r.get('cpu_us_per_varbind_sys') or 0:.1f}) "
            f"| {snmp['varbinds_mean'] or 0:,.0f}, {_ms(snmp.get('pdus_mean'))} "
            f"| {r['rss_mib'][-1] if r['rss_mib'] else 0:.1f} "
            f"| {r['agents_cores']:.3f} ({r.get('agents_user_cores', 0):.3f} / "
            f"{r.get('agents_sys_cores', 0):.3f}) |"
        )
    for chm, anchor in comparison_pairs(payload["phases"]):
        rows += ["", ratio_table(chm["name"], anchor["name"], ratio_rows(chm, anchor))]
    for r in payload["phases"]:
        for name, part in (r.get("parts") or {}).items():
            if len(r["parts"]) > 1:
                rows.append(
                    f"\n{r['name']}: {name}: user {part['user_cores']:.3f}, system "
                    f"{part['sys_cores']:.3f} cores, RSS {part['rss_end_mib']:.1f} MiB"
                )
    for r in payload["phases"]:
        rows.append(
            f"\n{r['name']}: RSS MiB every 10 s {r['rss_mib']}; PSS {r['pss_mib']}; "
            f"open fds {r['fds']}; load1 {r['load1']}"
            + (
                f"; the rest of the machine {r['others_cores']:.2f} cores; SNMP p50 ms every "
                f"10 s {r['snmp_wall_p50_ms_every_10s']}"
                if "others_cores" in r
                else ""
            )
        )
        for key in ("snmp_silent", "icmp_silent"):
            if r.get(key):
                k = r[key]
                rows.append(
                    f"{key}: {k['scrapes']} scrapes, p50 {k['wall_p50_ms']:.0f} ms, "
                    f"max {k['wall_max_ms']:.0f} ms, {k['http_200']} answered HTTP 200, "
                    f"{k['ok']} with probe_success 1"
                )
    if payload["throughput"]:
        rows += [
            "",
            "| probe | cores per worker (cap) | workers | scrapes/s | p50 ms | exporter cores "
            "| CPU ms/scrape (first pass) | scrapes per exporter CPU-s | probes per worker "
            "| varbinds | agents' cores | load generator cores | failures |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in payload["throughput"]:
            rows.append(
                f"| {t['kind']} | {t.get('worker_cpu_budget') or 'none'} | {t['workers']} "
                f"| {t['scrapes_per_s']:.1f} | {t['wall_p50_ms']:.0f} "
                f"| {t['exporter_cores']:.2f} | {t['exporter_cpu_ms_per_scrape']:.2f} "
                f"({t['first_pass_cpu_ms_per_scrape']:.1f}) "
                f"| {t.get('scrapes_per_exporter_cpu_s', 0):.0f} "
                f"| {' / '.join(map(str, t.get('per_worker_probes', [])))} "
                f"| {t['varbinds'] or 0:.0f} "
                f"| {t['agents_cores']:.2f} | {t['client_cores']:.2f} | {t['failures']} |"
            )
    return "\n".join(rows)


# -- main -------------------------------------------------------------------------------------
async def start_exporter(
    stack: contextlib.ExitStack, args: argparse.Namespace, config: Path, workers: int
) -> tuple[Process, str]:
    log_dir = RESULTS / "logs"
    port = free_tcp_port()
    argv = [*shlex.split(args.exporter), "--config.file", str(config), "--web.listen-address",
            f"127.0.0.1:{port}", "--log.level", "warn"]  # fmt: skip
    if workers > 1:
        argv += ["--web.workers", str(workers)]
    process = stack.enter_context(running(Process(f"chm-fleet-w{workers}", argv, log_dir)))
    base = f"http://127.0.0.1:{port}"
    await wait_http(process, f"{base}/-/healthy", within=60)
    if workers > 1:  # every worker listening before the load starts
        deadline = time.monotonic() + 30
        while len(group_pids(process.pid)) < workers + 1 and time.monotonic() < deadline:  # noqa: ASYNC110 (polling /proc, no event to wait for)
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
    return process, base


async def paced_phases(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    config: Path,
    work: Path,
    answering: list[str],
    silent: list[str],
    agent_pids: list[int],
    idle_rss_mib: list[float],
) -> tuple[list[PhaseResult], str | None]:
    """Warm-up, the fleet phase and the silent phase on one exporter (``--workers``); the
    exporter's RSS before its first scrape goes to ``idle_rss_mib``."""
    log_dir = RESULTS / "logs"
    exporter, base = await start_exporter(stack, args, config, args.workers)
    fleet = Fleet(base, exporter, agent_pids)
    idle_rss_mib.append(round(memory_of(fleet.exporter_pids())[0], 1))
    phases: list[PhaseResult] = []
    profile = None
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        everyone = [(a, False) for a in answering]
        await run_paced_phase(http, fleet, "warm-up", everyone, args, args.warmup)
        spy = None
        if args.py_spy:
            pid = max(fleet.exporter_pids()) if args.workers > 1 else exporter.pid
            spy = start_py_spy(pid, args.py_spy, log_dir / "fleet-py-spy.txt", log_dir)
        t_start, t_end = await run_paced_phase(http, fleet, "fleet", everyone, args, args.duration)
        phases.append(phase_result(fleet, "fleet", len(everyone), 0, args.workers, t_start, t_end))
        print_phase(phases[-1])
        if spy is not None:
            assert spy.popen is not None
            spy.popen.wait(timeout=args.py_spy + 60)
            profile = summarize_profile(log_dir / "fleet-py-spy.txt")
            print(f"\n== py-spy of the exporter during the fleet phase\n{profile}")
        if silent and args.silent_duration:
            mixed = with_silent(answering, silent)
            name = f"fleet {args.silent_share:.0%} silent"
            t_start, t_end = await run_paced_phase(
                http, fleet, name, mixed, args, args.silent_duration
            )
            phases.append(
                phase_result(fleet, name, len(mixed), len(silent), args.workers, t_start, t_end)
            )
            print_phase(phases[-1])
    exporter.stop()
    if args.anchors:
        phases += await comparison_phases(args, config, work, answering, agent_pids)
    return phases, profile


async def measured_phase(
    fleet: Fleet,
    args: argparse.Namespace,
    name: str,
    targets: Sequence[tuple[str, bool]],
    workers: int,
    exporter: str,
    modules: str,
) -> PhaseResult:
    """A warm-up of ``--anchor-warmup`` s, then ``--anchor-duration`` s measured."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await run_paced_phase(http, fleet, f"warm-up {name}", targets, args, args.anchor_warmup)
        t_start, t_end = await run_paced_phase(
            http, fleet, name, targets, args, args.anchor_duration
        )
    result = phase_result(fleet, name, len(targets), 0, workers, t_start, t_end, exporter, modules)
    print_phase(result)
    return result


async def comparison_phases(
    args: argparse.Namespace,
    config: Path,
    work: Path,
    answering: list[str],
    agent_pids: list[int],
) -> list[PhaseResult]:
    """``--anchors``: the same devices at the same pace, first through a fresh CHM with
    ``module=if_mib`` (what snmp_exporter's if_mib walks, plus the system scalars) and one-echo
    ICMP (``icmp1``), then through Debian's snmp_exporter (module if_mib) and blackbox_exporter
    (one echo); each stopped after its phase, also on Ctrl-C."""
    log_dir = RESULTS / "logs"
    everyone = [(a, False) for a in answering]
    results = []
    with contextlib.ExitStack() as local:
        process, base = await start_exporter(local, args, config, args.workers)
        fleet = Fleet(base, process, agent_pids, routes=chm_routes(base, "if_mib", "icmp1"))
        results.append(
            await measured_phase(
                fleet, args, CHM_IF_MIB, everyone, args.workers, "chm", "if_mib + icmp1"
            )
        )
    with anchor_processes(work, log_dir) as (se, bb, se_url, bb_url):
        await wait_anchors(se, bb, se_url, bb_url)
        fleet = Fleet(se_url, se, agent_pids, routes=anchor_routes(se_url, bb_url), also=[bb])
        results.append(
            await measured_phase(
                fleet, args, ANCHORS, everyone, 1, "snmp_exporter + blackbox_exporter",
                "if_mib + icmp (1 echo)",
            )
        )  # fmt: skip
    print_ratios([asdict(r) for r in results])
    return results


async def bench(args: argparse.Namespace, stack: contextlib.ExitStack, work: Path) -> int:
    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = loadavg()
    answering = answering_addresses(args.devices)
    silent_count = round(args.devices * args.silent_share)
    silent = silent_addresses(silent_count)

    print(f"fleet: {args.interfaces} taps, {args.devices} agents in "
          f"{-(-args.devices // args.per_agent)} snmpd processes", flush=True)  # fmt: skip
    stack.enter_context(tap_interfaces(args.interfaces, TAP_PREFIX))
    stack.enter_context(silent_sink())
    agents = [
        stack.enter_context(MultiAddressSnmpd(chunk, sys_name=f"chm-fleet-{i}"))
        for i, chunk in enumerate(chunked(answering, args.per_agent))
    ]
    agent_pids = [a._process.pid for a in agents if a._process is not None]

    config = work / "chm.yml"
    config.write_text(chm_config(args.max_repetitions))
    phases: list[PhaseResult] = []
    profile = None
    idle_rss_mib: list[float] = []
    if not args.closed_loop_only:
        phases, profile = await paced_phases(
            stack, args, config, work, answering, silent, agent_pids, idle_rss_mib
        )

    results: list[Throughput] = []
    if args.throughput:
        # Spread over every snmpd process: one agent process is single-threaded.
        step = max(1, len(answering) // args.throughput_devices)
        targets = answering[::step][: args.throughput_devices]
        groups = stack.enter_context(CpuGroups.mounted()) if args.pin else None
        if groups is not None:  # agents and load generator: one group, above other sessions
            groups.place("load", [*agent_pids, os.getpid()], weight=args.pin_weight)
        for budget in args.worker_cpu:
            for workers in args.loop_workers:
                process, base = await start_exporter(stack, args, config, workers)
                fleet = Fleet(base, process, agent_pids)
                pids = fleet.exporter_pids()
                if groups is not None:  # each worker its own group (and budget)
                    for i, pid in enumerate(pids[1:] if workers > 1 else pids):
                        groups.place(f"w{i}", [pid], quota=budget, weight=args.pin_weight)
                for kind in args.loop_probes:
                    print(f"fleet: {kind} throughput with {workers} worker(s), "
                          f"budget {budget or 'none'}", flush=True)  # fmt: skip
                    results.append(
                        await throughput(
                            fleet, kind, targets, workers, args.concurrency, args.throughput,
                            budget, groups,
                        )
                    )  # fmt: skip
                process.stop()
        print_throughput(results)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "versions": versions(),
        "duration_s": round(time.monotonic() - started, 1),
        "phases": [asdict(p) for p in phases],
        "throughput": [asdict(t) for t in results],
        "profile": profile,
        "idle_rss_mib": idle_rss_mib[0] if idle_rss_mib else None,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nfleet: wrote {args.json} in {payload['duration_s']} s", flush=True)
    return 0


# --quick: a 20 s SNMP interval, so that a warm-up of one interval stays short.
QUICK = {
    "devices": 100,
    "interval": 20.0,
    "snmp_timeout": 15.0,
    "icmp_interval": 20.0,
    "icmp_timeout": 10.0,
    "warmup": 20.0,
    "duration": 30.0,
    "silent_duration": 20.0,
    "anchor_duration": 30.0,
    "throughput": 10.0,
    "throughput_devices": 50,
}


def warmups_at_least_interval(args: argparse.Namespace) -> list[str]:
    """Raise warm-ups shorter than one SNMP interval to one interval; say what changed.

    A device's first scrape learns each column's row count and so walks with smaller bulks
    (more PDUs, more CPU); with a shorter warm-up the devices whose offsets fall after its end
    make that first scrape inside the measured phase.
    """
    notes = []
    if args.anchor_warmup is None:
        args.anchor_warmup = args.interval
    for key in ("warmup", "anchor_warmup"):
        value = getattr(args, key)
        if value < args.interval:
            notes.append(
                f"--{key.replace('_', '-')} {value:g} s raised to the SNMP interval, "
                f"{args.interval:g} s: every device's first scrape (which learns its rows and "
                "walks with smaller bulks) stays out of the measured phase"
            )
            setattr(args, key, args.interval)
    return notes


def _cores_list(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def _ints_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def _probes_list(text: str) -> list[str]:
    kinds = [part.strip() for part in text.split(",")]
    if not set(kinds) <= {"snmp", "icmp1"}:
        raise argparse.ArgumentTypeError(f"probes are snmp and icmp1, not {text!r}")
    return kinds


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="100 agents, short phases (about 2 minutes)")
    add("--devices", type=int, default=1000, help="answering agents (default 1000)")
    add("--per-agent", type=int, default=100, help="addresses per snmpd process (default 100)")
    add("--interfaces", type=int, default=53, help="tap devices; agents list them + lo")
    add("--workers", type=int, default=1, help="exporter --web.workers in the fleet phases")
    add("--interval", type=float, default=60.0, help="SNMP scrape interval (s)")
    add("--snmp-timeout", type=float, default=30.0, help="SNMP scrape timeout (s)")
    add("--icmp-interval", type=float, default=30.0, help="ICMP scrape interval (s)")
    add("--icmp-timeout", type=float, default=10.0, help="ICMP scrape timeout (s)")
    add("--warmup", type=float, default=60.0, help="unmeasured first phase (s)")
    add("--duration", type=float, default=300.0, help="measured fleet phase (s)")
    add("--silent-share", type=float, default=0.1, help="devices made silent (default 0.1)")
    add("--silent-duration", type=float, default=300.0, help="measured silent phase (s)")
    add("--anchors", action="store_true",
        help="after the fleet phases: a fresh CHM with module=if_mib, then snmp_exporter "
             "(if_mib) with blackbox_exporter (icmp) on the same devices, at the same pace; "
             "prints CHM / anchor ratios")  # fmt: skip
    add("--anchor-duration", type=float, default=120.0,
        help="--anchors: measured seconds per exporter (default 120)")  # fmt: skip
    add("--anchor-warmup", type=float, default=None,
        help="--anchors: unmeasured s before each (default and minimum: --interval)")  # fmt: skip
    add("--throughput", type=float, default=40.0, help="closed-loop s per probe and worker count")
    add("--throughput-devices", type=int, default=200, help="devices the closed loop cycles")
    add("--concurrency", type=int, default=64,
        help="closed-loop scrapes in flight (default 64: with fewer, an SNMP loop on a busy "
             "machine waits on the agents' wake-ups, not on the exporter)")  # fmt: skip
    add("--closed-loop-only", action="store_true", help="skip the paced phases")
    add("--loop-workers", type=_ints_list, default=[1, 2], metavar="N,...",
        help="closed loop: the --web.workers counts to run (default 1,2)")  # fmt: skip
    add("--loop-probes", type=_probes_list, default=["snmp", "icmp1"], metavar="KIND,...",
        help="closed loop: the probes to run, snmp and/or icmp1 (default both)")  # fmt: skip
    add("--worker-cpu", type=_cores_list, default=[0.3, 0.0], metavar="CORES,...",
        help="closed loop: each worker's CPU cap (cgroup quota) per run; 0: none "
             "(default 0.3,0)")  # fmt: skip
    add(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="closed loop: leave processes in their sessions' autogroups (no cgroups)",
    )
    add("--pin-weight", type=int, default=4096,
        help="closed loop: CPU weight (cgroup v1 shares) of each worker and of the agents with "
             "the load generator; a nice-0 session has 1024 (default 4096)")  # fmt: skip
    add("--py-spy", type=float, default=0.0, metavar="SECONDS", help="sample the exporter")
    add("--json", type=Path, default=RESULTS / "fleet.json")
    add("--exporter", default=str(CHM_BINARY), help="command that runs the exporter")
    add("--max-repetitions", type=int, help="module auto's max-repetitions (default: CHM's)")
    add("--report", type=Path, metavar="JSON", help="print a run's results as Markdown, exit")
    add("--_in-netns", dest="in_netns", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if f"--{key.replace('_', '-')}" not in argv:
                setattr(args, key, value)
    args.warmup_notes = warmups_at_least_interval(args)
    return args


def check_prerequisites(args: argparse.Namespace) -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: a network namespace and tap devices need CAP_NET_ADMIN")
    if shutil.which("/usr/sbin/snmpd") is None:
        problems.append("/usr/sbin/snmpd not found: run scripts/setup.sh")
    if not CHM_BINARY.exists():
        problems.append(f"{CHM_BINARY} not found: create the venv (pip install -e '.[dev]')")
    if args.anchors:
        for binary in (SNMP_EXPORTER, BLACKBOX_EXPORTER):
            if shutil.which(binary) is None:
                problems.append(f"{binary} not found: apt-get install {binary} (scripts/setup.sh)")
    if args.py_spy and not PY_SPY.exists():
        problems.append(f"{PY_SPY} not found: pip install -e '.[dev]'")
    if problems:
        raise SystemExit("fleet: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return 0
    check_prerequisites(args)
    for note in args.warmup_notes:
        if not args.in_netns:  # said once, by the process the user started
            print(f"fleet: {note}", file=sys.stderr, flush=True)
    if not args.in_netns:
        return run_in_netns(argv, command=FLEET_CMD, prefix=NETNS_PREFIX)
    return run_cleaning_up(bench, args, "fleet")


if __name__ == "__main__":
    sys.exit(main())
