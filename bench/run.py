"""Side-by-side benchmark: CHM exporter vs snmp_exporter 0.21 and blackbox_exporter 0.23.

Run as root from the repository root (tap devices need CAP_NET_ADMIN)::

    .venv/bin/python -m bench.run            # full run, about 3-4 minutes on 2 cores
    .venv/bin/python -m bench.run --quick    # smoke run, under a minute
    .venv/bin/python -m bench.run --profile  # also run CHM under cProfile, print top functions
    .venv/bin/python -m bench.run --only icmp --scale 10  # the ICMP scenarios, 10x the scrapes

(a module run, so ``tests.servers`` imports from the repository root without path edits)

What happens, all on loopback:

1. ``--interfaces`` tap devices (``chmb<hex><n>``) are created, then Debian's net-snmp ``snmpd``
   starts on 127.0.0.1:<free port> with a private config and persistent dir
   (:class:`tests.servers.snmpd.Snmpd`), so its IF-MIB lists every tap.
2. The exporters start: CHM (module ``if_mib`` = profiles system + if_mib, ``if_mib_nocache``
   the same without the lookup cache; ``if_mib_compat`` =
   the same plus ``compat: snmp_exporter``, which also emits snmp_exporter's names; ``icmp``),
   ``prometheus-snmp-exporter`` with ``bench/snmp_exporter.yml`` and
   ``prometheus-blackbox-exporter`` with an ``icmp`` module. A UDP proxy holding every agent
   reply ``--delay-ms`` (:class:`tests.servers.udpdelay.UdpDelayProxy`, in a child process of
   its own) sits in front of snmpd for the latency scenario.
3. Each scenario scrapes one exporter at a time over HTTP (aiohttp, keep-alive, the
   ``X-Prometheus-Scrape-Timeout-Seconds`` header Prometheus sends) and records per scrape the
   wall time, and per scenario the exporter process's CPU seconds (``/proc/<pid>/stat`` utime +
   stime, every thread), its RSS afterwards, the agent's CPU, and the varbinds per scrape
   (``probe_snmp_varbinds`` for CHM, ``snmp_scrape_pdus_returned`` for snmp_exporter) and
   request PDUs per scrape (``probe_snmp_pdus_sent`` / ``snmp_scrape_packets_sent``).
   CHM keeps label-only columns (ifName, ifAlias, ...) in a per-device cache for 15 minutes;
   module ``if_mib_nocache`` (``lookup_cache_seconds: 0``) walks everything every time, as
   snmp_exporter does. ``probe_snmp_varbinds`` counts only what came over the wire, so the
   cached module reads fewer varbinds for the same output.
4. A table and the CHM/anchor ratios are printed; everything goes to
   ``bench/results/latest.json`` (git-ignored) and the exporters' logs to ``bench/results/logs``.

Every process and tap device is removed at the end, also on an exception, Ctrl-C or SIGTERM.
Benchmarks only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from tests.servers.ports import free_tcp_port
from tests.servers.process import stop_process
from tests.servers.snmpd import Snmpd, tap_interfaces
from tests.servers.udpdelay import UdpDelayProxy

ROOT = Path(__file__).resolve().parent.parent
#: this benchmark run again as a child (the delay proxy, the run inside a namespace)
SELF = [sys.executable, "-m", "bench.run"]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
SNMP_EXPORTER_CONFIG = BENCH / "snmp_exporter.yml"
CHM_BINARY = ROOT / ".venv" / "bin" / "chm-exporter"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
SNMP_EXPORTER = "prometheus-snmp-exporter"
BLACKBOX_EXPORTER = "prometheus-blackbox-exporter"
TAP_PREFIX = "chmb"
NETNS_PREFIX = "chmbench-"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SCRAPE_TIMEOUT_S = 10.0

CHM_CONFIG = """\
auths:
  public_v2: {version: 2c, community: public}
modules:
  if_mib:
    snmp: {profiles: [system, if_mib], max_repetitions: 25}
  if_mib_nocache:
    snmp: {profiles: [system, if_mib], max_repetitions: 25, lookup_cache_seconds: 0}
  if_mib_compat:
    compat: snmp_exporter
    snmp: {profiles: [system, if_mib], max_repetitions: 25}
  icmp:
    icmp: {count: 1, preferred_ip_protocol: ip4}
"""

BLACKBOX_CONFIG = """\
modules:
  icmp:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
