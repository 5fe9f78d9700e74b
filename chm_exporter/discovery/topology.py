"""The map: found devices as nodes, LLDP/CDP adjacencies as edges; JSON and an SVG picture.

A neighbour is matched to a found device by management address, else by sysName (compared
without case and domain); one that matches none becomes a node of its own, marked
``discovered: false`` (beyond ``max_depth``, outside ``stay_within``, or not answering). An
adjacency both ends report is one edge per protocol.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable
from typing import Any

from chm_exporter.discovery.registry import Device

_NODE_RADIUS = 16
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()


def build(devices: Iterable[Device]) -> dict[str, Any]:
    """``{"nodes": [...], "edges": [...]}``; each device once (the first job's entry)."""
    nodes: dict[str, dict[str, Any]] = {}
    by_name: dict[str, str] = {}
    listed: list[Device] = []
    for device in devices:
        if device.target in nodes:
            continue
        ident = device.examined.identity
        nodes[device.target] = {
            "id": device.target,
            "address": device.address,
            "sys_name": ident.sys_name,
            "vendor": ident.vendor,
            "platform": ident.platform,
            "model": ident.model,
            "sys_object_id": ident.sys_object_id,
            "discovery_job": device.job,
            "depth": device.depth,
            "discovered": True,
        }
        if ident.sys_name:
            by_name.setdefault(_short(ident.sys_name), device.target)
        listed.append(device)
    by_address = {node["address"]: node_id for node_id, node in nodes.items()}
    edges: dict[tuple[str, ...], dict[str, Any]] = {}
    for device in listed:
        for n in device.examined.neighbors:
            remote = by_address.get(n.remote_address) or by_name.get(_short(n.remote_name))
            if remote is None:
                remote = n.remote_address or n.remote_name or n.remote_chassis_id
                if not remote:
                    continue
                nodes.setdefault(remote, _unknown_node(remote, n.remote_name, n.remote_platform,
                                                       n.remote_address))  # fmt: skip
            ends = sorted([(device.target, n.local_port), (remote, n.remote_port)])
            key = (n.protocol, *ends[0], *ends[1])
            edges.setdefault(
                key,
                {
                    "id": "|".join(key),
                    "protocol": n.protocol,
                    "source": device.target,
                    "source_port": n.local_port,
                    "target": remote,
                    "target_port": n.remote_port,
                },
            )
    return {"nodes": list(nodes.values()), "edges": list(edges.values())}


def _unknown_node(node_id: str, name: str, platform: str, address: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "address": address,
        "sys_name": name,
        "vendor": "",
        "platform": platform,
        "model": "",
        "sys_object_id": "",
        "discovery_job": "",
        "depth": None,
        "discovered": False,
    }


def _color(vendor: str) -> str:
    if not vendor:
        return "#999999"
    return _PALETTE[hashlib.sha1(vendor.encode()).digest()[0] % len(_PALETTE)]


def render_svg(topology: dict[str, Any]) -> str:
    """The map as SVG: nodes on a circle (coloured by vendor, dashed when not discovered),
    edges as lines whose tooltip names both ports and the protocol."""
    nodes = topology["nodes"]
    count = max(1, len(nodes))
    radius = max(90.0, count * 3 * _NODE_RADIUS / math.pi)
    margin = 110
    size = int(2 * (radius + margin))
    centre = size / 2
    place: dict[str, tuple[float, float]] = {}
    for i, node in enumerate(nodes):
        angle = 2 * math.pi * i / count - math.pi / 2
        place[node["id"]] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" font-family="sans-serif" font-size="11">',
        "<title>CHM discovered topology</title>",
    ]
    if not nodes:
        parts.append(f'<text x="{centre:.0f}" y="{centre:.0f}" text-anchor="middle">'
                     "no devices discovered yet</text>")  # fmt: skip
    for edge in topology["edges"]:
        (x1, y1), (x2, y2) = place[edge["source"]], place[edge["target"]]
        tip = html.escape(
            f"{edge['protocol']}: {edge['source']} {edge['source_port']} — "
            f"{edge['target']} {edge['target_port']}"
        )
        dash = ' stroke-dasharray="6 3"' if edge["protocol"] == "cdp" else ""
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" '
            f'stroke-width="1.5"{dash}><title>{tip}</title></line>'
        )
    for node in nodes:
        x, y = place[node["id"]]
        label = html.escape(node["sys_name"] or node["id"])
        detail = html.escape(" ".join(v for v in (node["vendor"], node["model"], node["id"]) if v))
        stroke = "#000" if node["discovered"] else '#777" stroke-dasharray="3 2'
        parts.append(
            f'<g><title>{detail}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="{_NODE_RADIUS}" '
            f'fill="{_color(node["vendor"])}" stroke="{stroke}"/>'
            f'<text x="{x:.1f}" y="{y + _NODE_RADIUS + 13:.1f}" text-anchor="middle">{label}'
            "</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
