"""Devices of vendors we have never seen (issue 12): every recording of the pip package
snmpsim-data (:mod:`tests.integration.foreign`) of at most 1 MB (100 of 116; all with
``CHM_FOREIGN_ALL=1``, see :data:`SUITE_MAX_BYTES`) is served by snmpsim and probed in-process
through ``/probe?module=auto&debug=true``. Whatever the device, the answer must be HTTP 200 and
a valid exposition with no two series of one label set; the SNMP prober must succeed (or the
recording is listed in :data:`UNUSABLE` with the reason, and then must fail); the device must
name its vendor; no row may be lost to another's label set, no value fall outside the
catalogue's range, and the debug log may hold no internal error or traceback.

One snmpsim process per core serves the cut recordings, probes run two at a time on each. All
116: ~1.5 min on an idle 2-core machine once the cache of sorted recordings exists (the first
run on a machine builds it: ~3 min of CPU, 1.4 GB of disk).
``CHM_FOREIGN_DETAIL=<folder>`` writes every probe's debug answer there, for review.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration import foreign, series_checks
from tests.integration.exposition import SampleKey, parse_exposition
from tests.integration.harness import probe_text, write_config
from tests.servers.snmpsim import SYS_OBJECT_ID_OID, Snmpsim

UNUSABLE: dict[str, str] = {}
"""Recordings no exporter can read, each with the reason: the SNMP prober must fail on them."""

UNNAMED: dict[str, str] = {
    "foreign/camera/hikvision": "no system group recorded",
    "foreign/network/appliance/network-research-squid": "no sysObjectID recorded",
    "foreign/network/firewall/nsfocus-osms": "sysObjectID 1.3.6.1.4.19849: not below 1.3.6.1.4.1",
    "foreign/unclassified/01": "sysObjectID 1.3.6.1.4.1.0.1.3.1: enterprise 0 is reserved",
    "foreign/unclassified/02": "no system group recorded",
    "foreign/unclassified/03": "no system group recorded",
}
"""Recordings that give no vendor to name, each with the reason: they must name none."""

SNMPSIM_PROCESSES = max(1, min(2, os.cpu_count() or 1))
PROBES_PER_SNMPSIM = 2
SUITE_MAX_BYTES = 1_000_000
"""In the suite, recordings of at most 1 MB as shipped (100 of 116): the 16 larger ones
(1.4 GB decompressed, e.g. ruijie-m18000's 3,271 interfaces alone take ~1 min through
snmpsim) would add minutes of cache building and serving to every CI run.
``CHM_FOREIGN_ALL=1`` serves all 116."""
RECORDINGS = foreign.recordings(None if os.environ.get("CHM_FOREIGN_ALL") else SUITE_MAX_BYTES)
WHOLE = "foreign/cloud/arista-dcs-7150s-52-cl"
"""A recording also served whole (as ``whole/...``): its probe must read what the cut gives."""
WHOLE_COMMUNITY = WHOLE.replace("foreign/", "whole/", 1)
DETAIL = os.environ.get("CHM_FOREIGN_DETAIL")
"""A folder to write every probe's debug answer to (``<community with / as __>.txt``)."""
SUCCESS = ("probe_success", (("prober", "snmp"),))
LOGS = "Logs for the probe:\n"
METRICS = "\nMetrics that would have been returned:\n"
MODULE = "\nModule configuration:\n"
BUG_MARKS = ("internal error", "Traceback", "SNMP library panic")

# Cutting a cold cache decompresses 1.5 GB once (see tests.integration.foreign); snmpsim is
# pure Python and slow when the machine is shared.
pytestmark = pytest.mark.timeout(900)


@dataclass
class Answer:
    """One probe's answer, taken apart."""

    status: str = ""
    """Empty when the answer was HTTP 200, else what went wrong."""
    log: str = ""
    text: str = ""
    samples: dict[SampleKey, float] = field(default_factory=dict)
    invalid: str = ""
    """Empty when the exposition parses (strictly and by prometheus_client), else why not."""
    seconds: float = 0.0