"""


# -- sizes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """How many scrapes each scenario makes."""

    sequential: int
    workers: int
    per_worker: int
    delayed: int
    delayed_per_worker: int
    icmp_sequential: int
    icmp_per_worker: int
    warmup: int


# ICMP scrapes take ~1-3 ms and /proc counts CPU in 10 ms ticks: many more of them.
FULL = Sizes(
    sequential=50,
    workers=10,
    per_worker=20,
    delayed=10,
    delayed_per_worker=3,
    icmp_sequential=300,
    icmp_per_worker=50,
    warmup=3,
)
QUICK = Sizes(
    sequential=10,
    workers=4,
    per_worker=5,
    delayed=2,
    delayed_per_worker=1,
    icmp_sequential=50,
    icmp_per_worker=20,
    warmup=1,
)


def scaled(sizes: Sizes, factor: int) -> Sizes:
    """`sizes` with every scenario's scrape count (not its workers or warm-up) times `factor`."""
    counts: tuple[str, ...] = ("sequential", "per_worker", "delayed", "delayed_per_worker")
    counts += ("icmp_sequential", "icmp_per_worker")
    return replace(sizes, **{name: getattr(sizes, name) * factor for name in counts})


# -- processes --------------------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Process:
    """A child process in its own session (Ctrl-C reaches only us; we stop it)."""

    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, stdout: int | None = None) -> Process:
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=stdout if stdout is not None else log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        popen, self.popen = self.popen, None
        if popen is None:
            return
        if popen.poll() is None:
            popen.send_signal(sig)
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if popen.stdout is not None:
            popen.stdout.close()


@contextlib.contextmanager
def running(process: Process, stdout: int | None = None) -> Iterator[Process]:
    """Start a process; stop it when the block exits, whatever happens."""
    try:
        yield process.start(stdout)
    finally:
        process.stop()


async def wait_http(process: Process, url: str, within: float = 20.0) -> None:
    """Poll `url` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} did not answer {url} in {within}s:\n{process.log_tail()}")


def loadavg() -> list[str]:
    """The 1, 5 and 15 minute load averages."""
    return Path("/proc/loadavg").read_text().split()[:3]


def stale_taps() -> list[str]:
    """Tap devices with our prefix left over by a run that was killed with SIGKILL."""
    return sorted(
        p.name
        for p in Path("/sys/class/net").iterdir()
        if p.name.startswith(TAP_PREFIX) and (p / "tun_flags").exists()
    )


def remove_taps(names: list[str]) -> None:
    for name in names:
        subprocess.run(
            ["ip", "tuntap", "del", "dev", name, "mode", "tap"], check=False, capture_output=True
        )


# -- the delay proxy child --------------------------------------------------------------------
def serve_delay_proxy(upstream_port: int, delay: float) -> None:
    """Child-process mode: run a UdpDelayProxy, print its port, serve until SIGTERM/SIGINT."""

    async def main() -> None:
        proxy = UdpDelayProxy("127.0.0.1", upstream_port, delay)
        await proxy.listen()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(proxy.port, flush=True)
        await stop.wait()
        await proxy.close()

    asyncio.run(main())


def start_delay_proxy(process: Process) -> int:
    """Read the port the proxy child prints (bounded wait)."""
    assert process.popen is not None
    assert process.popen.stdout is not None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(process.popen.stdout, selectors.EVENT_READ)
    if not sel.select(timeout=10):
        raise RuntimeError(f"delay proxy did not start:\n{process.log_tail()}")
    line = process.popen.stdout.readline().decode().strip()
    if not line.isdigit():
        raise RuntimeError(f"delay proxy said {line!r}:\n{process.log_tail()}")
    return int(line)


# -- scraping ---------------------------------------------------------------------------------
_VARBINDS = re.compile(r"^(?:probe_snmp_varbinds|snmp_scrape_pdus_returned) (\S+)$", re.M)
_PDUS = re.compile(r"^(?:probe_snmp_pdus_sent|snmp_scrape_packets_sent) (\S+)$", re.M)
_SUCCESS_CHM = re.compile(r'^probe_success\{prober="(?:snmp|icmp)"\} (\S+)$', re.M)
_SUCCESS_BLACKBOX = re.compile(r"^probe_success (\S+)$", re.M)


@dataclass
class Exporter:
    """One exporter under test and how to ask it for one scrape."""

    label: str  # row name in the table
    process: Process
    url: str
    kind: str  # chm | snmp_exporter | blackbox


def scrape_ok(
    exporter: Exporter, status: int, body: str
) -> tuple[bool, int | None, int, int | None]:
    """(success, varbinds or None, sample lines, request PDUs or None) of one scrape's answer."""
    if status != 200:
        return False, None, 0, None
    pdus_match = _PDUS.search(body)
    pdus = int(float(pdus_match.group(1))) if pdus_match else None
    samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    match = _VARBINDS.search(body)
    varbinds = int(float(match.group(1))) if match else None
    if exporter.kind == "chm":
        values = _SUCCESS_CHM.findall(body)
        ok = bool(values) and all(v == "1" for v in values)
    elif exporter.kind == "blackbox":
        found = _SUCCESS_BLACKBOX.search(body)
        ok = bool(found and found.group(1) == "1")
    else:  # snmp_exporter answers 200 with what it read; 0 varbinds means it read nothing
        ok = bool(varbinds)
    return ok, varbinds, samples, pdus


