#!/usr/bin/env python3
"""Generate the CHM Grafana dashboards (dashboards/*.json) from the definitions below.

Run `.venv/bin/python -m dashboards.generate` from the repository root after editing here or
in the rules' threshold table; tests/kit/test_dashboards.py fails when a JSON file differs
from what this writes. Standard library only. The JSON is for Grafana 10 and later: the
datasource is the ${datasource} variable (no fixed uid), rates use $__rate_interval, and every
panel sets its unit.

Thresholds (the SLO objective, the packet-loss, saturation and burn-rate levels, ...) are not
written here: every dashboard reads them from the threshold table at the top of
rules/alerts.yml (:mod:`dashboards.thresholds`), the one the alerts use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboards.thresholds import Thresholds, read_table

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
DEVICE = 'instance="$instance"'
DEVICES = 'instance=~"$instance"'
IFACES = 'instance="$instance", ifname=~"$ifname"'
EXPORTERS = 'job="chm_exporter", instance=~"$exporter"'
UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "down", "color": "red", "index": 0},
            "1": {"text": "up", "color": "green", "index": 1},
        },
    }
]


def target(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "expr": expr, "refId": ref}
    if instant:
        t.update(instant=True, range=False, format="table")
    else:
        t.update(legendFormat=legend or "__auto", range=True)
    return t


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    *,
    w: int = 12,
    h: int = 8,
    description: str = "",
    mappings: list[dict[str, Any]] | None = None,
    thresholds: list[tuple[float | None, str]] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    minmax: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any]:
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    steps = [{"color": c, "value": v} for v, c in (thresholds or [(None, "green")])]
    defaults: dict[str, Any] = {
        "unit": unit,
        "mappings": mappings or [],
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds" if kind in {"stat", "bargauge"} else "palette-classic"},
    }
    if minmax[0] is not None:
        defaults["min"] = minmax[0]
    if minmax[1] is not None:
        defaults["max"] = minmax[1]
    p: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "_size": (w, h),
    }
    if transformations:
        p["transformations"] = transformations
    return p


def timeseries(title: str, targets: list[dict[str, Any]], unit: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault(
        "options",
        {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )
    return panel("timeseries", title, targets, unit, **kw)


def stat(title: str, expr: str, unit: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("w", 4)
    kw.setdefault("h", 4)
    kw.setdefault(
        "options",
        {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
        },
    )
    return panel("stat", title, [target(expr)], unit, **kw)


def table(title: str, targets: list[dict[str, Any]], unit: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("options", {"showHeader": True, "cellHeight": "sm"})
    kw.setdefault(
        "transformations",
        [{"id": "merge", "options": {}}] if len(targets) > 1 else [],
    )
    return panel("table", title, targets, unit, **kw)


def top_ten(title: str, series: str, unit: str) -> dict[str, Any]:
    """A table of the ten highest values of `series`, highest first."""
    return table(
        title,
        [target(f"topk(10, {series})", instant=True)],
        unit,
        w=8,
        transformations=[
            hide_columns(),
            {"id": "sortBy", "options": {"sort": [{"field": "Value", "desc": True}]}},
        ],
    )


def up_down_table(title: str, series: str) -> dict[str, Any]:
    """A narrow table of one device's components, each shown as up or down."""
    return table(
        title,
        [target(series, instant=True)],
        "none",
        w=6,
        mappings=UP_DOWN,
        transformations=[hide_columns("instance", "job")],
    )


def hide_columns(*names: str) -> dict[str, Any]:
    return {
        "id": "organize",
        "options": {"excludeByName": dict.fromkeys(("Time", "__name__", *names), True)},
    }


def unit_of(field: str, unit: str, display: str = "") -> dict[str, Any]:
    props: list[dict[str, Any]] = [{"id": "unit", "value": unit}]
    if display:
        props.append({"id": "displayName", "value": display})
    return {"matcher": {"id": "byName", "options": field}, "properties": props}


def datasource_variable() -> dict[str, Any]:
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    v: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "current": {},
        "hide": 0,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "options": [],
    }
    if multi:
        v["allValue"] = ".*"
    return v


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Place panels left to right, wrapping at Grafana's 24 columns."""
    x = y = row_h = 0
    for i, p in enumerate(panels, 1):
        w, h = p.pop("_size")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)
    return panels


