"""The kit end to end, with the real binaries: a device goes dark, the page arrives.

Everything runs on this machine and is started here, stopped after:

- three simulated devices, each in a private network namespace (tests/servers/netns.py):
  ``sw1`` (snmpsim serving the Cisco 2960X recording on <address>:161, so SNMP and ICMP
  targets are the same bare address and share one ``instance``), ``sw2`` (the Cisco IE3200
  recording: temperature sensors with a warning threshold, which the 2960X lacks) and
  ``dead`` (a host that answers nothing: the fleet's "down" device);
- the exporter (``python -m chm_exporter``) with deploy/chm/chm.yml's auths and modules;
- Debian's Prometheus 2.42 and Alertmanager 0.25, with configs derived from the top-level
  prometheus.yml and alertmanager.yml and the repository's rules
  (see tests/e2e/stack.py for exactly what the test copy changes);
- an SMTP sink (aiosmtpd) and an HTTP sink (Slack, Discord, webhooks).

The scenario (one test, in order): the pipeline is up (both probers succeed, the Watchdog
reaches the dead man's switch, sw1's interface-down warning is mailed); sw1 goes silent
(ICMP and SNMP) -> ChmDeviceUnreachable arrives by email and by Slack with its labels and
annotations; sw1's other alerts are inhibited by it in Alertmanager and no notification of
theirs arrives while it fires, although Alertmanager keeps repeating notifications; sw1
comes back -> the resolved notification arrives by email and Slack and the inhibition lifts.
Then every Grafana panel query, its variables filled in from the live Prometheus, returns data.

Waits poll a condition against a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import functools
import html
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e import stack as e2e
from tests.e2e.sinks import HttpSink, SmtpSink
from tests.kit import dashboards, layout
from tests.kit.tools import binary
from tests.servers.netns import NetnsHost, answering_netns, blackhole_netns
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command
from tests.servers.snmpsim import Snmpsim

pytestmark = [pytest.mark.slow, pytest.mark.corpus]

T = TypeVar("T")

SW1 = "cisco_ios/ios_2960x"  # snmpsim community = recording; the exporter's first auth
SW2 = "cisco_ios/iosxe_ie32008t2s-ios17-12"  # read with an extra auth, via __snmp_auth
SECRETS = {
    # deploy/chm/chm.yml
    "snmp_community": SW1,
    "snmp_v3_auth_password": "e2e-auth-password",
    "snmp_v3_priv_password": "e2e-priv-password",
    "ssh_password": "e2e-ssh-password",
    # alertmanager.yml (URLs filled in by the fixture)
    "smtp_password": "e2e-smtp-password",
    "heartbeat_token": "e2e-heartbeat-token",
    "webhook_token": "e2e-webhook-token",
}
SMTP_LOGIN = "chm-alerts@example.net"  # smtp_auth_username of alertmanager.yml
START_TIMEOUT = 60  # first scrapes and Alertmanager discovery take ~6 s; snmpsim indexes first
ALERT_TIMEOUT = 45  # ~4 s here: scrape (1 s) + for (2 s) + evaluation + group_wait (1 s); margin


@dataclass
class Stack:
    sw1: NetnsHost
    sw2: NetnsHost
    dead: NetnsHost
    exporter: str
    prometheus: str
    alertmanager: str
    smtp: SmtpSink
    http: HttpSink
    services: list[e2e.Service]
    started: float
    timings: dict[str, float] = field(default_factory=dict)

    def wait(self, check: Callable[[], T | None], what: str, timeout: float = ALERT_TIMEOUT) -> T:
        """Poll ``check``; fail early if a process died; fail with the processes' logs."""
        try:
            return e2e.wait_until(check, what, timeout, alive=self.services)
        except AssertionError as exc:
            logs = "".join(f"\n--- {s.name} log\n{s.log_tail(2500)}" for s in self.services)
            raise AssertionError(f"{exc}{logs}") from None

    def query(self, expr: str) -> list[dict[str, Any]]:
        return e2e.prom_query(self.prometheus, expr)

    def mark(self, phase: str) -> None:
        self.timings[phase] = round(time.monotonic() - self.started, 1)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the end-to-end test needs root (network namespaces); the suite runs as root")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Devices, sinks, exporter, Alertmanager and Prometheus, up and scraping; all stopped
    and removed after the module."""
    _require_root()
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("e2e")
    with contextlib.ExitStack() as cleanup:
        sw1 = cleanup.enter_context(answering_netns())
        sw2 = cleanup.enter_context(answering_netns())
        dead = cleanup.enter_context(blackhole_netns())
        for host, community in ((sw1, SW1), (sw2, SW2)):
            # snmpsim binds its port after dropping root for `nobody`: let unprivileged
            # processes bind 161 in this (private) namespace.
            host.run(["sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0"])
            sim = Snmpsim(data_files=[community], host=host.address, port=161, wrap=host.exec_argv)
            cleanup.enter_context(sim)

        smtp = SmtpSink().start()
        cleanup.callback(smtp.stop)
        http = HttpSink().start()
        cleanup.callback(http.stop)

        services: list[e2e.Service] = []

        def start(name: str, argv: list[str]) -> None:
            services.append(e2e.Service(name, argv, tmp).start())
            cleanup.callback(services[-1].stop)

        exporter_port, am_port, prom_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
        exporter_config = e2e.exporter_config(
            tmp / "chm",
            secrets=SECRETS,
            extra_auths={"e2e_sw2": {"version": "2c", "community": SW2}},
        )
        start(
            "exporter",
            exporter_command(exporter_config, f"127.0.0.1:{exporter_port}"),
        )

        am_config = e2e.alertmanager_config(
            tmp / "alertmanager",
            smarthost=smtp.address,
            http_url=http.url,
            secrets={
                **SECRETS,
                "slack_webhook_url": http.url("/slack"),
                "discord_webhook_url": http.url("/discord/slack"),
            },
        )
        start(
            "alertmanager",
            [binary("prometheus-alertmanager"), f"--config.file={am_config}",
             f"--storage.path={tmp / 'alertmanager-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        )  # fmt: skip

        targets = [
            {"targets": [sw1.address], "labels": {"site": "e2e", "role": "access"}},
            {"targets": [sw2.address], "labels": {"site": "e2e", "__snmp_auth": "e2e_sw2"}},
            {"targets": [dead.address], "labels": {"site": "e2e"}},
        ]
        prom_config = e2e.prometheus_config(
            tmp / "prometheus",
            exporter=f"127.0.0.1:{exporter_port}",
            alertmanager=f"127.0.0.1:{am_port}",
            targets=targets,
        )
        start(
            "prometheus",
            [binary("prometheus"), f"--config.file={prom_config}",
             f"--storage.tsdb.path={tmp / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}",
             # alerts firing before Alertmanager is discovered (~6 s) are re-sent after this
             "--rules.alert.resend-delay=1s"],
        )  # fmt: skip

        state = Stack(
            sw1=sw1,
            sw2=sw2,
            dead=dead,
            exporter=f"http://127.0.0.1:{exporter_port}",
            prometheus=f"http://127.0.0.1:{prom_port}",
            alertmanager=f"http://127.0.0.1:{am_port}",
            smtp=smtp,
            http=http,
            services=services,
            started=started,
        )
        for url in (state.exporter + "/-/healthy", state.alertmanager + "/-/ready",
                    state.prometheus + "/-/ready"):  # fmt: skip
            state.wait(functools.partial(e2e.http_ok, url), f"{url} answers", START_TIMEOUT)
        state.mark("processes ready")

        expected = [(sw1, "snmp", 1), (sw1, "icmp", 1), (sw2, "snmp", 1), (sw2, "icmp", 1),
                    (dead, "icmp", 0)]  # fmt: skip
        for host, prober, value in expected:
            expr = f'probe_success{{instance="{host.address}", prober="{prober}"}} == {value}'
            state.wait(functools.partial(state.query, expr), expr, START_TIMEOUT)
        state.mark("first successful scrapes")
        try:
            yield state
        finally:
            print(f"e2e timings (s since start): {state.timings}", file=sys.stderr)


# -- notifications as they arrived -------------------------------------------------------------
_TITLE = re.compile(
    r"\[(?P<status>FIRING|RESOLVED)(?::\d+)?\] (?P<alertname>\S+)(?: on (?P<instance>\S+))?"
)


@dataclass(frozen=True)
class Notification:
    at: float
    channel: str  # "email" or "slack"
    status: str  # "firing" or "resolved"
    alertname: str
    instance: str | None
    text: str
    raw: Any


def notifications(state: Stack) -> list[Notification]:
    """Every email and Slack message so far, read by its title (templates/chm.tmpl)."""
    found = []
    for mail in state.smtp.mails():
        m = _TITLE.fullmatch(mail.subject)
        assert m, f"unexpected subject {mail.subject!r}"
        found.append(
            Notification(
                mail.at,
                "email",
                m["status"].lower(),
                m["alertname"],
                m["instance"],
                mail.body,
                mail,
            )
        )
    for request in state.http.requests("/slack"):
        for attachment in request.body["attachments"]:
            m = _TITLE.fullmatch(attachment["title"])
            assert m, f"unexpected Slack title {attachment['title']!r}"
            found.append(
                Notification(
                    request.at,
                    "slack",
                    m["status"].lower(),
                    m["alertname"],
                    m["instance"],
                    attachment["text"],
                    request.body,
                )
            )
    return sorted(found, key=lambda n: n.at)


def arrived(
    state: Stack, channel: str, status: str, alertname: str, instance: str, after: float = 0
) -> list[Notification]:
    return [
        n
        for n in notifications(state)
        if (n.channel, n.status, n.alertname, n.instance) == (channel, status, alertname, instance)
        and n.at > after
    ]


def email_fields(body: str) -> dict[str, str]:
    """``name = value`` lines of Alertmanager's default HTML email: labels and annotations."""
    return {k: html.unescape(v).strip() for k, v in re.findall(r"(\w+) = (.*?)<br\b", body)}