@dataclass
class ScenarioResult:
    """What one exporter did in one scenario."""

    scenario: str
    exporter: str
    scrapes: int
    failures: int
    workers: int
    wall_total_s: float
    wall_p50_ms: float
    wall_p95_ms: float
    wall_max_ms: float
    scrapes_per_s: float
    cpu_s: float
    cpu_ms_per_scrape: float
    agent_cpu_ms_per_scrape: float | None
    rss_mib_after: float
    rss_peak_mib: float
    varbinds_per_scrape: float | None
    varbinds_per_cpu_s: float | None
    samples_per_scrape: float
    pdus_per_scrape: float | None
    first_error: str | None = None
    walls_ms: list[float] = field(default_factory=list, repr=False)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (values need not be sorted)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def run_scenario(
    http: aiohttp.ClientSession,
    scenario: str,
    exporter: Exporter,
    url: str,
    workers: int,
    per_worker: int,
    warmup: int,
    agent_pid: int | None,
) -> ScenarioResult:
    """`workers` concurrent loops of `per_worker` scrapes each; measure around them."""
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT_S)}
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_S + 5)

    walls: list[float] = []
    varbinds: list[int] = []
    samples: list[int] = []
    pdus: list[int] = []
    failures = 0
    first_error: str | None = None

    async def one() -> None:
        nonlocal failures, first_error
        started = time.perf_counter()
        try:
            async with http.get(url, headers=headers, timeout=timeout) as resp:
                body = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        walls.append(time.perf_counter() - started)
        ok, vb, n, pdu = scrape_ok(exporter, status, body)
        if pdu is not None:
            pdus.append(pdu)
        if not ok:
            failures += 1
            first_error = first_error or f"HTTP {status}: {body[:300]}"
        if vb is not None:
            varbinds.append(vb)
        samples.append(n)

    async def loop() -> None:
        for _ in range(per_worker):
            await one()

    for _ in range(warmup):
        await one()
    walls.clear()
    varbinds.clear()
    samples.clear()
    pdus.clear()
    failures, first_error = 0, None

    pid = exporter.process.pid
    cpu0 = proc_cpu_seconds(pid)
    agent0 = proc_cpu_seconds(agent_pid) if agent_pid else None
    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    elapsed = time.perf_counter() - t0
    cpu = proc_cpu_seconds(pid) - cpu0
    agent = proc_cpu_seconds(agent_pid) - agent0 if agent_pid and agent0 is not None else None
    rss, hwm = proc_memory_mib(pid)
    n = len(walls)
    vb_mean = sum(varbinds) / len(varbinds) if varbinds else None
    return ScenarioResult(
        scenario=scenario,
        exporter=exporter.label,
        scrapes=n,
        failures=failures,
        workers=workers,
        wall_total_s=elapsed,
        wall_p50_ms=percentile(walls, 50) * 1000,
        wall_p95_ms=percentile(walls, 95) * 1000,
        wall_max_ms=max(walls) * 1000,
        scrapes_per_s=n / elapsed,
        cpu_s=cpu,
        cpu_ms_per_scrape=cpu / n * 1000,
        agent_cpu_ms_per_scrape=(agent / n * 1000) if agent is not None else None,
        rss_mib_after=rss,
        rss_peak_mib=hwm,
        varbinds_per_scrape=vb_mean,
        varbinds_per_cpu_s=(sum(varbinds) / cpu) if varbinds and cpu > 0 else None,
        samples_per_scrape=sum(samples) / len(samples) if samples else 0.0,
        pdus_per_scrape=sum(pdus) / len(pdus) if pdus else None,
        first_error=first_error,
        walls_ms=[round(w * 1000, 3) for w in walls],
    )


