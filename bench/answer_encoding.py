"""What compressing the /probe answer would cost the exporter: server CPU per request for one
recorded device's answer, sent as is, gzip level 1, gzip level 6 and aiohttp's
``enable_compression()`` (level 6, in a thread above 4 kB), to a client that sends
``Accept-Encoding: gzip`` as Prometheus does.

    .venv/bin/python -m bench.answer_encoding [--requests 1000] [community]

The answer is the exposition the exporter renders for the recording (from ``bench.evaluate``'s
walks); a small aiohttp server in a child process answers it on loopback, one keep-alive
client asks it ``--requests`` times per variant, and the server's CPU (utime + stime from
/proc) is read before and after. Benchmarks only: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import zlib
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.evaluate import RESULTS, load_walks
from bench.run import proc_cpu_seconds
from chm_exporter.exposition import MetricSink
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles
from chm_exporter.profiles.loader import expand_includes
from tests.servers.ports import free_tcp_port

VARIANTS = ("identity", "gzip1", "gzip6", "aiohttp")


def serve(port: int, body_path: Path, variant: str) -> None:
    """The child: answer GET / with the body, encoded as `variant` says."""
    body = body_path.read_bytes()

    async def answer(request: web.Request) -> web.Response:
        if variant in ("gzip1", "gzip6"):
            gz = zlib.compressobj(int(variant[-1]), zlib.DEFLATED, 31)
            data = gz.compress(body) + gz.flush()
            return web.Response(
                body=data, content_type="text/plain", headers={"Content-Encoding": "gzip"}
            )
        response = web.Response(body=body, content_type="text/plain", charset="utf-8")
        if variant == "aiohttp":
            response.enable_compression()
        return response

    app = web.Application()
    app.router.add_get("/", answer)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


async def measure(port: int, pid: int, requests: int) -> tuple[float, int]:
    """Server CPU ms per request, and the bytes on the wire per answer."""
    url = f"http://127.0.0.1:{port}/"
    headers = {"Accept-Encoding": "gzip"}
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(url, headers=headers) as resp:
                    await resp.read()
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        wire = 0
        cpu = proc_cpu_seconds(pid)
        for _ in range(requests):
            async with http.get(url, headers=headers) as resp:
                await resp.read()
                wire = int(resp.headers["Content-Length"])
        cpu = proc_cpu_seconds(pid) - cpu
    return cpu / requests * 1000, wire


def measured(body_path: Path, variant: str, requests: int) -> tuple[float, int]:
    """`measure` against a fresh server child answering `variant`."""
    port = free_tcp_port()
    argv = [sys.executable, "-m", "bench.answer_encoding", "--_serve", str(port), variant]
    child = subprocess.Popen([*argv, str(body_path)])
    try:
        return asyncio.run(measure(port, child.pid, requests))
    finally:
        child.terminate()
        child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("community", nargs="?", default="cisco_ios/cisco-c3560")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--_serve", dest="serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        port, variant, body = args.serve
        serve(int(port), Path(body), variant)
        return 0
    names, columns = load_walks([args.community], refresh=False)[args.community]
    sink = MetricSink()
    evaluate_profiles(expand_includes(names, load_profiles([])), WalkResult(columns), sink)
    body_path = RESULTS / "answer.txt"
    body_path.write_bytes(sink.render().encode())
    size = body_path.stat().st_size
    print(f"{args.community}: answer {size / 1000:.1f} kB, {args.requests} requests per variant")
    for _ in range(args.rounds):
        for variant in VARIANTS:
            started = time.perf_counter()
            cpu_ms, wire = measured(body_path, variant, args.requests)
            took = time.perf_counter() - started
            print(
                f"  {variant:9} server {cpu_ms:.3f} ms CPU/request, {wire / 1000:6.1f} kB "
                f"on the wire ({took:.1f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
