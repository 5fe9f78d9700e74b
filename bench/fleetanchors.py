"""What the fleet bench asks each exporter, the anchors it runs beside CHM, and the ratios.

A :class:`Route` says how to ask one exporter for one probe of a device and how to read its
answer; CHM answers both probers on ``/probe``, the anchors split them: Debian's
``prometheus-snmp-exporter`` (``/snmp``, module ``if_mib`` of bench/snmp_exporter.yml, which
walks IF-MIB's ifTable and ifXTable) and ``prometheus-blackbox-exporter`` (``/probe``, an
``icmp`` module: one echo per probe). :func:`ratio_rows` lines up a CHM phase and an anchor
phase (their JSON, as ``fleet.json`` holds them) metric by metric.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.run import (
    BLACKBOX_CONFIG,  # an icmp module: one echo per probe (CHM's icmp1 matches it)
    BLACKBOX_EXPORTER,
    SNMP_EXPORTER,
    SNMP_EXPORTER_CONFIG,
    Process,
    running,
    wait_http,
)
from tests.servers.ports import free_tcp_port


@dataclass(frozen=True)
class Route:
    """One exporter's answer to one probe of a device: where to ask, how to read the answer."""

    prober: str  # snmp | icmp
    url: str  # with ``{target}``
    ok: re.Pattern[str]
    varbinds: re.Pattern[str] | None = None
    pdus: re.Pattern[str] | None = None

    def for_target(self, target: str) -> str:
        return self.url.format(target=target)


_CHM_VARBINDS = re.compile(r"^probe_snmp_varbinds (\S+)$", re.M)
_CHM_PDUS = re.compile(r"^probe_snmp_pdus_sent (\S+)$", re.M)
# snmp_exporter 0.21 counts varbinds in snmp_scrape_pdus_returned (as bench/run.py reads it);
# an answer without any is a failed walk (it still answers HTTP 200).
_SE_VARBINDS = re.compile(r"^snmp_scrape_pdus_returned (\S+)$", re.M)
_SE_OK = re.compile(r"^snmp_scrape_pdus_returned [1-9]", re.M)
_SE_PDUS = re.compile(r"^snmp_scrape_packets_sent (\S+)$", re.M)


def chm_routes(base_url: str, snmp_module: str, icmp_module: str) -> tuple[Route, Route]:
    """CHM's SNMP and ICMP probes of a device (both on ``/probe``)."""
    return (
        Route(
            "snmp",
            f"{base_url}/probe?target={{target}}&module={snmp_module}",
            re.compile(r'^probe_success\{prober="snmp"\} 1$', re.M),
            _CHM_VARBINDS,
            _CHM_PDUS,
        ),
        Route(
            "icmp",
            f"{base_url}/probe?target={{target}}&module={icmp_module}",
            re.compile(r'^probe_success\{prober="icmp"\} 1$', re.M),
        ),
    )


def anchor_routes(snmp_exporter_url: str, blackbox_url: str) -> tuple[Route, Route]:
    """snmp_exporter's ``if_mib`` walk and blackbox_exporter's ICMP probe of a device."""
    return (
        Route(
            "snmp",
            f"{snmp_exporter_url}/snmp?target={{target}}&module=if_mib",
            _SE_OK,
            _SE_VARBINDS,
            _SE_PDUS,
        ),
        Route(
            "icmp",
            f"{blackbox_url}/probe?target={{target}}&module=icmp",
            re.compile(r"^probe_success 1$", re.M),
        ),
    )


