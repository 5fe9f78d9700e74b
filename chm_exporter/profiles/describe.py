"""Where a profile's metric comes from, in words made from the profile's data (for the docs)."""

from __future__ import annotations

from chm_exporter.profiles.model import MetricSpec, Profile


def oid_name(profile: Profile, oid: str) -> str:
    """The profile's alias for `oid` (``sysName.0`` for an instance), else the numeric OID."""
    names = {number: name for name, number in profile.oids.items()}
    if oid in names:
        return names[oid]
    parent, _, last = oid.rpartition(".")
    return f"{names[parent]}.{last}" if parent in names else oid


def source_text(profile: Profile, metric: MetricSpec) -> str:
    """The metric's sources as MIB object names: ``hrStorageSize - hrStorageUsed x
    hrStorageAllocationUnits``; alternatives joined by "else"; "1" for an info metric."""
    if metric.type == "info":
        return "1 (labels only)"
    alternatives = []
    for source in metric.sources:
        text = oid_name(profile, source.oid)
        terms = [f" - {oid_name(profile, oid)}" for oid in source.minus]
        terms += [f" + {oid_name(profile, oid)}" for oid in source.plus]
        terms += [f" - sum of {oid_name(profile, t.oid)}" for t in source.minus_rows]
        terms += [f" + sum of {oid_name(profile, t.oid)}" for t in source.plus_rows]
        if terms:
            text = f"({text}{''.join(terms)})"
        alternatives.append(text)
    text = " else ".join(dict.fromkeys(alternatives))
    for factor in metric.factors:
        name = oid_name(profile, factor.oid)
        if factor.pow10 is not None:
            text += f" x 10^{'-' if factor.pow10 < 0 else ''}{name}"
        elif factor.map is not None:
            text += f" x scale of {name}"
        elif factor.scale == 1.0 and factor.offset == 0.0:
            text += f" x {name}"
        else:
            text += f" x ({name} x {factor.scale:g} + {factor.offset:g})"
    return text
