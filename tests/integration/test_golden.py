"""Golden exposition per corpus device with module=auto: the whole output, reviewed in git.

Regenerate after a deliberate profile change with
``CHM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_golden.py`` and read the diff.
Probe bookkeeping (probe_*: durations, PDU counts) is left out: it is not the device's data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration import corpus, series_checks
from tests.integration.exposition import parse_exposition
from tests.integration.harness import CORPUS_MODULE_TIMEOUT, probe_text, write_config
from tests.servers.snmpsim import Snmpsim
from tests.unit.clients import Client, ClientFactory

pytestmark = pytest.mark.corpus

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("CHM_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    modules = {
        "auto": {"timeout": CORPUS_MODULE_TIMEOUT, "snmp": {"profiles": ["auto"], "timeout": 3}}
    }
    return write_config(tmp_path_factory.mktemp("golden"), corpus.communities(), modules)


@pytest.fixture
async def client(config_path: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(load_config(config_path)))


def device_lines(text: str) -> str:
    """The exposition without probe bookkeeping (families whose name starts with probe_)."""
    keep: list[str] = []
    for line in text.splitlines():
        name = (
            line.split(" ", 3)[2] if line.startswith("#") else line.split("{", 1)[0].split(" ")[0]
        )
        if not name.startswith("probe_"):
            keep.append(line)
    return "\n".join(keep) + "\n"


@pytest.mark.parametrize("community", corpus.communities())
async def test_golden_exposition(client: Client, snmpsim_server: Snmpsim, community: str) -> None:
    with series_checks.lost_rows() as lost:
        text = await probe_text(client, snmpsim_server.port, community, "auto")
    assert 'probe_success{prober="snmp"} 1' in text
    # every walk: no duplicate series (parse_exposition refuses one), no row lost to another
    # row's label set, no impossible value, a named vendor
    samples = parse_exposition(text)
    assert not lost, lost
    assert not series_checks.impossible_values(samples)
    assert series_checks.vendor(samples)
    got = device_lines(text)
    path = GOLDEN / f"{community.replace('/', '__')}.prom"
    if UPDATE:
        path.write_text(got)
    assert path.exists(), f"no golden file {path.name}: run with CHM_UPDATE_GOLDEN=1"
    assert got == path.read_text(), f"{path.name} differs: CHM_UPDATE_GOLDEN=1 and review the diff"