# -- report -----------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[ScenarioResult]) -> None:
    head = (
        f"{'scenario':<27} {'exporter':<20} {'n':>4} {'fail':>4} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'scr/s':>7} {'CPU ms/scr':>10} {'agent ms':>8} {'RSS MiB':>7} {'varbinds':>8} "
        f"{'vb/CPU-s':>9} {'samples':>7} {'PDUs':>5}"
    )
    print(head)
    print("-" * len(head))
    last = None
    for r in results:
        if last is not None and r.scenario != last:
            print()
        last = r.scenario
        print(
            f"{r.scenario:<27} {r.exporter:<20} {r.scrapes:>4} {r.failures:>4} "
            f"{r.wall_p50_ms:>8.1f} {r.wall_p95_ms:>8.1f} {r.scrapes_per_s:>7.1f} "
            f"{r.cpu_ms_per_scrape:>10.2f} {_fmt(r.agent_cpu_ms_per_scrape, '>8.1f')} "
            f"{r.rss_mib_after:>7.1f} {_fmt(r.varbinds_per_scrape, '>8.0f')} "
            f"{_fmt(r.varbinds_per_cpu_s, '>9,.0f')} {r.samples_per_scrape:>7.0f} "
            f"{_fmt(r.pdus_per_scrape, '>5.0f')}"
        )
        if r.first_error:
            print(f"    first failure: {r.first_error[:200]!r}")


PAIRS = (
    ("chm if_mib", "snmp_exporter"),
    ("chm if_mib nocache", "snmp_exporter"),
    ("chm if_mib+compat", "snmp_exporter"),
    ("chm icmp", "blackbox icmp"),
)


def ratios(results: list[ScenarioResult]) -> list[dict[str, Any]]:
    """CHM / anchor for each scenario where both ran (below 1 means CHM uses less)."""
    by_key = {(r.scenario, r.exporter): r for r in results}
    out = []
    for scenario in dict.fromkeys(r.scenario for r in results):
        for chm, anchor in PAIRS:
            a, b = by_key.get((scenario, chm)), by_key.get((scenario, anchor))
            if a is None or b is None:
                continue
            row: dict[str, Any] = {
                "scenario": scenario,
                "chm": chm,
                "anchor": anchor,
                "cpu_per_scrape": a.cpu_ms_per_scrape / b.cpu_ms_per_scrape
                if b.cpu_ms_per_scrape
                else None,
                "wall_p50": a.wall_p50_ms / b.wall_p50_ms,
                "wall_p95": a.wall_p95_ms / b.wall_p95_ms,
                "rss": a.rss_mib_after / b.rss_mib_after,
                "cpu_per_varbind": None,
            }
            if a.varbinds_per_cpu_s and b.varbinds_per_cpu_s:
                row["cpu_per_varbind"] = b.varbinds_per_cpu_s / a.varbinds_per_cpu_s
            out.append(row)
    return out