def links() -> list[dict[str, Any]]:
    return [
        {
            "type": "dashboards",
            "tags": ["chm"],
            "asDropdown": True,
            "title": "CHM dashboards",
            "includeVars": True,
            "keepTime": True,
        }
    ]


def dashboard(
    uid: str,
    title: str,
    description: str,
    variables: list[dict[str, Any]],
    panels: list[dict[str, Any]],
    refresh: str = "1m",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["chm"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": refresh,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "links": links(),
        "annotations": {"list": []},
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }


def fleet(t: Thresholds) -> dict[str, Any]:
    return dashboard(
        "chm-fleet-overview",
        "CHM fleet overview",
        "Devices up and down by vendor, the worst CPU, temperature and utilisation, firing alerts.",
        [],
        [
            stat(
                "Devices up", 'sum(vendor_state:chm_devices:count{state="up"}) or vector(0)', "none"
            ),
            stat(
                "Devices down",
                'sum(vendor_state:chm_devices:count{state="down"}) or vector(0)',
                "none",
                thresholds=[(None, "green"), (1, "red")],
            ),
            stat(
                "Firing alerts",
                'count(ALERTS{alertstate="firing", alertname=~"Chm.*"}) or vector(0)',
                "none",
                thresholds=[(None, "green"), (1, "orange")],
            ),
            stat(
                "Critical alerts",
                'count(ALERTS{alertstate="firing", alertname=~"Chm.*", severity="critical"})'
                " or vector(0)",
                "none",
                thresholds=[(None, "green"), (1, "red")],
            ),
            stat(
                "Fleet availability (30 d)",
                "avg(instance:chm_device_availability:avg_over_time30d)",
                "percentunit",
                thresholds=[(None, "red"), (t["slo_objective"], "green")],
                options={
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value",
                    "graphMode": "none",
                    "text": {},
                },
            ),
            stat(
                "Devices rebooted (24 h)",
                "count(chm_device_uptime_seconds < 86400) or vector(0)",
                "none",
                thresholds=[(None, "green"), (1, "orange")],
            ),
            table(
                "Devices by vendor and state",
                [target("vendor_state:chm_devices:count", instant=True)],
                "none",
                w=8,
                transformations=[
                    hide_columns(),
                    {
                        "id": "groupingToMatrix",
                        "options": {
                            "columnField": "state",
                            "rowField": "vendor",
                            "valueField": "Value",
                        },
                    },
                ],
            ),
            timeseries(
                "Devices down by vendor",
                [
                    target(
                        'sum by (vendor) (vendor_state:chm_devices:count{state="down"})',
                        "{{vendor}}",
                    )
                ],
                "none",
                w=16,
            ),
            top_ten("Busiest CPUs", "instance:chm_cpu_utilization:max", "percentunit"),
            top_ten("Hottest devices", "instance:chm_temperature_celsius:max", "celsius"),
            top_ten(
                "Busiest interfaces (per device)",
                "instance:chm_interface_utilization:max_ratio_rate5m",
                "percentunit",
            ),
            table(
                "Firing alerts",
                [target('ALERTS{alertstate="firing", alertname!="Watchdog"}', instant=True)],
                "none",
                w=24,
                h=10,
                transformations=[hide_columns("Value", "alertstate")],
            ),
        ],
    )


def device(t: Thresholds) -> dict[str, Any]:
    return dashboard(
        "chm-device-detail",
        "CHM device detail",
        "One device: identity, reachability, CPU, memory, environment, interfaces, neighbours.",
        [query_variable("instance", "Device", 'label_values(probe_success{prober!=""}, instance)')],
        [
            table(
                "Device",
                [target(f"chm_device_info{{{DEVICE}}}", instant=True)],
                "none",
                w=24,
                h=4,
                transformations=[hide_columns("Value", "job")],
            ),
            stat("Ping", f'probe_success{{{DEVICE}, prober="icmp"}}', "none", mappings=UP_DOWN),
            stat(
                "SNMP / SSH",
                f'probe_success{{{DEVICE}, prober=~"snmp|ssh"}}',
                "none",
                mappings=UP_DOWN,
                description="The device read over SNMP, over SSH, or both (one value each).",
            ),
            stat(
                "Uptime",
                f"chm_device_uptime_seconds{{{DEVICE}}}",
                "s",
                thresholds=[(None, "orange"), (t["reboot_uptime"], "green")],
            ),
            stat(
                "Availability (30 d)",
                f"instance:chm_device_availability:avg_over_time30d{{{DEVICE}}}",
                "percentunit",
                thresholds=[(None, "red"), (t["slo_objective"], "green")],
            ),
            stat(
                "Packet loss (10 m)",
                f"instance:chm_icmp_packet_loss:ratio10m{{{DEVICE}}}",
                "percentunit",
                thresholds=[(None, "green"), (t["packet_loss"], "red")],
            ),
            stat("Neighbours", f"count(chm_neighbor_info{{{DEVICE}}}) or vector(0)", "none"),
            timeseries(
                "CPU",
                [target(f"chm_cpu_utilization_ratio{{{DEVICE}}}", "{{cpu}}")],
                "percentunit",
                w=8,
                minmax=(0, 1),
            ),
            timeseries(
                "Memory used",
                [target(f"instance_pool:chm_memory_utilization:ratio{{{DEVICE}}}", "{{pool}}")],
                "percentunit",
                w=8,
                minmax=(0, 1),
            ),
            timeseries(
                "Temperature",
                [
                    target(f"chm_temperature_celsius{{{DEVICE}}}", "{{sensor}}"),
                    target(
                        f'chm_temperature_threshold_celsius{{{DEVICE}, level="warning"}}',
                        "{{sensor}} warning threshold",
                    ),
                ],
                "celsius",
                w=8,
            ),
            up_down_table("Fans", f"chm_fan_up{{{DEVICE}}}"),
            up_down_table("Power supplies", f"chm_psu_up{{{DEVICE}}}"),
            timeseries(
                "Ping round-trip time",
                [target(f'probe_icmp_rtt_seconds{{{DEVICE}, stat=~"min|avg|max"}}', "{{stat}}")],
                "s",
                w=6,
            ),
            timeseries(
                "Probe duration",
                [target(f"probe_duration_seconds{{{DEVICE}}}", "{{prober}}")],
                "s",
                w=6,
            ),
            table(
                "Interfaces",
                [
                    target(f"chm_interface_admin_up{{{DEVICE}}}", instant=True),
                    target(f"chm_interface_up{{{DEVICE}}}", instant=True),
                    target(f"chm_interface_speed_bits_per_second{{{DEVICE}}}", instant=True),
                    target(
                        f"instance_interface:chm_interface_receive_bits:rate5m{{{DEVICE}}}",
                        instant=True,
                    ),
                    target(
                        f"instance_interface:chm_interface_transmit_bits:rate5m{{{DEVICE}}}",
                        instant=True,
                    ),
                ],
                "none",
                w=24,
                h=12,
                overrides=[
                    unit_of("Value #A", "none", "Admin"),
                    unit_of("Value #B", "none", "Oper"),
                    unit_of("Value #C", "bps", "Speed"),
                    unit_of("Value #D", "bps", "Receive"),
                    unit_of("Value #E", "bps", "Transmit"),
                ],
                mappings=UP_DOWN,
                transformations=[{"id": "merge", "options": {}}, hide_columns("instance", "job")],
            ),
            table(
                "Neighbours",
                [target(f"chm_neighbor_info{{{DEVICE}}}", instant=True)],
                "none",
                w=24,
                h=8,
                transformations=[hide_columns("Value", "instance", "job")],
            ),
        ],
    )


def interfaces(t: Thresholds) -> dict[str, Any]:
    def both(expr: str, legend: str = "{{ifname}}") -> list[dict[str, Any]]:
        return [
            target(expr.format(dir="receive"), f"{legend} receive"),
            target(expr.format(dir="transmit"), f"{legend} transmit"),
        ]

    return dashboard(
        "chm-interfaces",
        "CHM interfaces",
        "Traffic, utilisation, errors, discards, packets and optics of one device's interfaces.",
        [
            query_variable("instance", "Device", "label_values(chm_interface_up, instance)"),
            query_variable(
                "ifname",
                "Interface",
                'label_values(chm_interface_up{instance="$instance"}, ifname)',
                multi=True,
            ),
        ],
        [
            timeseries(
                "Receive traffic",
                [
                    target(
                        f"rate(chm_interface_receive_bytes_total{{{IFACES}}}[$__rate_interval])"
                        " * 8",
                        "{{ifname}}",
                    )
                ],
                "bps",
            ),
            timeseries(
                "Transmit traffic",
                [
                    target(
                        f"rate(chm_interface_transmit_bytes_total{{{IFACES}}}[$__rate_interval])"
                        " * 8",
                        "{{ifname}}",
                    )
                ],
                "bps",
            ),
            timeseries(
                "Utilisation (5 m)",
                both(
                    f"instance_interface:chm_interface_{{dir}}_utilization:ratio_rate5m{{{{{IFACES}}}}}"
                ),
                "percentunit",
                w=24,
                minmax=(0, 1),
                thresholds=[(None, "green"), (t["interface_saturated"], "red")],
            ),
            timeseries(
                "Errors",
                both(f"rate(chm_interface_{{dir}}_errors_total{{{{{IFACES}}}}}[$__rate_interval])"),
                "pps",
            ),
            timeseries(
                "Discards",
                both(
                    f"rate(chm_interface_{{dir}}_discards_total{{{{{IFACES}}}}}[$__rate_interval])"
                ),
                "pps",
            ),
            timeseries(
                "Packets by cast",
                both(
                    "sum by (ifname, cast) "
                    f"(rate(chm_interface_{{dir}}_packets_total{{{{{IFACES}}}}}[$__rate_interval]))",
                    "{{ifname}} {{cast}}",
                ),
                "pps",
                w=24,
            ),
            timeseries(
                "Optical receive power",
                [target(f"chm_optic_rx_power_dbm{{{IFACES}}}", "{{ifname}} lane {{lane}}")],
                "dBm",
                w=8,
            ),
            timeseries(
                "Optical transmit power",
                [target(f"chm_optic_tx_power_dbm{{{IFACES}}}", "{{ifname}} lane {{lane}}")],
                "dBm",
                w=8,
            ),
            timeseries(
                "Laser bias current",
                [target(f"chm_optic_bias_current_amperes{{{IFACES}}}", "{{ifname}} lane {{lane}}")],
                "amp",
                w=8,
            ),
            panel(
                "state-timeline",
                "Operational state",
                [target(f"chm_interface_up{{{IFACES}}}", "{{ifname}}")],
                "none",
                w=24,
                mappings=UP_DOWN,
                options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
            ),
        ],
    )


def availability(t: Thresholds) -> dict[str, Any]:
    objective = t["slo_objective"]
    page = t["burn_rate_1h"]
    #: the share of a 30-day budget an hour at the paging burn rate spends, in percent
    page_share = round(page * 100 / (30 * 24), 2)
    return dashboard(
        "chm-availability",
        "CHM availability and SLA",
        f"Device availability (answered any CHM prober) against the {objective} objective"
        " over 30 days.",
        [
            query_variable(
                "instance",
                "Device",
                "label_values(instance:chm_device_up:max, instance)",
                multi=True,
            )
        ],
        [
            stat(
                "Fleet availability (30 d)",
                f"avg(instance:chm_device_availability:avg_over_time30d{{{DEVICES}}})",
                "percentunit",
                w=6,
                thresholds=[(None, "red"), (objective, "green")],
            ),
            stat(
                "Fleet availability (1 d)",
                f"avg(instance:chm_device_availability:avg_over_time1d{{{DEVICES}}})",
                "percentunit",
                w=6,
                thresholds=[(None, "red"), (objective, "green")],
            ),
            stat(
                "Devices below objective (30 d)",
                f"count(instance:chm_device_availability:avg_over_time30d{{{DEVICES}}}"
                f" < {objective}) or vector(0)",
                "none",
                w=6,
                thresholds=[(None, "green"), (1, "red")],
            ),
            stat(
                "Budget burn alerts firing",
                'count(ALERTS{alertname="ChmAvailabilityBudgetBurn", alertstate="firing"})'
                " or vector(0)",
                "none",
                w=6,
                thresholds=[(None, "green"), (1, "red")],
            ),
            table(
                "Availability per device",
                [
                    target(
                        f"instance:chm_device_availability:avg_over_time1d{{{DEVICES}}}",
                        instant=True,
                    ),
                    target(
                        f"instance:chm_device_availability:avg_over_time30d{{{DEVICES}}}",
                        instant=True,
                    ),
                    target(
                        f"1 - (1 - instance:chm_device_availability:avg_over_time30d{{{DEVICES}}})"
                        f" / (1 - {objective})",
                        instant=True,
                    ),
                    target(
                        f"avg_over_time(instance:chm_device_up:max{{{DEVICES}}}[$__range])",
                        instant=True,
                    ),
                ],
                "percentunit",
                w=24,
                h=10,
                overrides=[
                    unit_of("Value #A", "percentunit", "1 day"),
                    unit_of("Value #B", "percentunit", "30 days"),
                    unit_of("Value #C", "percentunit", "Error budget left (30 d)"),
                    unit_of("Value #D", "percentunit", "Selected range"),
                ],
                transformations=[
                    {"id": "merge", "options": {}},
                    hide_columns(),
                    {"id": "sortBy", "options": {"sort": [{"field": "Value #B"}]}},
                ],
            ),
            timeseries(
                "Availability (1 h window)",
                [
                    target(
                        f"instance:chm_device_availability:avg_over_time1h{{{DEVICES}}}",
                        "{{instance}}",
                    )
                ],
                "percentunit",
                w=12,
                minmax=(None, 1),
            ),
            timeseries(
                "Error budget burn rate (1 h)",
                [
                    target(
                        f"(1 - instance:chm_device_availability:avg_over_time1h{{{DEVICES}}})"
                        f" / (1 - {objective})",
                        "{{instance}}",
                    )
                ],
                "none",
                w=12,
                description="1 = spending the budget exactly over 30 days;"
                f" {page:g} pages ({page_share:g} % of the budget in an hour).",
                thresholds=[(None, "green"), (t["burn_rate_3d"], "orange"), (page, "red")],
            ),
            panel(
                "state-timeline",
                "Up and down",
                [target(f"instance:chm_device_up:max{{{DEVICES}}}", "{{instance}}")],
                "none",
                w=24,
                h=10,
                mappings=UP_DOWN,
                options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
            ),
        ],
    )


def exporter(t: Thresholds) -> dict[str, Any]:
    rate = "[$__rate_interval]"
    return dashboard(
        "chm-exporter",
        "CHM exporter",
        "The exporter itself: probes, durations, SNMP packets, SSH sessions, bad requests,"
        " config reloads, process.",
        [
            query_variable(
                "exporter", "Exporter", 'label_values(up{job="chm_exporter"}, instance)', multi=True
            )
        ],
        [
            stat(
                "Exporters up",
                f"sum(up{{{EXPORTERS}}})",
                "none",
                w=6,
                thresholds=[(None, "red"), (1, "green")],
            ),
            stat(
                "Probes in flight",
                f"sum(chm_exporter_probes_in_flight{{{EXPORTERS}}})",
                "none",
                w=6,
            ),
            stat(
                "Config reload",
                f"min(chm_exporter_config_last_reload_successful{{{EXPORTERS}}})",
                "none",
                w=6,
                mappings=[
                    {
                        "type": "value",
                        "options": {
                            "0": {"text": "failed", "color": "red", "index": 0},
                            "1": {"text": "ok", "color": "green", "index": 1},
                        },
                    }
                ],
            ),
            stat(
                "Last good reload",
                "max(chm_exporter_config_last_reload_success_timestamp_seconds"
                f"{{{EXPORTERS}}}) * 1000",
                "dateTimeFromNow",
                w=6,
            ),
            timeseries(
                "Probes by result",
                [
                    target(
                        "sum by (prober, result) "
                        f"(rate(chm_exporter_probes_total{{{EXPORTERS}}}{rate}))",
                        "{{prober}} {{result}}",
                    )
                ],
                "reqps",
            ),
            timeseries(
                "Probe failure ratio by module",
                [
                    target(
                        "sum by (module) (rate(chm_exporter_probes_total"
                        f'{{{EXPORTERS}, result="failure"}}{rate}))'
                        " / sum by (module) (rate(chm_exporter_probes_total"
                        f"{{{EXPORTERS}}}{rate}))",
                        "{{module}}",
                    )
                ],
                "percentunit",
                minmax=(0, 1),
            ),
            timeseries(
                "Probe duration",
                [
                    target(
                        f"histogram_quantile({q}, sum by (le, prober)"
                        " (rate(chm_exporter_probe_duration_seconds_bucket"
                        f"{{{EXPORTERS}}}{rate})))",
                        f"{{{{prober}}}} p{int(float(q) * 100)}",
                    )
                    for q in ("0.5", "0.95", "0.99")
                ],
                "s",
            ),
            timeseries(
                "Scrape duration of the probe jobs",
                [
                    target(
                        'max by (job) (scrape_duration_seconds{job=~"chm_snmp|chm_ssh|chm_icmp"})',
                        "{{job}} max",
                    )
                ],
                "s",
                description="Compare with the jobs' scrape_timeout: probes that end at the"
                " deadline return partial data.",
            ),
            timeseries(
                "SNMP packets",
                [
                    target(
                        f"sum(rate(chm_exporter_snmp_packets_sent_total{{{EXPORTERS}}}{rate}))",
                        "sent",
                    ),
                    target(
                        f"sum(rate(chm_exporter_snmp_retries_total{{{EXPORTERS}}}{rate}))",
                        "retries",
                    ),
                    target(
                        f"sum(rate(chm_exporter_snmp_timeouts_total{{{EXPORTERS}}}{rate}))",
                        "timeouts",
                    ),
                ],
                "pps",
            ),
            timeseries(
                "SSH sessions open",
                [target(f"sum(chm_exporter_ssh_sessions_open{{{EXPORTERS}}})", "open")],
                "none",
                description="One persistent session per device and credential (docs/ssh.md).",
            ),
            timeseries(
                "SSH logins, reuses and failures",
                [
                    target(
                        f"sum(rate(chm_exporter_ssh_logins_total{{{EXPORTERS}}}{rate}))", "logins"
                    ),
                    target(
                        f"sum(rate(chm_exporter_ssh_session_reuses_total{{{EXPORTERS}}}{rate}))",
                        "reuses",
                    ),
                    target(
                        "sum by (reason) "
                        f"(rate(chm_exporter_ssh_failures_total{{{EXPORTERS}}}{rate}))",
                        "failed: {{reason}}",
                    ),
                    target(
                        f"sum(rate(chm_exporter_ssh_session_waits_total{{{EXPORTERS}}}{rate}))",
                        "waited for the session cap",
                    ),
                ],
                "ops",
            ),
            timeseries(
                "Invalid requests by reason",
                [
                    target(
                        "sum by (reason) "
                        f"(rate(chm_exporter_invalid_requests_total{{{EXPORTERS}}}{rate}))",
                        "{{reason}}",
                    )
                ],
                "reqps",
            ),
            timeseries(
                "CPU",
                [target(f"rate(process_cpu_seconds_total{{{EXPORTERS}}}{rate})", "{{instance}}")],
                "percentunit",
                w=8,
            ),
            timeseries(
                "Resident memory",
                [target(f"process_resident_memory_bytes{{{EXPORTERS}}}", "{{instance}}")],
                "bytes",
                w=8,
            ),
            timeseries(
                "Open file descriptors",
                [
                    target(f"process_open_fds{{{EXPORTERS}}}", "{{instance}} open"),
                    target(f"process_max_fds{{{EXPORTERS}}}", "{{instance}} limit"),
                ],
                "none",
                w=8,
            ),
        ],
    )


def relabel(expr: str, renames: dict[str, str]) -> str:
    """`expr` with each label copied to a new name (label_replace), for panels such as the
    Node graph that read fixed column names."""
    for new, old in renames.items():
        expr = f'label_replace({expr}, "{new}", "${{1}}", "{old}", "(.+)")'
    return expr


#: labels the Node graph's frames do not show (their values are copied into its own columns)
NODE_GRAPH_HIDDEN = (
    "Time", "Value", "Value #A", "Value #B", "__name__", "instance", "job", "sys_name",
    "vendor", "model", "platform", "os_version", "serial", "sys_object_id", "discovery_job",
    "protocol", "local_ifname", "remote_port", "remote_address", "remote_sys_name",
    "remote_chassis_id", "remote_platform",
)  # fmt: skip


def topology(t: Thresholds) -> dict[str, Any]:
    nodes = relabel(
        f"chm_device_info{{{DEVICES}}}",
        {
            "id": "instance",
            "title": "sys_name",
            "subtitle": "vendor",
            "detail__model": "model",
            "detail__platform": "platform",
        },
    )
    # An edge points at the neighbour's management address (the instance of a device
    # discovered by it), else at its name.
    edges = relabel(
        f'label_join(chm_neighbor_info{{{DEVICES}}}, "id", "|", "instance", "local_ifname",'
        ' "protocol", "remote_address", "remote_sys_name")',
        {
            "source": "instance",
            "target": "remote_sys_name",
            "mainstat": "protocol",
            "detail__local_port": "local_ifname",
            "detail__remote_port": "remote_port",
        },
    )
    edges = f'label_replace({edges}, "target", "${{1}}", "remote_address", "(.+)")'
    return dashboard(
        "chm-topology",
        "CHM topology",
        "Devices and their LLDP/CDP neighbours as a graph (nodes: chm_device_info; edges:"
        " chm_neighbor_info), and the neighbour table. The exporter draws the same map at"
        " /topology.svg from its discovery.",
        [
            query_variable(
                "instance", "Device", "label_values(chm_device_info, instance)", multi=True
            )
        ],
        [
            panel(
                "nodegraph",
                "Topology (LLDP and CDP)",
                [
                    target(
                        f"max by (id, title, subtitle, detail__model, detail__platform) ({nodes})",
                        instant=True,
                    ),
                    target(
                        "max by (id, source, target, mainstat, detail__local_port,"
                        f" detail__remote_port) ({edges})",
                        instant=True,
                    ),
                ],
                "none",
                w=24,
                h=16,
                description="Nodes are devices (instance, sysName, vendor); an edge is an LLDP"
                " or CDP adjacency, pointing at the neighbour's management address, which is the"
                " instance of a discovered device.",
                transformations=[
                    {
                        "id": "organize",
                        "options": {"excludeByName": dict.fromkeys(NODE_GRAPH_HIDDEN, True)},
                    }
                ],
            ),
            table(
                "Neighbours",
                [
                    target(
                        "max by (instance, protocol, local_ifname, remote_sys_name, remote_port,"
                        f" remote_address, remote_platform) (chm_neighbor_info{{{DEVICES}}})",
                        instant=True,
                    )
                ],
                "none",
                w=24,
                h=10,
                transformations=[hide_columns("Value")],
            ),
        ],
    )


#: file name -> the dashboard, made from the threshold table
DASHBOARDS: dict[str, Callable[[Thresholds], dict[str, Any]]] = {
    "chm-fleet-overview.json": fleet,
    "chm-device-detail.json": device,
    "chm-interfaces.json": interfaces,
    "chm-availability.json": availability,
    "chm-exporter.json": exporter,
    "chm-topology.json": topology,
}


def render(name: str, thresholds: Thresholds | None = None) -> str:
    """The JSON text of one dashboard, as written to dashboards/<name>.

    Args:
        name: a key of DASHBOARDS.
        thresholds: the threshold table to use; None reads rules/alerts.yml's.
    """
    table = read_table() if thresholds is None else thresholds
    return json.dumps(DASHBOARDS[name](table), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    table = read_table()
    for name in DASHBOARDS:
        (HERE / name).write_text(render(name, table), encoding="utf-8")
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