@contextlib.contextmanager
def anchor_processes(work: Path, log_dir: Path) -> Iterator[tuple[Process, Process, str, str]]:
    """Start snmp_exporter and blackbox_exporter on loopback ports; stop both on exit, however
    the block ends (the bench's ExitStack also unwinds on Ctrl-C and SIGTERM)."""
    config = work / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    se_port, bb_port = free_tcp_port(), free_tcp_port()
    se_argv = [SNMP_EXPORTER, f"--config.file={SNMP_EXPORTER_CONFIG}",
               f"--web.listen-address=127.0.0.1:{se_port}", "--log.level=warn"]  # fmt: skip
    bb_argv = [BLACKBOX_EXPORTER, f"--config.file={config}",
               f"--web.listen-address=127.0.0.1:{bb_port}", "--log.level=warn"]  # fmt: skip
    with (
        running(Process("fleet-snmp_exporter", se_argv, log_dir)) as se,
        running(Process("fleet-blackbox_exporter", bb_argv, log_dir)) as bb,
    ):
        yield se, bb, f"http://127.0.0.1:{se_port}", f"http://127.0.0.1:{bb_port}"


async def wait_anchors(se: Process, bb: Process, se_url: str, bb_url: str) -> None:
    await wait_http(se, f"{se_url}/", within=30)
    await wait_http(bb, f"{bb_url}/", within=30)


# -- ratios -----------------------------------------------------------------------------------
#: (label, where a phase's JSON holds it: ``a.b`` is field b of field a)
_METRICS: tuple[tuple[str, str], ...] = (
    ("SNMP success", "snmp.success_ratio"),
    ("ICMP success", "icmp.success_ratio"),
    ("SNMP p50 ms", "snmp.wall_p50_ms"),
    ("SNMP p99 ms", "snmp.wall_p99_ms"),
    ("ICMP p50 ms", "icmp.wall_p50_ms"),
    ("exporter cores", "exporter_cores"),
    ("  user", "exporter_user_cores"),
    ("  system (kernel)", "exporter_sys_cores"),
    ("devices per core", "devices_per_exporter_core"),
    ("us CPU per varbind", "cpu_us_per_varbind"),
    ("  user", "cpu_us_per_varbind_user"),
    ("  system (kernel)", "cpu_us_per_varbind_sys"),
    ("varbinds per SNMP scrape", "snmp.varbinds_mean"),
    ("PDUs per SNMP scrape", "snmp.pdus_mean"),
    ("samples per SNMP scrape", "snmp.samples_mean"),
    ("bytes per SNMP answer", "snmp.body_bytes_mean"),
    ("RSS MiB (end)", "rss_end_mib"),
    ("agents' cores", "agents_cores"),
    ("the rest of the machine's cores", "others_cores"),
)


def _lookup(phase: Mapping[str, Any], path: str) -> float | None:
    value: Any = phase
    for key in path.split("."):
        if not isinstance(value, Mapping) or value.get(key) is None:
            return None
        value = value[key]
    return float(value)


def phase_value(phase: Mapping[str, Any], path: str) -> float | None:
    """One metric of a phase's JSON (``a.b`` reads a nested field); None when absent."""
    if path == "rss_end_mib":
        rss = phase.get("rss_mib") or []
        return float(rss[-1]) if rss else None
    return _lookup(phase, path)


def ratio_rows(
    chm: Mapping[str, Any], anchor: Mapping[str, Any]
) -> list[tuple[str, float | None, float | None, float | None]]:
    """(metric, CHM's value, the anchor's value, CHM / anchor) for every metric both phases
    have a value of; the ratio is None when the anchor's value is 0."""
    rows: list[tuple[str, float | None, float | None, float | None]] = []
    for label, path in _METRICS:
        mine, theirs = phase_value(chm, path), phase_value(anchor, path)
        if mine is None and theirs is None:
            continue
        ratio = mine / theirs if mine is not None and theirs else None
        rows.append((label, mine, theirs, ratio))
    return rows


def _cell(value: float | None, label: str) -> str:
    if value is None:
        return "-"
    if "success" in label:
        return f"{value:.3%}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"


def ratio_table(chm_name: str, anchor_name: str, rows: list[tuple[str, Any, Any, Any]]) -> str:
    """The ratio rows as a Markdown table."""
    lines = [f"| | {chm_name} | {anchor_name} | CHM / anchor |", "|---|---|---|---|"]
    for label, mine, theirs, ratio in rows:
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {label} | {_cell(mine, label)} | {_cell(theirs, label)} | {shown} |")
    return "\n".join(lines)
