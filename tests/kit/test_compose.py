"""docker-compose.yml and Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON schema, as shipped in
the check-jsonschema package (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`,
vendored there from the compose-spec project, Apache-2.0); the mounts, secrets and the
provisioning are checked against the repository; the exporter's config is checked by the
exporter itself.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kit.layout import load_yaml
from tests.kit.tools import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def compose_schema() -> dict[str, Any]:
    try:
        vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail("check-jsonschema is not installed: pip install check-jsonschema==0.39.0")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    import jsonschema

    validator_class = jsonschema.validators.validator_for(compose_schema())
    validator = validator_class(compose_schema(), format_checker=validator_class.FORMAT_CHECKER)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "prometheus", "restart"), {"always": True}),
        (("services", "grafana", "volumes"), "not-a-list"),
        (("services", "chm-exporter", "port"), ["9840:9840"]),
    ],
    ids=["restart-object", "volumes-string", "unknown-key"],
)
def test_schema_refuses_broken_compose_files(path: tuple[str, ...], value: Any) -> None:
    broken = copy.deepcopy(compose())
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(broken), f"schema accepted {path} = {value!r}"


def test_check_jsonschema_cli_agrees() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            COMPOSE,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_and_pinned_images() -> None:
    services = compose()["services"]
    assert set(services) == {"chm-exporter", "prometheus", "alertmanager", "grafana"}
    assert services["chm-exporter"]["build"]["dockerfile"] == "Dockerfile"
    assert services["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert services["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    assert re.fullmatch(r"grafana/grafana-oss:1\d\.\d+\.\d+", services["grafana"]["image"])
    assert "--storage.tsdb.retention.time=31d" in services["prometheus"]["command"]


def test_bind_mounts_exist_and_land_where_the_configs_expect() -> None:
    mounts: dict[str, dict[str, str]] = {}
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
            mounts.setdefault(name, {})[target] = source
    prom = mounts["prometheus"]
    # The containers see the repository's layout, so each config's relative paths resolve
    # alike in both: /etc/prometheus/<path> is ./<path>, as is /etc/alertmanager/<path>.
    for service in ("prometheus", "alertmanager"):
        etc = f"/etc/{service}/"
        assert mounts[service][f"{etc}{service}.yml"] == f"./{service}.yml"
        for target, source in mounts[service].items():
            if target.startswith(etc):
                assert target.removeprefix(etc) == source.removeprefix("./"), target
    assert prom["/etc/prometheus/rules"] == "./rules"
    assert prom["/etc/prometheus/deploy/prometheus/targets"] == "./deploy/prometheus/targets"
    assert mounts["chm-exporter"]["/etc/chm/chm.yml"] == "./deploy/chm/chm.yml"
    # Grafana's dashboard provider reads the folder the dashboards are mounted at.
    provider = load_yaml(REPO / "deploy/grafana/provisioning/dashboards/chm.yml")["providers"][0]
    assert mounts["grafana"][provider["options"]["path"]] == "./dashboards"
    assert mounts["grafana"]["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    home = compose()["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    assert (REPO / "dashboards" / Path(home).name).exists()


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    datasource = load_yaml(REPO / "deploy/grafana/provisioning/datasources/prometheus.yml")
    (ds,) = datasource["datasources"]
    assert ds["type"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090"


def test_every_secret_a_config_reads_is_mounted_with_an_example() -> None:
    spec = compose()
    declared = spec["secrets"]
    for secret in declared.values():
        example = REPO / (secret["file"] + ".example")
        assert example.exists(), f"{example} missing"
    users = {
        "chm-exporter": REPO / "deploy/chm/chm.yml",
        "alertmanager": REPO / "alertmanager.yml",
    }
    for service, config in users.items():
        read = set(re.findall(r"/run/secrets/(\w+)", config.read_text(encoding="utf-8")))
        assert read, config
        assert read <= set(spec["services"][service]["secrets"]), (service, read)
        assert read <= set(declared)
    grafana_env = spec["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert Path(grafana_env).name in spec["services"]["grafana"]["secrets"]


def test_exporter_config_is_valid_for_the_exporter(tmp_path: Path) -> None:
    """deploy/chm/chm.yml passes `chm-exporter --config.check` (secrets swapped for temp files)."""
    text = (REPO / "deploy/chm/chm.yml").read_text(encoding="utf-8")
    for name in set(re.findall(r"/run/secrets/(\w+)", text)):
        (tmp_path / name).write_text("example-secret-1", encoding="utf-8")
    config = tmp_path / "chm.yml"
    config.write_text(text.replace("/run/secrets/", f"{tmp_path}/"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "chm_exporter", "--config.file", str(config), "--config.check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "config valid" in result.stdout + result.stderr
    # The modules the Prometheus jobs and the file_sd example ask for exist.
    for module in ("auto", "icmp", "linux"):
        assert module in result.stdout + result.stderr


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into stages."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_and_runs_unprivileged() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage"
    final = stages[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.startswith("COPY --from=") for line in final)
    assert not any("pip install" in line for line in final), "install in the build stage"
    assert "EXPOSE 9840" in final
    assert 'ENTRYPOINT ["chm-exporter"]' in final
    assert any("/etc/chm/chm.yml" in line for line in final if line.startswith("CMD"))
    assert any("pip install ." in line for line in stages[0])


def test_dockerfile_copies_what_exists_and_the_console_script_is_declared() -> None:
    for stage in dockerfile_stages():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^chm-exporter = "chm_exporter\.cli:main"$', pyproject, re.M)
