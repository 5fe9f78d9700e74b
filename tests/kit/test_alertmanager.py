"""alertmanager.yml (top level): amtool check-config, routing table, inhibition, secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.kit.layout import ALERTMANAGER_CONFIG, alertmanager_dir, load_yaml, rules
from tests.kit.tools import output, run

CONFIG = ALERTMANAGER_CONFIG

#: alert labels -> the receivers Alertmanager must pick
ROUTES = [
    ("severity=critical alertname=ChmPsuFailed instance=sw1", "critical"),
    ("severity=critical alertname=ChmDeviceUnreachable instance=sw1", "critical"),
    ("severity=warning alertname=ChmCpuHigh instance=sw1", "email"),
    ("severity=warning alertname=ChmInterfaceDown instance=sw1 ifname=Gi1/0/1", "email"),
    ("severity=info alertname=SomethingToKnow instance=sw1", "null"),
    ("severity=none alertname=Watchdog", "deadmansswitch"),
    ("alertname=Watchdog", "deadmansswitch"),
    ("alertname=NoSeverity instance=sw1", "email"),
]

#: what ChmDeviceUnreachable must inhibit on the same device (SNMP, SSH, interface, sensor ...)
INHIBITED_BY_UNREACHABLE = {
    "ChmAvailabilityBudgetBurn",
    "ChmSnmpDown",
    "ChmSshDown",
    "ChmPacketLoss",
    "ChmDeviceRebooted",
    "ChmCpuHigh",
    "ChmMemoryHigh",
    "ChmTemperatureHigh",
    "ChmFanFailed",
    "ChmPsuFailed",
    "ChmInterfaceDown",
    "ChmInterfaceFlapping",
    "ChmInterfaceErrors",
    "ChmInterfaceSaturated",
    "ChmOpticPowerLow",
    "ChmNeighborLost",
}


def config() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(CONFIG)
    return data


def matcher_regex(matchers: list[str], label: str) -> re.Pattern[str]:
    """The anchored regex of a `label=~"..."` matcher."""
    for m in matchers:
        name, _, value = m.partition("=~")
        if name == label:
            return re.compile(value.strip('"'))
    raise AssertionError(f"no {label}=~ matcher in {matchers}")


def test_amtool_check_config_accepts_it(tmp_path: Path) -> None:
    # As shipped (amtool does not open the secret files) and with the secrets in place.
    for path in (CONFIG, alertmanager_dir(tmp_path)):
        result = run("amtool", "check-config", path, cwd=path.parent)
        assert result.returncode == 0, output(result)
        assert "SUCCESS" in result.stdout
        assert " - 3 inhibit rules" in result.stdout
        assert " - 6 receivers" in result.stdout
        assert " - 1 templates" in result.stdout, "templates/*.tmpl not found"


def test_amtool_check_config_refuses_an_unknown_receiver(tmp_path: Path) -> None:
    path = alertmanager_dir(tmp_path)
    path.write_text(path.read_text().replace("receiver: critical", "receiver: nobody"))
    result = run("amtool", "check-config", path, cwd=path.parent)
    assert result.returncode != 0, output(result)
    assert 'undefined receiver "nobody"' in result.stdout + result.stderr


@pytest.mark.parametrize(("labels", "receiver"), ROUTES)
def test_route(labels: str, receiver: str) -> None:
    result = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *labels.split(),
    )
    assert result.returncode == 0, output(result)
    assert result.stdout.split() == [receiver]


def test_route_test_fails_on_the_wrong_receiver() -> None:
    result = run(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        "--verify.receivers=critical",
        "severity=warning",
        "alertname=ChmCpuHigh",
    )
    assert result.returncode != 0, output(result)


def test_grouping_and_routes_by_severity() -> None:
    route = config()["route"]
    assert route["group_by"] == ["alertname", "instance"]
    by_severity = {r["matchers"][0]: r for r in route["routes"]}
    critical = next(r for r in config()["receivers"] if r["name"] == "critical")
    assert critical["slack_configs"], "critical goes to Slack"
    assert critical["email_configs"], "critical goes to email"
    assert "active_time_intervals" not in by_severity['severity="critical"']
    # Warnings by email in working hours only.
    warning = by_severity['severity="warning"']
    assert warning["receiver"] == "email"
    assert warning["active_time_intervals"] == ["business-hours"]
    intervals = {i["name"]: i for i in config()["time_intervals"]}
    business = intervals["business-hours"]["time_intervals"][0]
    assert business["weekdays"] == ["monday:friday"]
    assert business["times"] == [{"start_time": "08:00", "end_time": "18:00"}]
    # Receivers every severity of the rules can reach exist, and "null" sends nothing.
    null = next(r for r in config()["receivers"] if r["name"] == "null")
    assert set(null) == {"name"}
    severities = {rule["labels"]["severity"] for rule in rules("alert")}
    assert severities <= {"critical", "warning", "info", "none"}


def test_unreachable_inhibits_the_device_alerts_that_depend_on_reaching_it() -> None:
    rule = next(
        r
        for r in config()["inhibit_rules"]
        if r["source_matchers"] == ['alertname="ChmDeviceUnreachable"']
    )
    assert rule["equal"] == ["instance"]
    regex = matcher_regex(rule["target_matchers"], "alertname")
    alerts = {r["alert"] for r in rules("alert")}
    inhibited = {a for a in alerts if regex.fullmatch(a)}
    assert inhibited == INHIBITED_BY_UNREACHABLE
    assert alerts >= INHIBITED_BY_UNREACHABLE, "the inhibit rule names alerts that do not exist"


def test_every_inhibit_rule_names_existing_alerts() -> None:
    alerts = {r["alert"] for r in rules("alert")}
    for rule in config()["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            if matcher.startswith("alertname=~"):
                names = matcher_regex([matcher], "alertname").pattern.split("|")
            elif matcher.startswith("alertname="):
                names = [matcher.split("=", 1)[1].strip('"')]
            else:
                continue
            assert set(names) <= alerts, f"{matcher}: unknown alerts {set(names) - alerts}"


def test_secrets_are_read_from_files() -> None:
    lines = CONFIG.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    data = config()
    assert "smtp_auth_password" not in data["global"]
    assert data["global"]["smtp_auth_password_file"].startswith("/run/secrets/")
    assert "slack_api_url" not in data["global"]
    for receiver in data["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack
        for email in receiver.get("email_configs", []):
            assert "auth_password" not in email
        for hook in receiver.get("webhook_configs", []):
            assert hook["http_config"]["authorization"]["credentials_file"].startswith(
                "/run/secrets/"
            )
    # Nothing that looks like a credential is written inline (comments may show the form).
    assert not re.search(r"hooks\.slack\.com|discord\.com/api/webhooks|password:\s*\S", text)


def test_example_receivers_for_webhook_and_discord() -> None:
    receivers = {r["name"]: r for r in config()["receivers"]}
    assert receivers["webhook-example"]["webhook_configs"][0]["url"].startswith("https://")
    assert receivers["discord-example"]["slack_configs"][0]["api_url_file"].endswith(
        "discord_webhook_url"
    )


@pytest.mark.parametrize(
    "receiver",
    [
        "{name: a, webhook_configs: [{url_file: /run/secrets/x}]}",
        "{name: a, discord_configs: [{webhook_url_file: /run/secrets/x}]}",
    ],
    ids=["webhook-url_file", "discord-webhook_url_file"],
)
def test_alertmanager_0_25_cannot_read_these_urls_from_files(tmp_path: Path, receiver: str) -> None:
    """Why the webhook URL is inline and Discord goes through its Slack endpoint.

    When this fails, the installed Alertmanager has learnt these fields (0.26 did): switch the
    example receivers to `url_file` / `discord_configs.webhook_url_file`.
    """
    path = tmp_path / "am.yml"
    path.write_text(f"route: {{receiver: a}}\nreceivers: [{receiver}]\n")
    result = run("amtool", "check-config", path)
    assert result.returncode != 0, output(result)
    assert re.search(r"field \w+ not found", result.stdout + result.stderr), output(result)