@dataclass(frozen=True)
class Probes:
    """Every recording's answer, and how long serving and probing took."""

    answers: dict[str, Answer]
    whole: Answer
    """The answer of :data:`WHOLE` served whole."""
    served_lines: int
    start_seconds: float
    probe_seconds: float


def _take_apart(body: str) -> Answer:
    """The debug answer's log and exposition, parsed."""
    log, _, rest = body.removeprefix(LOGS).partition(METRICS)
    text = rest.partition(MODULE)[0]
    answer = Answer(log=log, text=text)
    try:
        answer.samples = parse_exposition(text)
        for _family in text_string_to_metric_families(text):
            pass
    except (AssertionError, ValueError) as exc:
        answer.invalid = str(exc).splitlines()[0][:300]
    return answer


async def _probe_all(ports: Mapping[str, int], config: Path) -> dict[str, Answer]:
    client = TestClient(TestServer(create_app(load_config(config))))
    await client.start_server()
    gates = {port: asyncio.Semaphore(PROBES_PER_SNMPSIM) for port in set(ports.values())}

    async def one(community: str) -> tuple[str, Answer]:
        async with gates[ports[community]]:
            started = time.monotonic()
            try:
                body = await probe_text(
                    client, ports[community], community, "auto", scrape_timeout=120, debug="true"
                )
            except AssertionError:  # probe_text asserts HTTP 200
                return community, Answer(status="HTTP status other than 200")
            if DETAIL:
                Path(DETAIL, community.replace("/", "__") + ".txt").write_text(body)
            answer = _take_apart(body)
            answer.seconds = time.monotonic() - started
            return community, answer

    try:
        return dict(await asyncio.gather(*(one(c) for c in ports)))
    finally:
        await client.close()


def _balanced(texts: Mapping[str, str], count: int) -> list[list[str]]:
    """The recordings in `count` shards of about as many records each: snmpsim's time goes
    by the records it answers (the largest first, each to the lightest shard)."""
    shards: list[list[str]] = [[] for _ in range(count)]
    weights = [0] * count
    for community in sorted(texts, key=lambda c: -texts[c].count("\n")):
        lightest = weights.index(min(weights))
        shards[lightest].append(community)
        weights[lightest] += texts[community].count("\n")
    return [sorted(shard) for shard in shards if shard]


def _answers_sysobjectid(text: str) -> bool:
    return text.startswith(f"{SYS_OBJECT_ID_OID}|") or f"\n{SYS_OBJECT_ID_OID}|" in text


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> Probes:
    # cutting (and, on a cold cache, decompressing and sorting) is pure Python: one process a core
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(SNMPSIM_PROCESSES, mp_context=spawn) as cutters:
        cut = cutters.map(foreign.served_text, RECORDINGS.values(), chunksize=4)
        texts = dict(zip(RECORDINGS, cut, strict=True))
    texts[WHOLE_COMMUNITY] = foreign.sorted_recording(RECORDINGS[WHOLE]).read_text("latin-1")
    modules = {
        "auto": {"timeout": 120, "snmp": {"profiles": ["auto"], "timeout": 10, "retries": 1}}
    }
    config = write_config(tmp_path_factory.mktemp("foreign"), texts, modules)
    shards = _balanced(texts, SNMPSIM_PROCESSES)
    started = time.monotonic()
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(SNMPSIM_PROCESSES) as pool:
        sims = [
            Snmpsim(
                data_files=[],
                extra_files={c: texts[c] for c in shard},
                probe_community=next(c for c in shard if _answers_sysobjectid(texts[c])),
                start_timeout=600,
            )
            for shard in shards
        ]
        for sim in pool.map(Snmpsim.start, sims):
            stack.callback(sim.stop)
        start_seconds = time.monotonic() - started
        ports = {c: sim.port for sim, shard in zip(sims, shards, strict=True) for c in shard}
        answers = asyncio.run(_probe_all(ports, config))
    lines = sum(text.count("\n") for c, text in texts.items() if c in RECORDINGS)
    probe_seconds = time.monotonic() - started - start_seconds
    whole = answers.pop(WHOLE_COMMUNITY)
    return Probes(answers, whole, lines, start_seconds, probe_seconds)


