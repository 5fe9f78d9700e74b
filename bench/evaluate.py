"""CPU of evaluating the profiles and rendering the answer, per recorded device, in-process.

    .venv/bin/python -m bench.evaluate                       # walk, then time (~2 minutes)
    .venv/bin/python -m bench.evaluate --runs 300 cisco_ios/ios_2960x
    .venv/bin/python -m bench.evaluate --cprofile cisco_ios/ios_2960x

The first run walks each recording (snmpsim on loopback, the exporter's own `module=auto`
path in this process) and keeps the walk results in ``bench/results/walks.pickle``; later runs
reuse them, so before/after comparisons time the same input. Each device's evaluation
(``evaluate_profiles``) and rendering (``MetricSink.render``, then the UTF-8 encoding the
response needs) are timed with ``time.process_time`` as the minimum of ``--runs`` runs (the
machine is shared: the minimum is the least disturbed). Benchmarks only: nothing here asserts
a time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import pickle
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp.test_utils import TestClient, TestServer

from chm_exporter.config import load_config
from chm_exporter.exposition import MetricSink
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles
from chm_exporter.profiles.loader import expand_includes
from chm_exporter.profiles.model import Profile
from chm_exporter.server import create_app

RESULTS = Path(__file__).resolve().parent / "results"
WALKS = RESULTS / "walks.pickle"
Walks = dict[str, tuple[tuple[str, ...], dict[str, dict[str, Any]]]]
"""community -> (profile names, the walk result's columns)."""


async def _walk_all(communities: list[str] | None) -> Walks:
    """Probe every recording once with module=auto and keep what evaluation was given."""
    from tests.integration import corpus
    from tests.integration.harness import CORPUS_MODULE_TIMEOUT, probe_text, write_config
    from tests.servers.snmpsim import Snmpsim

    chosen = communities or corpus.communities()
    walks: Walks = {}
    seen: list[tuple[list[Profile], WalkResult]] = []
    real = evaluate_profiles

    def capture(profiles: list[Profile], result: WalkResult, *args: Any, **kw: Any) -> bool:
        seen.append((list(profiles), result))
        return real(profiles, result, *args, **kw)

    modules = {
        "auto": {"timeout": CORPUS_MODULE_TIMEOUT, "snmp": {"profiles": ["auto"], "timeout": 3}}
    }
    with tempfile.TemporaryDirectory() as tmp, Snmpsim(data_files=chosen) as sim:
        app = create_app(load_config(write_config(Path(tmp), chosen, modules)))
        async with TestClient(TestServer(app)) as client:
            with mock.patch("chm_exporter.probers.snmp.evaluate_profiles", capture):
                for community in chosen:
                    seen.clear()
                    text = await probe_text(client, sim.port, community, "auto")
                    assert 'probe_success{prober="snmp"} 1' in text, community
                    profiles, result = seen[-1]
                    walks[community] = (tuple(p.name for p in profiles), result.columns)
                    print(f"walked {community}", file=sys.stderr)
    return walks


def load_walks(communities: list[str] | None, refresh: bool) -> Walks:
    """The walk results, from the pickle when it holds every device asked for."""
    walks: Walks = {}
    if WALKS.exists() and not refresh:
        walks = pickle.loads(WALKS.read_bytes())
    missing = [c for c in communities or [] if c not in walks] if walks else communities
    if not walks or missing:
        walks.update(asyncio.run(_walk_all(missing or None)))
        RESULTS.mkdir(exist_ok=True)
        WALKS.write_bytes(pickle.dumps(walks))
    return {c: walks[c] for c in communities} if communities else walks


def best_ms(call: Callable[[], object], runs: int) -> float:
    """Minimum CPU milliseconds of `runs` calls."""
    best = float("inf")
    for _ in range(runs):
        cpu = time.process_time()
        call()
        best = min(best, time.process_time() - cpu)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("communities", nargs="*", help="recordings (default: all)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per device")
    parser.add_argument("--refresh", action="store_true", help="walk the recordings again")
    parser.add_argument("--cprofile", action="store_true", help="profile instead of timing")
    args = parser.parse_args(argv)
    walks = load_walks(args.communities or None, args.refresh)
    catalogue = load_profiles([])
    jobs: list[tuple[str, list[Profile], WalkResult]] = []
    for community, (names, columns) in sorted(walks.items()):
        profiles = expand_includes(names, catalogue)
        jobs.append((community, profiles, WalkResult(columns=columns)))

    def evaluate(profiles: list[Profile], result: WalkResult) -> MetricSink:
        sink = MetricSink()
        evaluate_profiles(profiles, result, sink)
        return sink

    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.runs):
            for _community, profiles, result in jobs:
                evaluate(profiles, result).render().encode()
        prof.disable()
        pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(25)
        return 0

    print("| device | samples | body kB | evaluate ms | render ms | gzip-1 ms | gzip-1 kB |")
    print("|---|---|---|---|---|---|---|")
    totals = [0.0, 0.0, 0.0]
    for community, profiles, result in jobs:
        sink = evaluate(profiles, result)
        body = sink.render().encode()
        samples = sum(len(f.samples) for f in sink)
        eval_ms = best_ms(lambda p=profiles, r=result: evaluate(p, r), args.runs)  # type: ignore[misc]
        render_ms = best_ms(lambda s=sink: s.render().encode(), args.runs)  # type: ignore[misc]
        gzip_ms = best_ms(lambda b=body: gzip.compress(b, 1), max(5, args.runs // 5))  # type: ignore[misc]
        zipped = len(gzip.compress(body, 1))
        totals[0] += eval_ms
        totals[1] += render_ms
        totals[2] += gzip_ms
        print(
            f"| {community} | {samples} | {len(body) / 1000:.1f} | {eval_ms:.3f} | "
            f"{render_ms:.3f} | {gzip_ms:.3f} | {zipped / 1000:.1f} |"
        )
    print(f"| **sum** | | | {totals[0]:.2f} | {totals[1]:.2f} | {totals[2]:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