def alert_rule(name: str) -> dict[str, Any]:
    (rule,) = [r for r in layout.rules("alert") if r["alert"] == name]
    return rule


def inhibited_by_unreachable() -> re.Pattern[str]:
    """The alertnames alertmanager.yml inhibits while ChmDeviceUnreachable fires."""
    config = layout.load_yaml(layout.ALERTMANAGER_CONFIG)
    for rule in config["inhibit_rules"]:
        if rule["source_matchers"] == ['alertname="ChmDeviceUnreachable"']:
            for matcher in rule["target_matchers"]:
                if matcher.startswith("alertname=~"):
                    return re.compile(matcher.removeprefix("alertname=~").strip('"'))
    raise AssertionError("alertmanager.yml has no inhibit rule with ChmDeviceUnreachable")


# -- the scenario ------------------------------------------------------------------------------
def test_unreachable_device_pages_inhibits_its_other_alerts_and_resolves(stack: Stack) -> None:
    sw1 = stack.sw1.address
    unreachable = alert_rule("ChmDeviceUnreachable")
    inhibited = inhibited_by_unreachable()

    # The pipeline works end to end: the Watchdog reaches the dead man's switch (its token
    # read from the secret file) ...
    def watchdog() -> list[Any]:
        return [
            r
            for r in stack.http.requests("/webhook/deadmansswitch")
            if any(a["labels"]["alertname"] == "Watchdog" for a in r.body["alerts"])
        ]

    heartbeat = stack.wait(watchdog, "the Watchdog reaches the dead man's switch")[0]
    assert heartbeat.headers["Authorization"] == f"Bearer {SECRETS['heartbeat_token']}"
    assert heartbeat.body["receiver"] == "deadmansswitch"
    stack.mark("watchdog at the heartbeat webhook")

    # ... and sw1's warnings are mailed (admin-up, oper-down ports of the 2960X): when they
    # stop arriving during the outage, that is the inhibition's doing.
    interface_down = stack.wait(
        lambda: arrived(stack, "email", "firing", "ChmInterfaceDown", sw1),
        "ChmInterfaceDown of sw1 is mailed",
    )[0]
    assert interface_down.raw.rcpt_tos == ["noc-tickets@example.net"]
    assert (interface_down.raw.login, interface_down.raw.password) == (
        SMTP_LOGIN,
        SECRETS["smtp_password"],
    ), "Alertmanager did not log in with the password from smtp_auth_password_file"
    stack.mark("interface warning mailed")

    # The outage: sw1 stops answering ping and SNMP.
    outage = time.monotonic()
    e2e.silence(stack.sw1)
    stack.mark("sw1 silenced")

    email = stack.wait(
        lambda: arrived(stack, "email", "firing", "ChmDeviceUnreachable", sw1, after=outage),
        "ChmDeviceUnreachable of sw1 arrives by email",
    )[0]
    stack.mark("ChmDeviceUnreachable by email")
    slack = stack.wait(
        lambda: arrived(stack, "slack", "firing", "ChmDeviceUnreachable", sw1, after=outage),
        "ChmDeviceUnreachable of sw1 arrives on Slack",
    )[0]
    stack.mark("ChmDeviceUnreachable on Slack")

    fields = email_fields(email.text)
    assert email.raw.rcpt_tos == ["noc-oncall@example.net"]
    assert email.raw.subject == f"[FIRING:1] ChmDeviceUnreachable on {sw1}"
    assert {
        k: fields.get(k)
        for k in (
            "alertname",
            "instance",
            "severity",
            "job",
            "prober",
            "site",
            "summary",
            "runbook_url",
        )
    } == {
        "alertname": "ChmDeviceUnreachable",
        "instance": sw1,
        "severity": "critical",
        "job": "chm_icmp",
        "prober": "icmp",
        "site": "e2e",  # a file_sd target label, kept by relabelling
        "summary": unreachable["annotations"]["summary"],
        "runbook_url": unreachable["annotations"]["runbook_url"],
    }, email.text
    assert sw1 in fields["description"]

    attachment = slack.raw["attachments"][0]
    assert slack.raw["channel"] == "#chm-alerts"
    assert attachment["title"] == f"[FIRING:1] ChmDeviceUnreachable on {sw1}"
    assert attachment["color"] == "danger"
    assert f"*critical* {unreachable['annotations']['summary']}" in slack.text
    assert f"Runbook: {unreachable['annotations']['runbook_url']}" in slack.text
    assert f"{sw1} has answered none" in slack.text

    # Alertmanager holds sw1's other alerts (at least ChmInterfaceDown, kept firing by
    # keep_firing_for after its SNMP series vanished) as suppressed, inhibited by it.
    def inhibition() -> list[dict[str, Any]] | None:
        alerts = [
            a for a in e2e.am_alerts(stack.alertmanager) if a["labels"].get("instance") == sw1
        ]
        sources = [a for a in alerts if a["labels"]["alertname"] == "ChmDeviceUnreachable"]
        targets = [a for a in alerts if inhibited.fullmatch(a["labels"]["alertname"])]
        if len(sources) != 1 or not any(
            a["labels"]["alertname"] == "ChmInterfaceDown" for a in targets
        ):
            return None
        assert sources[0]["status"]["state"] == "active", sources[0]
        ok = all(
            a["status"]["state"] == "suppressed"
            and a["status"]["inhibitedBy"] == [sources[0]["fingerprint"]]
            for a in targets
        )
        return targets if ok else None

    suppressed = stack.wait(inhibition, "sw1's other alerts are inhibited by its unreachability")
    stack.mark("other alerts inhibited")

    # Alertmanager keeps repeating (repeat_interval 3 s): wait for ChmDeviceUnreachable's
    # repeat, which comes after sw1's interface warnings would have been repeated too, and
    # check none of sw1's inhibited alerts was notified since the inhibition began (its
    # first page, a group_wait after Alertmanager received the alert).
    stack.wait(
        lambda: arrived(stack, "email", "firing", "ChmDeviceUnreachable", sw1, after=email.at),
        "ChmDeviceUnreachable of sw1 is repeated",
    )
    leaked = [
        n
        for n in notifications(stack)
        if n.instance == sw1 and inhibited.fullmatch(n.alertname) and n.at > email.at
    ]
    assert not leaked, [(n.channel, n.status, n.alertname) for n in leaked]
    stack.mark("no notification of inhibited alerts")

    # sw1 comes back: the resolve arrives by email and on Slack, the inhibition lifts.
    recovery = time.monotonic()
    e2e.unsilence(stack.sw1)
    stack.mark("sw1 answers again")
    resolved_email = stack.wait(
        lambda: arrived(stack, "email", "resolved", "ChmDeviceUnreachable", sw1, recovery),
        "the resolve of ChmDeviceUnreachable arrives by email",
    )[0]
    resolved_slack = stack.wait(
        lambda: arrived(stack, "slack", "resolved", "ChmDeviceUnreachable", sw1, recovery),
        "the resolve of ChmDeviceUnreachable arrives on Slack",
    )[0]
    stack.mark("resolved by email and Slack")
    assert resolved_email.raw.subject == f"[RESOLVED] ChmDeviceUnreachable on {sw1}"
    assert email_fields(resolved_email.text)["alertname"] == "ChmDeviceUnreachable"
    assert resolved_slack.raw["attachments"][0]["color"] == "good"

    def lifted() -> bool:
        fingerprints = {a["fingerprint"] for a in suppressed}
        alerts = [a for a in e2e.am_alerts(stack.alertmanager) if a["fingerprint"] in fingerprints]
        return bool(alerts) and all(a["status"]["state"] == "active" for a in alerts)

    stack.wait(lifted, "sw1's other alerts are no longer inhibited")
    stack.mark("inhibition lifted")
    expr = f'probe_success{{instance="{sw1}", prober="snmp"}} == 1'
    stack.wait(lambda: stack.query(expr), f"sw1 answers SNMP again ({expr})")
    stack.mark("sw1 scraped over SNMP again")


