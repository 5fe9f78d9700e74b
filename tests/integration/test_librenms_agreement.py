"""Agreement with LibreNMS on every corpus walk that carries its expectations.

Every walk with a LibreNMS JSON beside it (``snmprec/*/*.json`` and ``librenms/``) is served by
one snmpsim process, probed in-process through ``/probe?module=auto``, and compared item by
item with what LibreNMS discovers (see :mod:`tests.integration.librenms` for the rules). The
per-category table is printed and must match ``tests/golden/librenms_agreement.md``
(``scripts/vendors_table.py`` puts it in docs/vendors.md); regenerate with
``CHM_UPDATE_GOLDEN=1`` and read the diff. Each category must reach 95 %, or while it is short
of that, no less than the committed table says (a ratchet: progress is kept). Every walk's
probe must also hold no duplicate series, lose no row to another row's label set, expose no
value outside the catalogue's range and name its vendor.
``CHM_AGREEMENT_DETAIL=<file>`` writes every item's verdict there. Cases where
LibreNMS is the one that differs are listed, with the reason, in ``librenms_exceptions.yaml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration import librenms, series_checks
from tests.integration.exposition import parse_exposition
from tests.integration.harness import probe_text, write_config
from tests.servers.corpus_location import corpus_root
from tests.servers.snmpsim import Snmpsim

MIN_AGREEMENT_PERCENT = 95.0
"""The goal for every category, once the reviewed exceptions are taken out (issue 12)."""

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "librenms_agreement.md"
AFTER = "After the reviewed exceptions:"


def _committed_floors() -> dict[str, float]:
    """Per category, the agreement the committed table records (after the exceptions): read
    before this run may rewrite it, so a category may never fall below it (a ratchet) while
    the goal is not reached."""
    if not GOLDEN.exists():
        return {}
    floors: dict[str, float] = {}
    for row in GOLDEN.read_text().split(AFTER, 1)[-1].strip().splitlines()[2:]:
        category, overall = (cell.strip() for cell in row.strip("|").split("|")[:2])
        if "(" in overall:
            agreements, expected = overall.split("(", 1)[1].rstrip(")").split("/")
            floors[category] = librenms.percent(int(agreements), int(expected))
    return floors


FLOORS = _committed_floors()
UPDATE = os.environ.get("CHM_UPDATE_GOLDEN") == "1"
DETAIL = os.environ.get("CHM_AGREEMENT_DETAIL")
"""A file to write every outcome to (walk, category, item, agrees, LibreNMS value), for review."""
SNMPSIM_PROCESSES = max(1, min(2, os.cpu_count() or 1))
PROBES_PER_SNMPSIM = 2
WALKS = librenms.walks()

# snmpsim costs ~1 CPU-second per walk here; on a machine shared by several jobs the whole
# comparison needs more than the suite's default 180 s.
pytestmark = [pytest.mark.corpus, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Agreement:
    """The comparison of every walk: outcomes, the walks whose probe failed, and timing."""

    outcomes: list[librenms.Outcome]
    read: dict[str, set[str]]
    failed: dict[str, str]
    seconds: float
    impossible: dict[str, list[str]]
    vendors: dict[str, str]
    lost: list[str]


async def _probe_all(ports: Mapping[str, int], config: Path) -> tuple[dict[str, str], float]:
    client = TestClient(TestServer(create_app(load_config(config))))
    await client.start_server()
    gates = {port: asyncio.Semaphore(PROBES_PER_SNMPSIM) for port in set(ports.values())}
    started = time.monotonic()

    async def one(walk: librenms.Walk) -> tuple[str, str]:
        port = ports[walk.community]
        async with gates[port]:
            text = await probe_text(client, port, walk.community, "auto", scrape_timeout=120)
            return walk.community, text

    try:
        texts = dict(await asyncio.gather(*(one(w) for w in WALKS)))
    finally:
        await client.close()
    return texts, time.monotonic() - started


@pytest.fixture(scope="module")
def agreement(tmp_path_factory: pytest.TempPathFactory) -> Agreement:
    # snmpsim answers from one thread and costs far more CPU than the exporter: one process
    # per core, each serving a share of the walks, keeps the run within minutes.
    modules = {
        "auto": {"timeout": 120, "snmp": {"profiles": ["auto"], "timeout": 10, "retries": 1}}
    }
    communities = [w.community for w in WALKS]
    config = write_config(tmp_path_factory.mktemp("librenms"), communities, modules)
    shards = [communities[n::SNMPSIM_PROCESSES] for n in range(SNMPSIM_PROCESSES)]
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(SNMPSIM_PROCESSES) as pool:
        sims = [Snmpsim(corpus=corpus_root(), data_files=shard) for shard in shards]
        for sim in pool.map(Snmpsim.start, sims):
            stack.callback(sim.stop)
        ports = {c: sim.port for sim, shard in zip(sims, shards, strict=True) for c in shard}
        with series_checks.lost_rows() as lost:
            texts, seconds = asyncio.run(_probe_all(ports, config))
    outcomes: list[librenms.Outcome] = []
    read: dict[str, set[str]] = {}
    failed: dict[str, str] = {}
    impossible: dict[str, list[str]] = {}
    vendors: dict[str, str] = {}
    for walk in WALKS:
        # parse_exposition refuses a text with two series of one label set
        samples = parse_exposition(texts[walk.community])
        impossible[walk.community] = series_checks.impossible_values(samples)
        vendors[walk.community] = series_checks.vendor(samples)
        if samples.get(("probe_success", (("prober", "snmp"),))) != 1:
            failed[walk.community] = texts[walk.community][:500]
        outcomes.extend(librenms.compare(walk, samples))
        ours = librenms.observations(samples)
        read[walk.community] = {c for c, series in ours.items() if series}
    if DETAIL:
        Path(DETAIL).write_text(
            "".join(f"{o.walk}\t{o.category}\t{o.item}\t{o.agrees}\t{o.theirs}\n" for o in outcomes)
        )
    return Agreement(outcomes, read, failed, seconds, impossible, vendors, lost)


def _tables(outcomes: list[librenms.Outcome]) -> str:
    family = {w.community: w.family for w in WALKS}
    by_family: dict[str, list[librenms.Outcome]] = defaultdict(list)
    for o in outcomes:
        by_family[family[o.walk]].append(o)
    return librenms.render_table(
        librenms.tally(outcomes), {f: librenms.tally(v) for f, v in by_family.items()}
    )


def test_every_walk_answers(agreement: Agreement) -> None:
    assert WALKS, f"no walk with LibreNMS expectations under {corpus_root()}/{{snmprec,librenms}}"
    assert not agreement.failed, f"probe failed on {sorted(agreement.failed)}"


def test_no_impossible_value(agreement: Agreement) -> None:
    bad = {walk: values for walk, values in agreement.impossible.items() if values}
    assert not bad, f"values outside the catalogue's range: {bad}"


def test_every_walk_names_its_vendor(agreement: Agreement) -> None:
    unnamed = sorted(walk for walk, vendor in agreement.vendors.items() if not vendor)
    assert not unnamed, f"no vendor in chm_device_info: {unnamed}"


def test_no_row_lost_to_another_rows_label_set(agreement: Agreement) -> None:
    assert not agreement.lost, "\n".join(agreement.lost)


def test_exceptions_are_reviewed_cases(agreement: Agreement) -> None:
    _kept, problems = librenms.apply_exceptions(
        agreement.outcomes, librenms.load_exceptions(), agreement.read
    )
    assert not problems, "\n".join(problems)


def test_agreement_table_is_recorded(agreement: Agreement) -> None:
    kept, _ = librenms.apply_exceptions(
        agreement.outcomes, librenms.load_exceptions(), agreement.read
    )
    text = f"Before exceptions:\n\n{_tables(agreement.outcomes)}\n{AFTER}\n\n{_tables(kept)}"
    print(f"\n{text}\nprobed {len(WALKS)} walks in {agreement.seconds:.1f} s")
    if UPDATE:
        GOLDEN.write_text(text)
    assert GOLDEN.read_text() == text, f"{GOLDEN.name} differs: CHM_UPDATE_GOLDEN=1, read the diff"


@pytest.mark.parametrize("category", librenms.CATEGORIES)
def test_agreement_per_category(agreement: Agreement, category: str) -> None:
    kept, _ = librenms.apply_exceptions(
        agreement.outcomes, librenms.load_exceptions(), agreement.read
    )
    agreements, expected = librenms.tally(kept)[category]
    missed = [
        f"{o.walk}: {o.item} ({o.theirs})" for o in kept if o.category == category and not o.agrees
    ]
    # the goal, or while a category is short of it, no less than the committed table says
    required = min(MIN_AGREEMENT_PERCENT, FLOORS.get(category, MIN_AGREEMENT_PERCENT))
    assert librenms.percent(agreements, expected) >= required - 1e-9, (
        f"{category}: {agreements}/{expected} agree, below {required:.1f} %; we miss:\n"
        + "\n".join(missed[:60])
    )
