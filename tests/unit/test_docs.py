"""The docs stay true: every metric a shipped profile emits and every config key is documented."""

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from chm_exporter.catalogue import catalogue
from chm_exporter.config import CommunityAuth, Config, IcmpSettings, Module, SnmpSettings, UsmAuth
from chm_exporter.profiles import load_profiles
from chm_exporter.ssh.config import SshAuth, SshSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _profile_metrics() -> set[str]:
    return {m.name for p in load_profiles().values() for t in p.tables for m in t.metrics}


@pytest.mark.parametrize("metric", sorted(_profile_metrics()))
def test_every_profile_metric_is_in_metrics_md(metric: str) -> None:
    assert f"`{metric}`" in (DOCS / "metrics.md").read_text()


@pytest.mark.parametrize(
    "model",
    [Config, Module, SnmpSettings, IcmpSettings, CommunityAuth, UsmAuth, SshAuth, SshSettings],
)
def test_every_config_key_is_in_configuration_md(model: type[BaseModel]) -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"{model.__name__} keys not documented: {missing}"


@pytest.mark.parametrize(
    ("script", "page"), [("vendors_table.py", "vendors.md"), ("metrics_doc.py", "metrics.md")]
)
def test_generated_pages_are_what_the_catalogue_profiles_and_goldens_say(
    script: str, page: str
) -> None:
    made = subprocess.run(
        [sys.executable, str(DOCS.parent / "scripts" / script)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert made.stdout == (DOCS / page).read_text(encoding="utf-8"), (
        f"docs/{page} is stale: .venv/bin/python scripts/{script} > docs/{page}"
    )


def test_metrics_md_lists_every_catalogue_metric_with_its_help() -> None:
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    for metric in catalogue().metrics():
        assert f"| `{metric.name}` | {metric.type} |" in text
        assert metric.help in text
