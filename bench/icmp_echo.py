"""What one ICMP echo costs the exporter's process: CPU (user + kernel, ``time.process_time``)
per echo through the shared echo engine (:mod:`chm_exporter.icmp.echo`) to 127.0.0.1, one at a
time and N concurrent, without HTTP or the probe framework around it.

    .venv/bin/python -m bench.icmp_echo [--echoes 5000] [--concurrency 1 10]

Needs the unprivileged ICMP sockets the exporter uses (``net.ipv4.ping_group_range``) or root.
Benchmarks only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from chm_exporter.icmp.echo import SocketKey, close_echo_engine, echo_engine
from chm_exporter.probers.icmp import echo_payload

_WARMUP = 200


async def cpu_per_echo(echoes: int, concurrency: int, address: str = "127.0.0.1") -> float:
    """Seconds of process CPU per echo for `echoes` echoes sent `concurrency` at a time."""
    sock = echo_engine().socket(SocketKey(4))
    payload = echo_payload(56)

    async def rounds(count: int) -> None:
        for _ in range(max(1, count // concurrency)):
            await asyncio.gather(*(sock.echo(address, payload, 1.0) for _ in range(concurrency)))

    await rounds(_WARMUP)
    started = time.process_time()
    await rounds(echoes)
    return (time.process_time() - started) / (max(1, echoes // concurrency) * concurrency)


async def main(args: argparse.Namespace) -> None:
    """Print the CPU per echo for each concurrency."""
    try:
        for concurrency in args.concurrency:
            seconds = await cpu_per_echo(args.echoes, concurrency)
            print(f"concurrency {concurrency:>3}: {seconds * 1e6:7.1f} us CPU per echo", flush=True)
    finally:
        close_echo_engine()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--echoes", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10])
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
