"""Write docs/vendors.md: which health metric each vendor family serves, from what, on how many
of the corpus' recorded devices. Made from the metric catalogue, the profiles' data (their OID
aliases name the MIB objects) and the golden files, so it stays true (tests/unit/test_docs.py
fails when the committed page differs from what this writes).

    .venv/bin/python scripts/vendors_table.py > docs/vendors.md
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

from chm_exporter.catalogue import catalogue
from chm_exporter.profiles import load_profiles
from chm_exporter.profiles.describe import source_text
from chm_exporter.profiles.loader import expand_includes

REPO = Path(__file__).resolve().parents[1]

GOLDEN = REPO / "tests" / "golden"
FAMILIES = {
    "cisco_ios": ["cisco_ios"],
    "cisco_nxos": ["cisco_nxos"],
    "juniper_junos": ["juniper_junos"],
    "arista_eos": ["arista_eos"],
    "aruba_aoscx": ["aruba_aoscx"],
    "hp_procurve": ["hp_procurve"],
    "brocade_ruckus": ["brocade_ruckus"],
    "extreme": ["extreme_exos", "extreme_voss", "extreme_slx"],
    "linux_netsnmp": ["linux_netsnmp"],
}
METRICS = [
    "chm_device_info",
    "chm_device_uptime_seconds",
    "chm_cpu_utilization_ratio",
    "chm_memory_used_bytes",
    "chm_memory_free_bytes",
    "chm_temperature_celsius",
    "chm_temperature_threshold_celsius",
    "chm_fan_up",
    "chm_psu_up",
    "chm_fan_speed_rpm",
    "chm_voltage_volts",
    "chm_power_watts",
    "chm_optic_rx_power_dbm",
    "chm_optic_tx_power_dbm",
    "chm_stack_member_up",
    "chm_neighbor_info",
    "chm_filesystem_used_bytes",
    "chm_interface_up",
]
UNKNOWN = [m for m in METRICS if catalogue().get(m) is None]
assert not UNKNOWN, f"not in the metric catalogue: {UNKNOWN}"


def served(metric: str) -> dict[str, tuple[int, int]]:
    """family -> (devices whose golden has the metric, devices of the family)."""
    out: dict[str, tuple[int, int]] = {}
    for family in FAMILIES:
        files = sorted(GOLDEN.glob(f"{family}__*.prom"))
        hits = sum(1 for f in files if re.search(rf"^{metric}[{{ ]", f.read_text(), re.M))
        out[family] = (hits, len(files))
    return out


def sources(family: str) -> dict[str, list[str]]:
    """metric -> "profile: table (MIB objects)", over the family's profiles and their includes."""
    profiles = load_profiles()
    names = [n for n in FAMILIES[family] if n in profiles]
    found: dict[str, list[str]] = defaultdict(list)
    for profile in expand_includes(names, profiles):
        for table in profile.tables:
            for metric in table.metrics:
                if metric.name in METRICS:
                    src = f"{profile.name}: {table.name} ({source_text(profile, metric)})"
                    if src not in found[metric.name]:
                        found[metric.name].append(src)
    return found


AGREEMENT = GOLDEN / "librenms_agreement.md"
AGREEMENT_GOAL = 95
AFTER = "After the reviewed exceptions:"


def agreement_section() -> list[str]:
    """The LibreNMS agreement table (tests/golden/librenms_agreement.md, after the reviewed
    exceptions), the goal, and every category still short of it."""
    after = AGREEMENT.read_text(encoding="utf-8").split(AFTER, 1)[1].strip().splitlines()
    gaps = []
    for row in after[2:]:
        category, overall = (cell.strip() for cell in row.strip("|").split("|")[:2])
        percent = int(overall.split(" %", 1)[0]) if "%" in overall else 100
        if percent < AGREEMENT_GOAL:
            gaps.append(f"- {category}: {overall}")
    return [
        "## Agreement with LibreNMS",
        "",
        "On every corpus walk that carries LibreNMS's own discovery of it (`snmprec/*/*.json`",
        "and `librenms/`), module=auto against LibreNMS item by item",
        "(`tests/integration/test_librenms_agreement.py`), once the reviewed exceptions",
        "(`tests/integration/librenms_exceptions.yaml`: cases where LibreNMS is the one that",
        "differs) are taken out. The goal is "
        f"{AGREEMENT_GOAL} % in every category; the test fails when a category falls below "
        "this committed table (a ratchet), so progress is kept.",
        "",
        *after,
        "",
        f"Still short of {AGREEMENT_GOAL} %:"
        if gaps
        else f"Every category is at {AGREEMENT_GOAL} % or more.",
        *(["", *gaps] if gaps else []),
    ]


def main() -> None:
    lines = [
        "# Vendor coverage",
        "",
        "Which normalized health metric each vendor family serves, on how many of the corpus'",
        "recorded devices (`../shared/corpus/snmprec`), and from which profile table. Written by",
        "`scripts/vendors_table.py` from the metric catalogue, the profiles and `tests/golden/`; a",
        "test keeps it true.",
        "A device whose recording lacks a table shows the gap as a lower count: nothing is faked.",
        "The MIB objects are the profiles' OID aliases (`oids:` in each profile's YAML).",
        "",
        "| metric | " + " | ".join(FAMILIES) + " |",
        "|---|" + "---|" * len(FAMILIES),
    ]
    for metric in METRICS:
        cells = [f"{hit}/{total}" if hit else "—" for hit, total in served(metric).values()]
        lines.append(f"| `{metric}` | " + " | ".join(cells) + " |")
    lines += ["", *agreement_section()]
    lines += ["", "## Where each family's metrics come from", ""]
    for family in FAMILIES:
        lines.append(f"### {family} (profiles: {', '.join(FAMILIES[family])})")
        lines.append("")
        for metric, srcs in sorted(sources(family).items(), key=lambda kv: METRICS.index(kv[0])):
            lines.append(f"- `{metric}`: {'; '.join(srcs)}")
        lines.append("")
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
