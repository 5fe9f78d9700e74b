"""The layout the design names: prometheus.yml and alertmanager.yml at the top level, beside
docker-compose.yml, checked there with the commands their headers give (run in the checkout
itself, not in a copy), so every path they name relative to themselves resolves."""

from __future__ import annotations

import re

from tests.kit.layout import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, TARGETS, TEMPLATES
from tests.kit.tools import REPO, output, run


def test_the_configs_sit_beside_docker_compose_and_not_in_deploy() -> None:
    for config in (PROMETHEUS_CONFIG, ALERTMANAGER_CONFIG):
        assert config.parent == REPO
        assert config.is_file(), config
    assert (REPO / "docker-compose.yml").is_file()
    # deploy/ keeps deployment detail only: no Prometheus or Alertmanager config in it.
    for path in (REPO / "deploy").rglob("*.yml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^(scrape_configs|route|receivers):", text, re.M), path


def test_promtool_check_config_passes_at_the_top_level() -> None:
    result = run("promtool", "check", "config", "prometheus.yml", cwd=REPO)
    assert result.returncode == 0, output(result)
    assert "SUCCESS: prometheus.yml is valid prometheus config file syntax" in result.stdout
    # The rules and the file_sd targets it names relative to itself are found from here.
    assert "SUCCESS: 2 rule files found" in result.stdout, output(result)
    for name in ("alerts.yml", "recording.yml"):
        assert re.search(rf"Checking rules/{name}\n\s+SUCCESS: \d+ rules found", result.stdout)
    assert "WARNING" not in result.stdout + result.stderr, output(result)
    assert list((REPO / TARGETS).glob("*.yml")), "no file_sd target list"


def test_amtool_check_config_passes_at_the_top_level() -> None:
    result = run("amtool", "check-config", "alertmanager.yml", cwd=REPO)
    assert result.returncode == 0, output(result)
    assert "SUCCESS" in result.stdout
    # The templates it names relative to itself are found from here.
    assert " - 1 templates" in result.stdout, output(result)
    assert list((REPO / TEMPLATES).glob("*.tmpl"))
