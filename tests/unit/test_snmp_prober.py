"""The SNMP prober and the handler over a recording fake agent: auto-selection and its cache,
the lookup cache (which never decides which rows exist), reboot detection from the walked
uptime, and the handler's deadline whatever a collect does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from multidict import MultiDict

from chm_exporter import probers
from chm_exporter.config import IcmpSettings, LoadedConfig, SnmpSettings, parse_config
from chm_exporter.devicecache import DeviceCache
from chm_exporter.exposition import MetricSink
from chm_exporter.probe import ProbeOutcome, parse_request, run_probe
from chm_exporter.probelog import ProbeLog
from chm_exporter.probers import ProbeContext, Prober
from chm_exporter.probers import snmp as snmp_prober
from chm_exporter.probers.snmp.autoselect import SYS_DESCR, SYS_OBJECT_ID
from chm_exporter.probers.snmp.device import SnmpDeviceState
from chm_exporter.profiles import load_profiles
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.sessions import SessionPool
from chm_exporter.walk import RawValue, WalkResult
from tests.unit.fakeagent import FakeAgent, serve_snmp_from

SELECTION_GET = (SYS_OBJECT_ID, SYS_DESCR)
"""The GET that auto-selection asks (the system profile's own GETs may start the same)."""

CONFIG = """\
modules:
  if_mib: {snmp: {profiles: [system, if_mib]}}
  ping: {icmp: {count: 1}}
"""
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"


@pytest.fixture(scope="module")
def loaded() -> LoadedConfig:
    return LoadedConfig(config=parse_config(CONFIG), path=None, profiles=load_profiles())


def _device(rows: int = 3, uptime: int = 100_000) -> dict[str, RawValue]:
    values: dict[str, RawValue] = {
        "1.3.6.1.2.1.1.1.0": b"Linux test",
        SYS_OBJECT_ID: "1.3.6.1.4.1.8072.3.2.10",
        "1.3.6.1.2.1.1.5.0": b"sw1",
        SYS_UPTIME: uptime,
    }
    for i in range(1, rows + 1):
        values[f"{IF_DESCR}.{i}"] = f"eth{i}".encode()
        values[f"{IF_NAME}.{i}"] = f"eth{i}".encode()
        values[f"{IF_ALIAS}.{i}"] = f"uplink {i}".encode()
        values[f"1.3.6.1.2.1.2.2.1.8.{i}"] = 1
    return values


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    """A fake agent that the SNMP prober talks to instead of gufo-snmp."""
    fake = FakeAgent(_device())
    serve_snmp_from(fake, monkeypatch)
    return fake


async def _probe(
    loaded: LoadedConfig, devices: DeviceCache, module: str, scrape_timeout: str = "10"
) -> ProbeOutcome:
    query = MultiDict({"target": "192.0.2.1", "module": module})
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": scrape_timeout}
    request = parse_request(query, headers, loaded, 0.0)
    metrics = SelfMetrics("test")
    return await run_probe(request, loaded, devices, metrics, SessionPool(metrics.ssh))


def _samples(outcome: ProbeOutcome, name: str) -> dict[tuple[str, ...], int | float]:
    family = outcome.sink.get(name)
    return dict(family.samples) if family is not None else {}


async def test_auto_selection_asks_the_device_once(agent: FakeAgent, loaded: LoadedConfig) -> None:
    devices = DeviceCache()
    for _ in range(3):
        outcome = await _probe(loaded, devices, "auto")
        assert outcome.success
    selecting = [r for r in agent.asked("get_many") if r.oids == SELECTION_GET]
    assert len(selecting) == 1


async def test_a_reboot_seen_in_the_walked_uptime_makes_auto_select_again(
    agent: FakeAgent, loaded: LoadedConfig
) -> None:
    devices = DeviceCache()
    await _probe(loaded, devices, "auto")
    agent.values[SYS_UPTIME] = 500  # 5 s: went back
    outcome = await _probe(loaded, devices, "auto")
    assert "device rebooted" in outcome.log.text()
    await _probe(loaded, devices, "auto")
    selecting = [r for r in agent.asked("get_many") if r.oids == SELECTION_GET]
    assert len(selecting) == 2


def test_reboot_detection_reads_the_walk_not_the_metrics(loaded: LoadedConfig) -> None:
    """No profile evaluated, no uptime metric rendered: the walked sysUpTime still tells."""
    state = SnmpDeviceState(profiles=("standard",), uptime=1000.0)
    raw = snmp_prober.SnmpRaw(device=state)
    raw.result.add_scalar(SYS_UPTIME, 500)  # hundredths: 5 s
    ctx = ProbeContext(
        request=parse_request(MultiDict({"target": "192.0.2.1"}), {}, loaded, 0.0),
        config=loaded,
        log=ProbeLog("t", "t"),
        deadline=0.0,
        devices=DeviceCache(),
        metrics=SelfMetrics("test"),
        ssh=SessionPool(SelfMetrics("test").ssh),
    )
    sink = MetricSink()
    snmp_prober.emit(ctx, SnmpSettings(), raw, sink)
    assert sink.get("chm_device_uptime_seconds") is None
    assert state.profiles is None
    assert state.uptime == 5.0


async def test_lookup_columns_are_cached_but_never_decide_which_rows_exist(
    agent: FakeAgent, loaded: LoadedConfig
) -> None:
    devices = DeviceCache()
    first = await _probe(loaded, devices, "if_mib")
    walked_first = [r.oids[0] for r in agent.asked("bulk")]
    assert IF_ALIAS in walked_first
    agent.requests.clear()
    del agent.values[f"{IF_NAME}.3"], agent.values[f"{IF_DESCR}.3"]  # interface 3 went away
    del agent.values["1.3.6.1.2.1.2.2.1.8.3"]
    second = await _probe(loaded, devices, "if_mib")
    walked_second = [r.oids[0] for r in agent.asked("bulk")]
    assert IF_ALIAS not in walked_second  # label-only: read from the cache
    assert IF_NAME in walked_second
    assert IF_DESCR in walked_second
    oper_first = _samples(first, "chm_interface_oper_status")
    oper_second = _samples(second, "chm_interface_oper_status")
    assert len(oper_second) == len(oper_first) - len(oper_first) // 3
    assert not any("eth3" in labels for labels in oper_second)


async def test_an_endless_table_is_answered_by_the_deadline_with_partial_metrics(
    agent: FakeAgent, loaded: LoadedConfig
) -> None:
    agent.endless = IF_DESCR  # answers at once, forever
    outcome = await _probe(loaded, DeviceCache(), "if_mib", scrape_timeout="0.3")
    assert outcome.duration < 0.3 + 0.1, outcome.log.text()
    assert _samples(outcome, "probe_success") == {("snmp",): 0}
    assert "deadline reached" in outcome.log.text()
    assert _samples(outcome, "chm_device_uptime_seconds")  # read before the deadline
    assert agent.opened == agent.closed


def _no_items() -> list[int]:
    return []


def _icmp_prober_with(
    collect: Callable[[ProbeContext, IcmpSettings, list[int]], Awaitable[None]],
) -> Prober[IcmpSettings, list[int]]:
    def emit(ctx: ProbeContext, settings: IcmpSettings, raw: list[int], sink: MetricSink) -> bool:
        sink.add("probe_test_items", len(raw), None, "Items collected.")
        return True

    return Prober(IcmpSettings, _no_items, collect, emit)


async def test_a_collect_that_swallows_cancellation_does_not_delay_the_answer(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = asyncio.Event()

    async def stubborn(ctx: ProbeContext, settings: IcmpSettings, raw: list[int]) -> None:
        stop = time.monotonic() + 1.0
        while time.monotonic() < stop:
            try:
                raw.append(1)
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # as gufo-snmp's wait_for may on Python 3.11
        ended.set()

    monkeypatch.setitem(probers.PROBERS, "icmp", _icmp_prober_with(stubborn))
    outcome = await _probe(loaded, DeviceCache(), "ping", scrape_timeout="0.3")
    assert outcome.duration < 0.3 + 0.1, outcome.log.text()
    assert _samples(outcome, "probe_success") == {("icmp",): 0}
    assert _samples(outcome, "probe_test_items")[()] >= 3  # emitted from the partial raw
    assert "the prober did not stop" in outcome.log.text()
    await asyncio.wait_for(ended.wait(), 2)  # it ends by itself, in the background


class PanicException(BaseException):  # as pyo3 names it
    """Stands for pyo3_runtime.PanicException."""


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (PanicException("index out of bounds"), "SNMP library panic on a malformed reply"),
        (ValueError("boom"), "internal error (a bug): ValueError: boom"),
    ],
)
async def test_anything_a_collect_raises_is_a_failed_prober_with_its_reason(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch, error: BaseException, reason: str
) -> None:
    async def broken(ctx: ProbeContext, settings: IcmpSettings, raw: list[int]) -> None:
        raw.append(1)
        raise error

    monkeypatch.setitem(probers.PROBERS, "icmp", _icmp_prober_with(broken))
    outcome = await _probe(loaded, DeviceCache(), "ping")
    assert _samples(outcome, "probe_success") == {("icmp",): 0}
    assert _samples(outcome, "probe_test_items") == {(): 1}
    assert reason in outcome.log.text()


def test_walk_result_used_by_prober_is_the_leaf_type() -> None:
    assert snmp_prober.SnmpRaw().result.__class__ is WalkResult


async def test_the_last_walks_pdus_size_the_next_walks_sockets(
    agent: FakeAgent, loaded: LoadedConfig
) -> None:
    devices = DeviceCache()
    agent.latency = 0.0  # the walks interleave: every worker finds a job when it starts
    await _probe(loaded, devices, "if_mib")
    state = devices.get("snmp", SnmpDeviceState, "192.0.2.1", "161", "public_v2")
    assert state.pdus == len(agent.requests) > 8
    assert agent.opened == 8  # nothing known: walk_concurrency
    assert state.pdu_seconds is not None
    assert 0 < state.pdu_seconds < 0.025  # a fake agent answers at once
    state.pdus, state.pdu_seconds = 6, 0.1  # little to walk, slowly: one socket per 4 PDUs
    asked = len(agent.requests)
    await _probe(loaded, devices, "if_mib")
    assert agent.opened == 8 + 2
    assert state.pdus == len(agent.requests) - asked