def print_ratios(rows: list[dict[str, Any]]) -> None:
    print("\nCHM / anchor (below 1.00 = CHM uses less; goal for CPU: 0.50)")
    head = (
        f"{'scenario':<27} {'pair':<38} {'CPU/scrape':>10} {'CPU/varbind':>11} "
        f"{'wall p50':>8} {'wall p95':>8} {'RSS':>6}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        pair = f"{row['chm']} / {row['anchor']}"
        print(
            f"{row['scenario']:<27} {pair:<38} {_fmt(row['cpu_per_scrape'], '>10.2f')} "
            f"{_fmt(row['cpu_per_varbind'], '>11.2f')} {row['wall_p50']:>8.2f} "
            f"{row['wall_p95']:>8.2f} {row['rss']:>6.2f}"
        )


# -- profile ----------------------------------------------------------------------------------
PROFILED_CHM = """\
import cProfile, signal, sys
out = sys.argv[1]
prof = cProfile.Profile()
def start(*_):
    prof.enable()
def stop(*_):
    prof.disable()
    prof.dump_stats(out)
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
from chm_exporter.cli import main
sys.exit(main(sys.argv[2:]))
"""


async def profile_chm(
    config_path: Path, log_dir: Path, snmp_port: int, scrapes: int, module: str
) -> str:
    """Profile CHM's steady state: cProfile on (SIGUSR1) after warm-up, off and dump (SIGUSR2).

    Start-up (imports, config) stays out of the profile. cProfile slows Python code several
    times, so read the shares, not the absolute times.
    """
    port = free_tcp_port()
    out = log_dir / f"chm-{module}.prof"
    out.unlink(missing_ok=True)
    argv = [
        str(VENV_PYTHON),
        "-c",
        PROFILED_CHM,
        str(out),
        "--config.file",
        str(config_path),
        "--web.listen-address",
        f"127.0.0.1:{port}",
    ]
    process = Process(f"chm-cprofile-{module}", argv, log_dir)
    url = f"http://127.0.0.1:{port}/probe?target=127.0.0.1:{snmp_port}&module={module}"
    with running(process):
        await wait_http(process, f"http://127.0.0.1:{port}/-/healthy")
        async with aiohttp.ClientSession() as http:
            for i in range(scrapes + 3):
                if i == 3:
                    process.popen.send_signal(signal.SIGUSR1)  # type: ignore[union-attr]
                    await asyncio.sleep(0.05)
                async with http.get(url) as resp:
                    await resp.read()
        process.popen.send_signal(signal.SIGUSR2)  # type: ignore[union-attr]
        for _ in range(100):
            if out.exists() and out.stat().st_size:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    if not out.exists():
        return f"(no profile written; log:\n{process.log_tail()})"
    import io

    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.strip_dirs().sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    return buf.getvalue()


async def time_phases(snmp_port: int, repeats: int) -> dict[str, float]:
    """Without a profiler: one real walk, then evaluate and render timed in this process.

    The same code the exporter runs per scrape (``chm_exporter.profiles.evaluate_profiles``,
    ``MetricSink.render``), in milliseconds per call, for the if_mib module (system + if_mib)
    and with the snmp_exporter compat profile added.
    """
    from chm_exporter.config import CommunityAuth, SnmpSettings
    from chm_exporter.exposition import MetricSink
    from chm_exporter.probelog import ProbeLog
    from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles, plan_walks
    from chm_exporter.profiles.loader import expand_includes
    from chm_exporter.snmp.walker import Walker

    profiles_all = load_profiles([])
    out: dict[str, float] = {}
    for label, names in (
        ("if_mib", ("system", "if_mib")),
        ("if_mib+compat", ("system", "if_mib", "if_mib_snmp_exporter")),
    ):
        profiles = expand_includes(names, profiles_all)
        plan = plan_walks(profiles)
        settings = SnmpSettings(profiles=list(names[:2]), max_repetitions=25)
        auth = CommunityAuth(version="2c")
        result = WalkResult()
        walker = Walker("127.0.0.1", snmp_port, auth, settings, ProbeLog("bench", label))
        cpu0, t0 = time.process_time(), time.perf_counter()
        walks = 10
        for _ in range(walks):
            result = WalkResult()
            walker = Walker("127.0.0.1", snmp_port, auth, settings, ProbeLog("bench", label))
            await walker.run(plan, result)
        out[f"{label} walk CPU ms"] = (time.process_time() - cpu0) / walks * 1000
        out[f"{label} walk wall ms"] = (time.perf_counter() - t0) / walks * 1000
        out[f"{label} varbinds"] = walker.stats.varbinds
        out[f"{label} PDUs"] = walker.stats.pdus_sent
        cpu0 = time.process_time()
        for _ in range(repeats):
            sink = MetricSink()
            evaluate_profiles(profiles, result, sink)
        out[f"{label} evaluate ms"] = (time.process_time() - cpu0) / repeats * 1000
        cpu0 = time.process_time()
        for _ in range(repeats):
            body = sink.render()
        out[f"{label} render ms"] = (time.process_time() - cpu0) / repeats * 1000
        out[f"{label} body bytes"] = len(body)
    return out


# -- main -------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few scrapes (< 1 minute)")
    parser.add_argument(
        "--only", default="", metavar="PREFIX", help="only the scenarios starting so (e.g. icmp)"
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=1,
        metavar="N",
        help="N times the scrapes of every scenario (steadier CPU figures; e.g. --only icmp)",
    )
    parser.add_argument("--interfaces", type=int, default=100, help="tap devices (default 100)")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="agent reply delay")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards run CHM under cProfile and print the top functions",
    )
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--remove-stale",
        action="store_true",
        help=f"delete {NETNS_PREFIX}* namespaces and {TAP_PREFIX}* taps left by a killed run",
    )
    parser.add_argument(
        "--no-netns",
        action="store_true",
        help="run in the current network namespace (default: a private one)",
    )
    parser.add_argument("--_in-netns", dest="in_netns", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--_delay-proxy",
        nargs=2,
        metavar=("PORT", "DELAY_S"),
        dest="delay_proxy",
        help=argparse.SUPPRESS,
    )
    return parser.parse_args(argv)