# -- dashboards --------------------------------------------------------------------------------
def _variable_values(stack: Stack, path: Path) -> list[dict[str, str]]:
    """Every choice a user could make in the dashboard's variables, as Grafana fills them
    from Prometheus: one value at a time, or the "All" value where the variable offers it."""
    choices: list[dict[str, str]] = [{}]
    for variable in dashboards.load(path).get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue  # the datasource variable: the test's Prometheus is the datasource
        name, query = variable["name"], dashboards.variables(path)[variable["name"]]
        expanded: list[dict[str, str]] = []
        for choice in choices:
            selector, label = dashboards.label_values_selector(dashboards.substitute(query, choice))
            values = e2e.prom_label_values(stack.prometheus, label, selector)
            assert values, f"{path.name}: variable {name} ({query}) has no values"
            if variable.get("includeAll"):
                values = [variable.get("allValue") or "|".join(map(re.escape, values))]
            expanded += [{**choice, name: value} for value in values]
        choices = expanded
    return choices


def _without_data(stack: Stack) -> dict[str, list[str]]:
    """Panel queries (dashboard -> queries) that return nothing for every variable choice."""
    empty: dict[str, list[str]] = {}
    for path in dashboards.dashboard_paths():
        choices = _variable_values(stack, path)
        for expr in dashboards.panel_queries(path):
            if not any(stack.query(dashboards.substitute(expr, c)) for c in choices):
                empty.setdefault(path.name, []).append(expr)
    return empty


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    paths = dashboards.dashboard_paths()
    assert paths, "no dashboards found"

    # Rates need two scrapes in their window and recording rules a round of evaluation:
    # wait until every query does.
    last: dict[str, list[str]] = {}

    def all_answer() -> bool:
        nonlocal last
        last = _without_data(stack)
        return not last

    with contextlib.suppress(AssertionError):
        stack.wait(all_answer, "every dashboard query returns data", timeout=30)
    for service in stack.services:
        service.check()
    assert not last, f"panel queries without data: {last}"
    stack.mark("dashboard queries checked")
