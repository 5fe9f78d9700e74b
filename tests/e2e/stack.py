"""The end-to-end stack's parts: processes, waiting, the derived configs, the HTTP APIs.

Every config here is *derived* from the shipped one (prometheus.yml, alertmanager.yml, deploy/, rules/), changing only what a
test on loopback must change (addresses, secrets, intervals), so the test runs the kit as
shipped: same jobs, relabelling, routes, inhibition, receivers and templates.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.kit import layout
from tests.kit.tools import REPO
from tests.servers.netns import NetnsHost
from tests.servers.process import stop_process

T = TypeVar("T")

#: Scrape and evaluation interval of the test's Prometheus.
INTERVAL = "1s"
#: The SNMP job's interval and timeout: snmpsim (Python) needs about 1 s to serve one full
#: walk of the 2960X here, and the probe's deadline is the scrape timeout minus the
#: exporter's 0.5 s offset, so 1 s would fail every SNMP probe. With 3 s, two CPU-bound
#: processes competing on the 2 cores kept it failing for a minute; 5 s passes then too.
SNMP_INTERVAL = "5s"
#: Alertmanager timings of the test copy (shipped: group_wait 30s, group_interval 5m,
#: repeat_interval 1m to 4h). The repeat is short so that a notification suppressed by
#: inhibition is one that would otherwise have been sent again during the outage.
GROUP_WAIT = "1s"
GROUP_INTERVAL = "1s"
REPEAT_INTERVAL = "3s"

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


# -- processes ---------------------------------------------------------------------------------
class Service:
    """A subprocess with its output in a log file; :meth:`check` fails with the log if it died."""

    def __init__(self, name: str, argv: Sequence[str], log_dir: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log_tail(self, size: int = 4000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-size:]

    def check(self) -> None:
        """Raise if the process has exited."""
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}"
            )

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process, timeout=15)


def wait_until(
    check: Callable[[], T | None],
    what: str,
    timeout: float,
    *,
    alive: Sequence[Service] = (),
    interval: float = 0.2,
) -> T:
    """Poll ``check`` until it returns something truthy; return it.

    Connection errors count as "not yet". Fails with ``what`` (and the last error) when
    ``timeout`` seconds pass, or at once when one of ``alive`` has exited.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        for service in alive:
            service.check()
        try:
            result = check()
        except OSError as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # a 503 while the server starts holds its connection open
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout} s waiting until {what}{detail}")
        time.sleep(interval)


# -- the simulated device's outage -------------------------------------------------------------
def silence(host: NetnsHost) -> None:
    """Make an answering namespace host silent, as tests.servers.netns builds a silent one:
    no echo replies, and a black hole towards the root side (no SNMP reply, no ICMP error)."""
    host.run(["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=1"])
    host.run(["ip", "route", "add", "blackhole", f"{host.root_address}/32"])


def unsilence(host: NetnsHost) -> None:
    """Undo :func:`silence`."""
    host.run(["ip", "route", "del", "blackhole", f"{host.root_address}/32"])
    host.run(["sysctl", "-q", "-w", "net.ipv4.icmp_echo_ignore_all=0"])


# -- HTTP --------------------------------------------------------------------------------------
def http_get(url: str, params: Mapping[str, str] | None = None, timeout: float = 10) -> Any:
    """GET and decode JSON (or return text)."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read().decode()
    return json.loads(body) if body[:1] in "[{" else body


def http_ok(url: str) -> bool:
    """True when GET answers 2xx."""
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
    return 200 <= status < 300


def prom_query(base: str, expr: str) -> list[dict[str, Any]]:
    """An instant query (``/api/v1/query``); the result vector (a scalar as one sample)."""
    reply = http_get(f"{base}/api/v1/query", {"query": expr})
    assert reply["status"] == "success", f"{expr}: {reply}"
    data = reply["data"]
    if data["resultType"] in ("scalar", "string"):
        return [{"metric": {}, "value": data["result"]}]
    result: list[dict[str, Any]] = data["result"]
    return result


def prom_label_values(base: str, label: str, selector: str) -> list[str]:
    """``label_values(selector, label)`` as Grafana asks it."""
    reply = http_get(f"{base}/api/v1/label/{label}/values", {"match[]": selector})
    assert reply["status"] == "success", f"{label} of {selector}: {reply}"
    values: list[str] = reply["data"]
    return values


def am_alerts(base: str) -> list[dict[str, Any]]:
    """Every alert Alertmanager holds, suppressed ones included (``/api/v2/alerts``)."""
    alerts: list[dict[str, Any]] = http_get(
        f"{base}/api/v2/alerts",
        {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"},
    )
    return alerts


# -- derived configs ---------------------------------------------------------------------------
def seconds(duration: str) -> float:
    """A Prometheus duration (``1h30m``) in seconds."""
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(duration))


def shortened(duration: str) -> str:
    """A rule's ``for:`` with minutes read as seconds (2m -> 2s, 1h -> 60s), at least 1 s."""
    return f"{max(1, round(seconds(duration) / 60))}s"