def check_prerequisites() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: tap devices need CAP_NET_ADMIN")
    for binary in (SNMP_EXPORTER, BLACKBOX_EXPORTER, "/usr/sbin/snmpd"):
        if shutil.which(binary) is None:
            problems.append(f"{binary} not found: run scripts/setup.sh")
    if not CHM_BINARY.exists():
        problems.append(f"{CHM_BINARY} not found: create the venv (pip install -e '.[dev]')")
    if problems:
        raise SystemExit("bench: " + "; ".join(problems))


def versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        text = (res.stdout or res.stderr).strip().splitlines()
        return text[0] if text else "?"

    return {
        "chm_exporter": first_line([str(CHM_BINARY), "--version"]),
        "snmp_exporter": first_line([SNMP_EXPORTER, "--version"]),
        "blackbox_exporter": first_line([BLACKBOX_EXPORTER, "--version"]),
        "snmpd": next(
            (
                line.strip()
                for line in subprocess.run(
                    ["/usr/sbin/snmpd", "-v"], capture_output=True, text=True, check=False
                ).stdout.splitlines()
                if "version" in line
            ),
            "?",
        ),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "?",
        ),
    }


async def bench(args: argparse.Namespace, stack: contextlib.ExitStack, work: Path) -> int:
    sizes = scaled(QUICK if args.quick else FULL, args.scale)
    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = loadavg()
    if float(load_before[0]) > 0.5:
        print(
            f"bench: warning: load average {load_before[0]} before the run: other work on "
            "this machine competes for the CPUs and makes the numbers noisier",
            flush=True,
        )

    where = f"network namespace {args.netns}" if args.netns else "the current namespace"
    print(f"bench: in {where}: creating {args.interfaces} tap devices, starting snmpd", flush=True)
    taps = stack.enter_context(tap_interfaces(args.interfaces, TAP_PREFIX))
    agent = stack.enter_context(Snmpd(ipv6=False, sys_name="chm-bench-snmpd"))
    snmp_port = agent.port
    assert agent._process is not None
    agent_pid = agent._process.pid

    chm_conf = work / "chm.yml"
    chm_conf.write_text(CHM_CONFIG)
    bb_conf = work / "blackbox.yml"
    bb_conf.write_text(BLACKBOX_CONFIG)
    chm_port, se_port, bb_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    chm = stack.enter_context(
        running(
            Process(
                "chm",
                [
                    str(CHM_BINARY),
                    "--config.file",
                    str(chm_conf),
                    "--web.listen-address",
                    f"127.0.0.1:{chm_port}",
                ],
                log_dir,
            )
        )
    )
    se = stack.enter_context(
        running(
            Process(
                "snmp_exporter",
                [
                    SNMP_EXPORTER,
                    f"--config.file={SNMP_EXPORTER_CONFIG}",
                    f"--web.listen-address=127.0.0.1:{se_port}",
                ],
                log_dir,
            )
        )
    )
    bb = stack.enter_context(
        running(
            Process(
                "blackbox_exporter",
                [
                    BLACKBOX_EXPORTER,
                    f"--config.file={bb_conf}",
                    f"--web.listen-address=127.0.0.1:{bb_port}",
                ],
                log_dir,
            )
        )
    )
    proxy_proc = stack.enter_context(
        running(
            Process(
                "udpdelay",
                [
                    *SELF,
                    "--_delay-proxy",
                    str(snmp_port),
                    str(args.delay_ms / 1000),
                ],
                log_dir,
            ),
            stdout=subprocess.PIPE,
        )
    )
    delay_port = start_delay_proxy(proxy_proc)

    await wait_http(chm, f"http://127.0.0.1:{chm_port}/-/healthy")
    await wait_http(se, f"http://127.0.0.1:{se_port}/")
    await wait_http(bb, f"http://127.0.0.1:{bb_port}/")

    def chm_url(module: str, port: int) -> str:
        return f"http://127.0.0.1:{chm_port}/probe?target=127.0.0.1:{port}&module={module}"

    def se_url(port: int) -> str:
        return f"http://127.0.0.1:{se_port}/snmp?target=127.0.0.1:{port}&module=if_mib"

    chm_ex = Exporter("chm if_mib", chm, "", "chm")
    chm_nocache = Exporter("chm if_mib nocache", chm, "", "chm")
    chm_compat = Exporter("chm if_mib+compat", chm, "", "chm")
    se_ex = Exporter("snmp_exporter", se, "", "snmp_exporter")
    chm_icmp = Exporter("chm icmp", chm, "", "chm")
    bb_icmp = Exporter("blackbox icmp", bb, "", "blackbox")
    snmp_direct = [
        (chm_ex, chm_url("if_mib", snmp_port)),
        (chm_nocache, chm_url("if_mib_nocache", snmp_port)),
        (chm_compat, chm_url("if_mib_compat", snmp_port)),
        (se_ex, se_url(snmp_port)),
    ]
    snmp_delayed = [
        (chm_ex, chm_url("if_mib", delay_port)),
        (chm_nocache, chm_url("if_mib_nocache", delay_port)),
        (se_ex, se_url(delay_port)),
    ]
    icmp = [
        (chm_icmp, f"http://127.0.0.1:{chm_port}/probe?target=127.0.0.1&module=icmp"),
        (bb_icmp, f"http://127.0.0.1:{bb_port}/probe?target=127.0.0.1&module=icmp"),
    ]

    # How many interfaces the agent really lists (snmpd caches its table; taps came first).
    connector = aiohttp.TCPConnector(limit=max(sizes.workers, 10))
    results: list[ScenarioResult] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(se_url(snmp_port)) as resp:
            body = await resp.text()
        if_count = len(re.findall(r"^ifIndex\{", body, re.M))
        print(
            f"bench: snmpd on 127.0.0.1:{snmp_port} lists {if_count} interfaces "
            f"({len(taps)} taps); delay proxy on :{delay_port} ({args.delay_ms:g} ms)",
            flush=True,
        )
        if if_count < args.interfaces:
            print(f"bench: WARNING: expected at least {args.interfaces} interfaces", flush=True)

        plan: list[tuple[str, list[tuple[Exporter, str]], int, int]] = [
            ("snmp sequential", snmp_direct, 1, sizes.sequential),
            (f"snmp concurrent {sizes.workers}x", snmp_direct, sizes.workers, sizes.per_worker),
            (f"snmp +{args.delay_ms:g}ms sequential", snmp_delayed, 1, sizes.delayed),
            (
                f"snmp +{args.delay_ms:g}ms concurrent {sizes.workers}x",
                snmp_delayed,
                sizes.workers,
                sizes.delayed_per_worker,
            ),
            ("icmp sequential", icmp, 1, sizes.icmp_sequential),
            (f"icmp concurrent {sizes.workers}x", icmp, sizes.workers, sizes.icmp_per_worker),
        ]
        for scenario, targets, workers, per_worker in plan:
            if args.only and not scenario.startswith(args.only):
                continue
            for exporter, url in targets:
                print(f"bench: {scenario}: {exporter.label} ({workers} x {per_worker})", flush=True)
                is_snmp = scenario.startswith("snmp")
                res = await run_scenario(
                    http,
                    scenario,
                    exporter,
                    url,
                    workers,
                    per_worker,
                    sizes.warmup,
                    agent_pid if is_snmp else None,
                )
                results.append(res)

    print()
    print_table(results)
    ratio_rows = ratios(results)
    print_ratios(ratio_rows)
    print(
        "(CHM's probe_snmp_varbinds counts what came over the wire: 'chm if_mib' reads fewer\n"
        " varbinds than 'nocache' for the same output, its label columns being cached.)"
    )

    profile_text = None
    phases: dict[str, float] | None = None
    if args.profile:
        print("\nbench: profiling CHM (cProfile) over sequential if_mib scrapes", flush=True)
        profile_text = await profile_chm(chm_conf, log_dir, snmp_port, sizes.sequential, "if_mib")
        print(profile_text)
        try:
            phases = await time_phases(snmp_port, repeats=50 if args.quick else 200)
        except Exception as exc:  # a profile some colleague is editing may not load
            print(f"bench: timing CHM's phases failed: {type(exc).__name__}: {exc}")
        else:
            print("bench: CHM phases, in this process without a profiler (CPU):")
            for key, value in phases.items():
                print(f"  {key:<32} {value:10.2f}")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": asdict(sizes),
        "interfaces": {"taps": len(taps), "listed_by_agent": if_count},
        "netns": args.netns,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "delay_ms": args.delay_ms,
        "versions": versions(),
        "duration_s": round(time.monotonic() - started, 1),
        "results": [asdict(r) for r in results],
        "ratios": ratio_rows,
        "profile": profile_text,
        "phases": phases,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nbench: wrote {args.json} in {payload['duration_s']} s", flush=True)
    failures = sum(r.failures for r in results)
    if failures:
        print(f"bench: {failures} scrapes failed (see the first failure lines above)")
    return 0


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_in_netns(argv: list[str], command: list[str] = SELF, prefix: str = NETNS_PREFIX) -> int:
    """Re-run this script (or ``command``) inside a private network namespace; delete the
    namespace after.

    Everything (taps, snmpd, exporters, proxy, the HTTP client) then talks over that
    namespace's own loopback, and the agent lists exactly our taps plus ``lo``: other test runs
    creating tap devices in the root namespace meanwhile do not change the workload.
    """
    name = f"{prefix}{secrets.token_hex(3)}"
    ip = shutil.which("ip") or "/usr/sbin/ip"
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        subprocess.run([ip, "netns", "add", name], check=True)
        subprocess.run([ip, "-n", name, "link", "set", "lo", "up"], check=True)
        # Per namespace, and "1 0" (no one) in a new one: allow unprivileged ICMP sockets as
        # on the host, so CHM's icmp prober uses the datagram sockets it uses in production.
        subprocess.run(
            [
                ip,
                "netns",
                "exec",
                name,
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.ping_group_range=0 2147483647",
            ],
            check=True,
        )
        child = subprocess.Popen(
            [
                ip,
                "netns",
                "exec",
                name,
                *command,
                *argv,
                "--_in-netns",
                name,
            ],
            start_new_session=True,
            cwd=ROOT,
        )
        while True:
            try:
                return child.wait()
            except InterruptedError:
                continue
    finally:
        stop_process(child, timeout=30)
        subprocess.run([ip, "netns", "del", name], check=False, capture_output=True)
        for sig, handler in old.items():
            signal.signal(sig, handler)


