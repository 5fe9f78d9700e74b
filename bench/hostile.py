"""Hostile replies and the soak: an exporter process probed against the hostile SNMP agent
(tests/servers/hostile_agent.py) until it has sent N hostile replies (`fuzz`) or for N probes
of a well-behaved agent (`soak`), checking every answer and the process' RSS and descriptors.

    .venv/bin/python -m bench.hostile fuzz --replies 100000
    .venv/bin/python -m bench.hostile soak --probes 10000

Every probe must be answered (HTTP 200 with probe_success, never "internal error (a bug)") by
the deadline + 0.1 s; after the warm-up (the first fifth of the run) RSS may not grow by more
than 10 %; once all is answered the process holds the descriptors it held before the first
probe (+ 2), and in flight at most 10 a probe more. The report prints the figures the way issue 10
gives them; the exit code is 1 when a check fails. The test suite runs a short `fuzz`
(tests/integration/test_hostile_fuzz.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

from tests.servers.hostile_agent import BEHAVIOURS, HostileAgent
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command, stop_process

DEADLINE = 1.0
SLACK = 0.1
# Behaviours of the fuzz, by weight: the random ones (a different reply every time) most; the
# endless table least (one probe of it brings thousands of replies in its second).
FUZZ_MIX = {name: 1 for name in BEHAVIOURS if name not in ("normal", "endless", "flood")}
FUZZ_MIX.update({"mutate": 8, "garbage": 3})
RARE = {"endless": 200, "flood": 40}  # one probe in this many (thousands, 100 replies a PDU)
VOLUME = ("normal", "endless", "flood")
"""Not counted towards the target: one probe of the endless table or the flood brings
thousands of replies, which would make the count say little about the variety."""


def hostile_count(replies: Counter[str]) -> int:
    """Replies of the hostile behaviours, the volume ones left out."""
    return sum(n for name, n in replies.items() if name not in VOLUME)


@dataclass
class Report:
    """What a run found."""

    mode: str
    probes: int = 0
    replies: Counter[str] = field(default_factory=Counter)
    late: list[float] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    slowest: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    idle_fds: list[int] = field(default_factory=list)
    """Descriptors before the first probe and after the last answer."""
    concurrency: int = 8
    seconds: float = 0.0

    @property
    def hostile_replies(self) -> int:
        """Hostile replies, not counting the volume behaviours (see :data:`VOLUME`)."""
        return hostile_count(self.replies)

    def flat(self) -> tuple[bool, str]:
        """Whether RSS and descriptors stayed flat after the warm-up, and the figures."""
        warm = max(1, len(self.rss_mb) // 5)
        rss0 = self.rss_mb[warm - 1]
        rss_ok = max(self.rss_mb[warm:], default=rss0) <= rss0 * 1.10
        before, after = self.idle_fds[0], self.idle_fds[-1]
        # no descriptor kept once all is answered; in flight, at most 10 a probe
        fds_ok = after <= before + 2 and max(self.fds) <= before + 10 * self.concurrency
        text = (
            f"RSS {rss0:.1f} MB after warm-up, max {max(self.rss_mb):.1f} MB, last "
            f"{self.rss_mb[-1]:.1f} MB; fds {before} idle before, max {max(self.fds)} in "
            f"flight, {after} idle after"
        )
        return rss_ok and fds_ok, text

    def ok(self) -> bool:
        """No late, dropped or internal-error answer, and flat resources."""
        return not (self.late or self.dropped or self.bugs) and self.flat()[0]

    def text(self) -> str:
        """The figures, as issue 10 gives them."""
        flat_ok, flat = self.flat()
        by = ", ".join(f"{k} {v}" for k, v in self.replies.most_common())
        return "\n".join(
            [
                f"{self.mode}: {self.probes} probes in {self.seconds:.0f}s; "
                f"{self.hostile_replies} hostile replies besides the volume ones ({by})",
                f"late answers (> deadline {DEADLINE}s + {SLACK}s): {len(self.late)}; "
                f"slowest {self.slowest:.3f}s",
                f"dropped answers: {len(self.dropped)} {self.dropped[:3]}",
                f"internal errors: {len(self.bugs)} {self.bugs[:3]}",
                f"{flat} ({'flat' if flat_ok else 'GROWING'})",
            ]
        )


def _config(communities: list[str]) -> dict[str, object]:
    return {
        "auths": {name: {"version": "2c", "community": name} for name in communities},
        "modules": {
            walk: {
                "timeout": DEADLINE,
                "snmp": {
                    "profiles": ["system", "if_mib"],
                    "timeout": 0.2,
                    "retries": 0,
                    "walk": walk,
                    "lookup_cache_seconds": 0,
                },
            }
            for walk in ("bulk", "getnext")
        },
    }


def _sample(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def _plan(mode: str, n: int) -> str:
    if mode == "soak":
        return "normal"
    for name, every in RARE.items():
        if n % every == every - 1:
            return name
    names = [name for name, weight in FUZZ_MIX.items() for _ in range(weight)]
    return names[n % len(names)]


async def _probe(session: aiohttp.ClientSession, url: str, report: Report) -> None:
    started = time.monotonic()
    try:
        async with session.get(url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}) as r:
            body = await r.text()
            status = r.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        report.dropped.append(f"{type(exc).__name__}: {exc}")
        return
    seconds = time.monotonic() - started
    report.slowest = max(report.slowest, seconds)
    if seconds > DEADLINE + SLACK:
        report.late.append(seconds)
    if status != 200 or "probe_success" not in body:
        report.dropped.append(f"HTTP {status}: {body[:100]}")
    elif "internal error (a bug)" in body:
        report.bugs.append(body[:300])


async def run(
    mode: str,
    *,
    replies: int = 0,
    probes: int = 0,
    concurrency: int = 8,
    samples: int = 20,
) -> Report:
    """Probe until `replies` hostile replies (fuzz) or `probes` probes (soak) are done."""
    report = Report(mode, concurrency=concurrency)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        async with HostileAgent(seed=1) as agent:
            config = Path(tmp) / "chm.yml"
            config.write_text(yaml.safe_dump(_config(list(BEHAVIOURS))))
            port = free_tcp_port()
            proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before any probe)
                exporter_command(config, f"127.0.0.1:{port}", "--log.level", "error"),
                stderr=subprocess.DEVNULL,
            )
            try:
                await _wait_ready(port)
                report.idle_fds.append(_sample(proc.pid)[1])
                timeout = aiohttp.ClientTimeout(total=DEADLINE + 5)
                # a connection per probe: the idle figures hold no kept-alive connection
                connector = aiohttp.TCPConnector(force_close=True)
                async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                    await _drive(
                        session,
                        port,
                        agent,
                        mode,
                        replies,
                        probes,
                        concurrency,
                        samples,
                        proc.pid,
                        report,
                    )
            finally:
                stop_process(proc, 5)
            report.replies = Counter(agent.replies)
    report.seconds = time.monotonic() - started
    return report


async def _drive(
    session: aiohttp.ClientSession,
    port: int,
    agent: HostileAgent,
    mode: str,
    replies: int,
    probes: int,
    concurrency: int,
    samples: int,
    pid: int,
    report: Report,
) -> None:
    def done() -> bool:
        if mode == "soak":
            return report.probes >= probes
        return hostile_count(agent.replies) >= replies

    def progress() -> float:
        if mode == "soak":
            return report.probes / probes
        return hostile_count(agent.replies) / replies

    next_sample = 0.0
    pending: set[asyncio.Task[None]] = set()
    n = 0
    while not done() or pending:
        while not done() and len(pending) < concurrency:
            name = _plan(mode, n)
            walk = "getnext" if n % 2 else "bulk"
            url = (
                f"http://127.0.0.1:{port}/probe?target=127.0.0.1:{agent.port}"
                f"&module={walk}&auth={name}"
            )
            pending.add(asyncio.ensure_future(_probe(session, url, report)))
            n += 1
            report.probes += 1
        if not pending:
            break
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if progress() >= next_sample:
            rss, fds = _sample(pid)
            report.rss_mb.append(rss)
            report.fds.append(fds)
            next_sample += 1 / samples
    rss, fds = _sample(pid)
    report.rss_mb.append(rss)
    report.fds.append(fds)
    report.idle_fds.append(fds)


async def _wait_ready(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/-/healthy") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the exporter did not start")


def main() -> int:
    """Run from the command line; prints the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=("fuzz", "soak"))
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    report = asyncio.run(
        run(args.mode, replies=args.replies, probes=args.probes, concurrency=args.concurrency)
    )
    print(report.text())
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