def _problems(probes: Probes, check: Callable[[str, Answer], str]) -> dict[str, str]:
    """Recording → what `check` finds wrong with its answer (only those where it finds any)."""
    found = {c: check(c, a) for c, a in probes.answers.items()}
    return {c: problem for c, problem in found.items() if problem}


def _http(_community: str, answer: Answer) -> str:
    return answer.status


def _exposition(_community: str, answer: Answer) -> str:
    return "" if answer.status else answer.invalid


def _success(community: str, answer: Answer) -> str:
    if answer.status or answer.invalid:
        return ""
    ok = answer.samples.get(SUCCESS) == 1
    if community in UNUSABLE:
        return "listed as unusable but probed fine" if ok else ""
    errors = [line for line in answer.log.splitlines() if " ERROR " in line]
    return "" if ok else "; ".join(errors)[:300] or "no probe_success 1"


def _vendor(community: str, answer: Answer) -> str:
    if answer.status or answer.invalid:
        return ""
    vendor = series_checks.vendor(answer.samples)
    if community in UNNAMED:
        return f"listed as unnamed but names {vendor}" if vendor else ""
    if vendor:
        return ""
    info = [line for line in answer.text.splitlines() if line.startswith("chm_device_info")]
    return f"no vendor: {info[:1]}"


def _impossible(_community: str, answer: Answer) -> str:
    return "; ".join(series_checks.impossible_values(answer.samples))[:600]


def _lost(_community: str, answer: Answer) -> str:
    return "; ".join(ln for ln in answer.log.splitlines() if series_checks.LOST_ROWS in ln)


def _bug(_community: str, answer: Answer) -> str:
    marks = [ln for ln in answer.log.splitlines() if any(m in ln for m in BUG_MARKS)]
    return "; ".join(marks)[:600]


CHECKS: dict[str, Callable[[str, Answer], str]] = {
    "HTTP status": _http,
    "exposition invalid or duplicate series": _exposition,
    "SNMP probe failed": _success,
    "no vendor": _vendor,
    "impossible value": _impossible,
    "row lost to another's label set": _lost,
    "internal error in the debug log": _bug,
}


def _report(found: dict[str, str]) -> str:
    return f"{len(found)} recordings:\n" + "\n".join(f"{c}: {p}" for c, p in sorted(found.items()))


def test_every_recording_is_served(probes: Probes) -> None:
    assert RECORDINGS, f"no recording in {foreign.data_dir()}: run scripts/setup.sh"
    assert set(probes.answers) == set(RECORDINGS)
    tally = {name: len(_problems(probes, check)) for name, check in CHECKS.items()}
    print(
        f"\n{len(RECORDINGS)} recordings, {probes.served_lines} records served; snmpsim ready "
        f"in {probes.start_seconds:.1f} s, probed in {probes.probe_seconds:.1f} s; "
        f"problems: {tally}"
    )
    slowest = sorted(probes.answers.items(), key=lambda item: -item[1].seconds)[:5]
    print("slowest probes:", ", ".join(f"{c} {a.seconds:.1f} s" for c, a in slowest))


def test_listed_recordings_are_ours() -> None:
    listed = set(UNUSABLE) | set(UNNAMED)
    assert listed <= set(foreign.recordings()), listed - set(foreign.recordings())


def _readings(answer: Answer) -> dict[SampleKey, float]:
    """The device's samples (chm_*), without the probe's own timing."""
    return {k: v for k, v in answer.samples.items() if k[0].startswith("chm_")}


def test_the_cut_reads_what_the_whole_recording_gives(probes: Probes) -> None:
    cut, whole = probes.answers[WHOLE], probes.whole
    assert not whole.status, whole.status
    assert not whole.invalid, whole.invalid
    assert len(_readings(cut)) > 1000
    assert _readings(cut) == _readings(whole)


@pytest.mark.parametrize("problem", CHECKS)
def test_no_problem(probes: Probes, problem: str) -> None:
    found = _problems(probes, CHECKS[problem])
    assert not found, f"{problem}: {_report(found)}"