def dump_yaml(path: Path, data: Any) -> None:
    """Write ``data`` as YAML (keys in their order)."""
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def prometheus_config(
    dest: Path, *, exporter: str, alertmanager: str, targets: list[dict[str, Any]]
) -> Path:
    """prometheus.yml for the test: same jobs and relabelling, the test's
    addresses and targets, 1 s intervals, and the repository's rules with shortened ``for:``.

    Every alert's ``for:`` is divided by 60 (2m -> 2s, 5m -> 5s, 1h -> 60s): the alerts keep
    their order (ChmDeviceUnreachable before ChmSnmpDown) and the test takes seconds. The
    real durations are covered by the promtool tests (rules/tests, tests/kit/test_rules.py).
    ``keep_firing_for`` stays as shipped (10m), so ChmInterfaceDown outlives the outage.
    """
    path = layout.prometheus_dir(
        dest, exporter=exporter, alertmanager=alertmanager, targets=targets
    )
    config = layout.load_yaml(path)
    assert layout.EXPORTER_ADDRESS not in path.read_text(), "an exporter address was not replaced"
    config["global"].update(
        scrape_interval=INTERVAL, scrape_timeout=INTERVAL, evaluation_interval=INTERVAL
    )
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {
        "chm_exporter", "chm_snmp", "chm_ssh", "chm_icmp", "chm_discovered", "chm_discovered_icmp"
    }, "the shipped jobs changed"  # fmt: skip
    for name, job in jobs.items():
        interval = SNMP_INTERVAL if name == "chm_snmp" else INTERVAL
        job["scrape_interval"] = job["scrape_timeout"] = interval
    dump_yaml(path, config)
    shorten_alert_durations(dest / "rules")
    return path


def shorten_alert_durations(rules_dir: Path) -> None:
    """Rewrite every alert's ``for:`` in the rule files of ``rules_dir`` with :func:`shortened`."""
    for rule_file in sorted(rules_dir.glob("*.yml")):
        rules = layout.load_yaml(rule_file)
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and "for" in rule:
                    rule["for"] = shortened(rule["for"])
        dump_yaml(rule_file, rules)


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def alertmanager_config(
    dest: Path, *, smarthost: str, http_url: Callable[[str], str], secrets: Mapping[str, str]
) -> Path:
    """alertmanager.yml for the test: same routes, inhibition, receivers
    and templates, with every destination on loopback and shorter timings.

    - ``smtp_smarthost`` -> the SMTP sink, without STARTTLS (the sink has no certificate);
      the login and the password file stay, and the sink records what was sent.
    - Slack's ``api_url`` comes from the secret file (given in ``secrets``), pointing at the
      HTTP sink, as Discord's does; every webhook ``url`` -> the HTTP sink at
      ``/webhook/<receiver>``.
    - group_wait / group_interval / repeat_interval shortened (0s stays 0s).
    - The business-hours mute made deterministic: every time interval a route is *active*
      in becomes "every day, all day", so warnings are always sent here. The test needs them
      sent: that a warning stops arriving during the outage is then inhibition's doing.
    """
    path = layout.alertmanager_dir(dest, secrets=secrets)
    config = layout.load_yaml(path)
    config["global"].update(smtp_smarthost=smarthost, smtp_require_tls=False)
    active: set[str] = set()
    for route in _routes(config["route"]):
        active.update(route.get("active_time_intervals", []))
        if "group_wait" in route:
            route["group_wait"] = "0s" if seconds(route["group_wait"]) == 0 else GROUP_WAIT
        if "group_interval" in route:
            route["group_interval"] = GROUP_INTERVAL
        if "repeat_interval" in route:
            route["repeat_interval"] = REPEAT_INTERVAL
    for interval in config.get("time_intervals", []):
        if interval["name"] in active:
            interval["time_intervals"] = [{"weekdays": ["sunday:saturday"]}]
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = http_url(f"/webhook/{receiver['name']}")
    dump_yaml(path, config)
    leftover = re.findall(r"https?://(?!127\.0\.0\.1)[^\s'\"]+", path.read_text())
    assert not leftover, f"the test's Alertmanager would reach out to {leftover}"
    return path


def exporter_config(
    dest: Path, *, secrets: Mapping[str, str], extra_auths: Mapping[str, Any]
) -> Path:
    """deploy/chm/chm.yml for the test: same auths and modules, secrets from files in ``dest``,
    plus ``extra_auths`` appended (the first auth, the default, stays the shipped one)."""
    secrets_dir = dest / "secrets"
    secrets_dir.mkdir(parents=True)
    text = (REPO / "deploy" / "chm" / "chm.yml").read_text(encoding="utf-8")
    for name in layout.secret_files(text):
        (secrets_dir / name).write_text(secrets[name], encoding="utf-8")
    config = yaml.safe_load(text.replace(layout.SECRETS_DIR + "/", f"{secrets_dir}/"))
    config["auths"].update(extra_auths)
    path = dest / "chm.yml"
    dump_yaml(path, config)
    return path
