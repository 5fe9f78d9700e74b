"""Lay out the shipped configs in a temporary folder, with addresses and secrets swapped.

`prometheus.yml` (top level) names `rules/*.yml` and `deploy/prometheus/targets/*.yml` relative
to itself, `alertmanager.yml` names `deploy/alertmanager/templates/*.tmpl`; docker-compose.yml
mounts that same layout under /etc/prometheus and /etc/alertmanager. The Alertmanager config
reads its secrets from /run/secrets. These helpers copy the files into a temporary folder with
that layout, optionally pointing the jobs at other addresses (the end-to-end test runs
everything on loopback).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.kit.tools import REPO

PROMETHEUS_CONFIG = REPO / "prometheus.yml"
ALERTMANAGER_CONFIG = REPO / "alertmanager.yml"
#: folders the configs name relative to themselves (and to the repository's top level)
TARGETS = Path("deploy/prometheus/targets")
TEMPLATES = Path("deploy/alertmanager/templates")
RULES_DIR = REPO / "rules"
RULE_FILES = [RULES_DIR / "recording.yml", RULES_DIR / "alerts.yml"]
EXPORTER_ADDRESS = "chm-exporter:9840"
ALERTMANAGER_ADDRESS = "alertmanager:9093"
SECRETS_DIR = "/run/secrets"


def load_yaml(path: Path) -> Any:
    """Parse one YAML file."""
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def prometheus_dir(
    dest: Path,
    *,
    exporter: str = EXPORTER_ADDRESS,
    alertmanager: str = ALERTMANAGER_ADDRESS,
    targets: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Copy prometheus.yml, the rules and the targets into `dest`; return the config's path.

    Args:
        dest: an empty or new folder (it plays the repository's top level, or /etc/prometheus).
        exporter: host:port that replaces the exporter's address in every job.
        alertmanager: host:port that replaces Alertmanager's address.
        targets: file_sd content to write as targets/devices.yml instead of the shipped one
            (a list of target groups).
    """
    dest.mkdir(parents=True, exist_ok=True)
    text = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    text = text.replace(EXPORTER_ADDRESS, exporter).replace(ALERTMANAGER_ADDRESS, alertmanager)
    config = dest / "prometheus.yml"
    config.write_text(text, encoding="utf-8")
    (dest / "rules").mkdir()
    for rule_file in sorted(RULES_DIR.glob("*.yml")):
        shutil.copy(rule_file, dest / "rules" / rule_file.name)
    if targets is None:
        shutil.copytree(REPO / TARGETS, dest / TARGETS)
    else:
        (dest / TARGETS).mkdir(parents=True)
        (dest / TARGETS / "devices.yml").write_text(yaml.safe_dump(targets), encoding="utf-8")
    return config


def alertmanager_dir(dest: Path, secrets: Mapping[str, str] | None = None) -> Path:
    """Copy alertmanager.yml and its templates into `dest`, secrets read from `dest/secrets`.

    Args:
        dest: an empty or new folder (it plays the repository's top level, or /etc/alertmanager).
        secrets: content of each secret file by name; every file the config names is
            written, with "unused" where no content is given.
    """
    secrets_dir = dest / "secrets"
    secrets_dir.mkdir(parents=True)
    text = ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
    for name in secret_files(text):
        content = (secrets or {}).get(name, "unused")
        (secrets_dir / name).write_text(content, encoding="utf-8")
    text = text.replace(SECRETS_DIR + "/", f"{secrets_dir}/")
    shutil.copytree(REPO / TEMPLATES, dest / TEMPLATES)
    config = dest / "alertmanager.yml"
    config.write_text(text, encoding="utf-8")
    return config


def secret_files(config_text: str) -> list[str]:
    """Names of the /run/secrets files a config refers to."""
    names = []
    for line in config_text.splitlines():
        if line.lstrip().startswith("#") or SECRETS_DIR + "/" not in line:
            continue
        names.append(line.split(SECRETS_DIR + "/", 1)[1].split()[0].strip("\"'"))
    return sorted(set(names))


def rules(kind: str) -> list[dict[str, Any]]:
    """Every rule of `kind` ("alert" or "record") in the rule files, with its group name."""
    found = []
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            found += [{**rule, "group": group["name"]} for rule in group["rules"] if kind in rule]
    return found
