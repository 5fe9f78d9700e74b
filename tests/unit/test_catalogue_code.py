"""Metrics the code emits itself (the handler's probe_success, each prober's probe_*, the SSH
log counters) are the catalogue's: a probe_* or chm_* family it lacks, or one with another HELP,
type or label names, fails here. (The exporter's /metrics: test_catalogue.py.)"""

from __future__ import annotations

import re

import pytest
from multidict import MultiDict

from chm_exporter.catalogue import (
    RESERVED_PREFIXES,
    MetricType,
    UndeclaredMetricError,
    catalogue,
    declared,
)
from chm_exporter.config import IcmpSettings, LoadedConfig, parse_config
from chm_exporter.devicecache import DeviceCache
from chm_exporter.exposition import MetricSink
from chm_exporter.probe import parse_request, run_probe
from chm_exporter.probelog import ProbeLog
from chm_exporter.probers import ProbeContext, icmp
from chm_exporter.probers import ssh as ssh_prober
from chm_exporter.profiles import load_profiles
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.config import SshSettings
from chm_exporter.ssh.logs import LogMessage, LogState, count_new, emit_logs
from chm_exporter.ssh.sessions import SessionPool
from tests.unit.fakeagent import FakeAgent, serve_snmp_from

CONFIG = """\
ssh_auths:
  lab: {username: netops, password: secret}
modules:
  if_mib: {snmp: {profiles: [system, if_mib]}}
  ping: {icmp: {count: 2}}
  cli: {ssh: {auth: lab, platform: cisco_ios}}
"""


@pytest.fixture(scope="module")
def loaded() -> LoadedConfig:
    return LoadedConfig(config=parse_config(CONFIG), path=None, profiles=load_profiles())


def _context(loaded: LoadedConfig, module: str) -> ProbeContext:
    request = parse_request(MultiDict({"target": "192.0.2.1", "module": module}), {}, loaded, 0)
    metrics = SelfMetrics("test")
    log = ProbeLog("192.0.2.1", module)
    return ProbeContext(request, loaded, log, 0.0, DeviceCache(), metrics, SessionPool(metrics.ssh))


def _undeclared(sink: MetricSink) -> list[str]:
    """Every probe_*/chm_* family of `sink` that differs from its catalogue entry, described."""
    cat = catalogue()
    wrong = []
    for family in sink:
        if not family.name.startswith(RESERVED_PREFIXES):
            continue
        known = cat.get(family.name)
        if known is None:
            wrong.append(f"{family.name}: not in the catalogue")
            continue
        exposed = "counter" if known.type == "counter" else "gauge"
        got = (family.help, family.type, family.label_names)
        if got != (known.help, exposed, known.labels):
            wrong.append(f"{family.name}: {got} != {(known.help, exposed, known.labels)}")
    return wrong


def _names(sink: MetricSink) -> set[str]:
    return {family.name for family in sink}


async def test_an_snmp_probe_emits_only_catalogued_families(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = FakeAgent({"1.3.6.1.2.1.1.5.0": b"sw1", "1.3.6.1.2.1.2.2.1.2.1": b"eth1"})
    serve_snmp_from(agent, monkeypatch)
    ctx = _context(loaded, "if_mib")
    outcome = await run_probe(ctx.request, loaded, ctx.devices, ctx.metrics, ctx.ssh)
    assert outcome.success
    assert {"probe_success", "probe_duration_seconds", "probe_snmp_walks"} <= _names(outcome.sink)
    assert {"chm_interface_info", "chm_device_system_info"} <= _names(outcome.sink)
    assert _undeclared(outcome.sink) == []


def test_the_icmp_prober_emits_only_catalogued_families(loaded: LoadedConfig) -> None:
    raw = icmp.IcmpRaw(0.001, 0.0002, "192.0.2.1", 2, [0.0011, 0.0013])
    sink = MetricSink()
    assert icmp.emit(_context(loaded, "ping"), IcmpSettings(count=2), raw, sink)
    assert len(_names(sink)) == 7
    assert _undeclared(sink) == []


def test_the_ssh_prober_emits_only_catalogued_families(loaded: LoadedConfig) -> None:
    state = LogState()
    for fingerprint in ("boot", "after"):  # the first read sets the baseline
        buffer = [LogMessage("critical", "SYS", "RELOAD", 1.7e9, fingerprint)]
        count_new(state, buffer)
    raw = ssh_prober.SshRaw(seconds={"show version": 0.2}, reused=True, finished=True)
    sink = MetricSink()
    settings = SshSettings(auth="lab", platform="cisco_ios")
    assert ssh_prober.emit(_context(loaded, "cli"), settings, raw, sink)
    emit_logs(state, buffer, sink)
    assert _names(sink) == {
        "probe_ssh_command_duration_seconds",
        "probe_ssh_session_reused",
        "chm_log_messages_total",
        "chm_log_last_message_timestamp_seconds",
    }
    assert _undeclared(sink) == []


def test_the_check_finds_a_family_outside_the_catalogue() -> None:
    sink = MetricSink()
    sink.add("probe_snmp_walks", 1, None, "Columns walked (each asked once).")
    sink.add("probe_http_status_code", 200, None, "HTTP status.")
    sink.add("probe_snmp_pdus_sent", 1, {"phase": "x"}, "SNMP request PDUs sent.")
    assert [w.split(":")[0] for w in _undeclared(sink)] == [
        "probe_http_status_code",
        "probe_snmp_pdus_sent",
    ]


@pytest.mark.parametrize(
    ("name", "labels", "mtype", "says"),
    [
        ("probe_http_status_code", (), "gauge", "probe_http_status_code is emitted by code but"),
        ("probe_success", (), "gauge", "emitted as a gauge with labels [], declared in"),
        ("probe_success", ("prober",), "counter", "as a gauge with labels ['prober']"),
    ],
)
def test_code_emitting_a_metric_not_as_declared_fails_at_import(
    name: str, labels: tuple[str, ...], mtype: MetricType, says: str
) -> None:
    with pytest.raises(UndeclaredMetricError, match=re.escape(says)):
        declared(name, labels, mtype)