def stale_netns() -> list[str]:
    """Namespaces of ours left by a run that was killed with SIGKILL."""
    res = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in res.stdout.splitlines() if line.startswith(NETNS_PREFIX)]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.delay_proxy:
        serve_delay_proxy(int(args.delay_proxy[0]), float(args.delay_proxy[1]))
        return 0
    check_prerequisites()
    if not args.in_netns and not args.no_netns:
        leftovers = stale_netns()
        if leftovers and args.remove_stale:
            for ns in leftovers:
                subprocess.run(["ip", "netns", "del", ns], check=False)
        elif leftovers:
            print(
                f"bench: warning: namespaces {', '.join(leftovers)} from an earlier killed run "
                "exist; --remove-stale deletes them",
                file=sys.stderr,
            )
        return run_in_netns(argv)
    args.netns = args.in_netns or None
    leftovers = stale_taps()
    if leftovers:
        if args.remove_stale:
            remove_taps(leftovers)
        else:
            print(
                f"bench: warning: {len(leftovers)} {TAP_PREFIX}* tap devices from an earlier "
                "killed run exist; --remove-stale deletes them",
                file=sys.stderr,
            )
    return run_cleaning_up(bench, args, "bench")


BenchMain = Callable[[argparse.Namespace, contextlib.ExitStack, Path], Coroutine[Any, Any, int]]


def run_cleaning_up(main: BenchMain, args: argparse.Namespace, name: str) -> int:
    """Run a benchmark's async main with an ExitStack and a work directory that unwind whatever
    happens: SIGTERM and Ctrl-C end the run, and cannot cut the cleanup short."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix=f"chm-{name}-") as tmp:
        try:
            return asyncio.run(main(args, stack, Path(tmp)))
        except KeyboardInterrupt:
            print(f"\n{name}: interrupted; cleaning up", file=sys.stderr)
            return 130
        finally:
            # The ExitStack unwinds next (exporters, proxy, snmpd, then the tap devices):
            # a second Ctrl-C must not cut that short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
