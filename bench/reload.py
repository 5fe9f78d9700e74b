"""How long the event loop stalls while a large config reloads: CHM vs snmp_exporter 0.21.

Run from the repository root::

    .venv/bin/python -m bench.reload                 # 20,000 modules, 3 reloads each
    .venv/bin/python -m bench.reload --modules 5000 --repeats 5

Each exporter starts on 127.0.0.1 with a two-module config; the config file is then replaced by
one of ``--modules`` modules and ``POST /-/reload`` is sent while ``/-/healthy`` is polled every
10 ms. Printed per exporter: the reload's wall time, and the slowest ``/-/healthy`` answer seen
during it (the longest the exporter could not answer anything). CHM loads the config in a
child process (:mod:`chm_exporter.configproc`); the row ``chm in-process load`` is what the
stall would be if it parsed the config on its own loop (``load_config`` timed here).
Benchmarks only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.run import CHM_BINARY, SNMP_EXPORTER, Process, running, wait_http
from chm_exporter.config import load_config
from tests.servers.ports import free_tcp_port


def chm_config(modules: int) -> str:
    """A CHM config of `modules` ICMP modules."""
    head = "modules:\n"
    return head + "".join(f"  m{i}:\n    icmp: {{count: 1}}\n" for i in range(modules))


def snmp_exporter_config(modules: int) -> str:
    """An snmp_exporter 0.21 config of `modules` modules, each walking the system group."""
    return "".join(
        f"m{i}:\n  walk: [1.3.6.1.2.1.1.3]\n  metrics:\n  - name: sysUpTime\n"
        "    oid: 1.3.6.1.2.1.1.3\n    type: gauge\n"
        for i in range(modules)
    )


@dataclass
class Reload:
    """One reload as the client saw it."""

    seconds: float
    worst_stall: float
    status: int


async def reload_once(base: str) -> Reload:
    """POST /-/reload while polling /-/healthy; the reload's time and the slowest answer."""
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        reload = asyncio.ensure_future(session.post(f"{base}/-/reload"))
        worst = 0.0
        while not reload.done():
            asked = time.perf_counter()
            async with session.get(f"{base}/-/healthy") as resp:
                await resp.read()
            worst = max(worst, time.perf_counter() - asked)
            await asyncio.sleep(0.01)
        resp = await reload
        status = resp.status
        resp.release()
        return Reload(time.perf_counter() - started, worst, status)


def _write(path: Path, text: str) -> None:
    """Replace the config file (a blocking write; the bench waits for it on purpose)."""
    path.write_text(text)


async def measure(
    name: str, argv: list[str], config: Path, small: str, large: str, repeats: int, port: int
) -> list[Reload]:
    """Start one exporter on `small`, then reload it onto `large` `repeats` times."""
    base = f"http://127.0.0.1:{port}"
    _write(config, small)
    results = []
    with running(Process(name, argv, config.parent)) as process:
        await wait_http(process, f"{base}/-/healthy")
        for _ in range(repeats):
            _write(config, small)
            await reload_once(base)
            _write(config, large)
            results.append(await reload_once(base))
    return results


def in_process_load(path: Path, repeats: int) -> list[float]:
    """Seconds :func:`load_config` holds the calling thread for the config at `path`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        load_config(path)
        times.append(time.perf_counter() - started)
    return times


def worst(reloads: list[Reload]) -> float:
    """The slowest answer seen across `reloads`."""
    return max(r.worst_stall for r in reloads)


def _row(name: str, reloads: list[Reload]) -> None:
    seconds = statistics.median(r.seconds for r in reloads)
    codes = sorted({r.status for r in reloads})
    print(f"{name:<24} {seconds:>9.2f} s {worst(reloads) * 1000:>12.1f} ms   HTTP {codes}")


async def main_async(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="chm-bench-reload-"))
    chm_path, anchor_path = work / "chm.yml", work / "snmp.yml"
    chm_port, anchor_port = free_tcp_port(), free_tcp_port()
    chm_argv = [
        str(CHM_BINARY),
        f"--config.file={chm_path}",
        f"--web.listen-address=127.0.0.1:{chm_port}",
        "--web.enable-lifecycle",
    ]
    anchor_argv = [
        SNMP_EXPORTER,
        f"--config.file={anchor_path}",
        f"--web.listen-address=127.0.0.1:{anchor_port}",
    ]
    print(f"{args.modules} modules, {args.repeats} reloads per exporter")
    print(f"{'exporter':<24} {'reload':>11} {'worst stall':>15}")
    chm = await measure(
        "chm",
        chm_argv,
        chm_path,
        chm_config(2),
        chm_config(args.modules),
        args.repeats,
        chm_port,
    )
    _row("chm (child process)", chm)
    inline = in_process_load(chm_path, args.repeats)
    print(f"{'chm in-process load':<24} {statistics.median(inline):>9.2f} s {'(= the stall)':>15}")
    anchor = await measure(
        "snmp_exporter",
        anchor_argv,
        anchor_path,
        snmp_exporter_config(2),
        snmp_exporter_config(args.modules),
        args.repeats,
        anchor_port,
    )
    _row("snmp_exporter", anchor)
    print(f"worst stall chm/snmp_exporter: {worst(chm) / worst(anchor):.2f}")
    print(f"worst stall chm/in-process load: {worst(chm) / max(inline):.3f}")
    with contextlib.suppress(OSError):
        for path in (chm_path, anchor_path):
            path.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
