"""Real walks of devices the corpus does not hold: every recording of the pip package
``snmpsim-data`` (UPSes, BMCs, wifi controllers, firewalls, cameras, storage, servers and
switches of vendors no profile knows), as snmpsim can serve them within seconds.

The package holds 116 recordings, 1.5 GB and 22 million lines once decompressed; snmpsim indexes
~20 000 lines a second, so serving them whole would take many minutes. Each is therefore
served cut to the subtrees the exporter may read (:func:`read_oids`: every instance OID and
column the shipped profiles GET or walk, as the SNMP prober plans them), which answers every
request the exporter makes exactly as the whole recording would: a GET of a kept OID, and a
walk of a kept subtree up to its end, see the same records.

Cutting needs the records in OID order, and some recordings are not (an agent that answered
out of order, a re-recorded subtree): :func:`sorted_recording` decompresses each once into a
cache (``$CHM_FOREIGN_CACHE``, else ``~/.cache/chm-foreign-walks``, one folder per package
version) in OID order, one record per OID (the last wins, as in snmpsim's index), without
comments; :func:`served_text` then finds each kept subtree by bisection.
"""

from __future__ import annotations

import bz2
import os
from collections.abc import Iterable
from functools import cache
from importlib import metadata, resources
from itertools import pairwise
from pathlib import Path

from chm_exporter.profiles.loader import load_profiles
from chm_exporter.profiles.plan import plan_walks

PACKAGE = "snmpsim_data"
DISTRIBUTION = "snmpsim-data"
CACHE_ENV = "CHM_FOREIGN_CACHE"
COMMUNITY_PREFIX = "foreign/"
"""snmpsim tells devices apart by community: ``foreign/UPS/apc-8641`` for ``UPS/apc-8641``."""
SUFFIXES = (".snmprec.bz2", ".snmprec")

Oid = tuple[int, ...]


def data_dir() -> Path:
    """The recordings' folder inside the installed package."""
    return Path(str(resources.files(PACKAGE) / "data"))


def recordings(max_bytes: int | None = None) -> dict[str, Path]:
    """snmpsim community → recording file, of every recording in the package (those of at most
    `max_bytes` as shipped, when given), sorted."""
    root = data_dir()
    found: dict[str, Path] = {}
    for path in root.rglob("*.snmprec*"):
        if max_bytes is not None and path.stat().st_size > max_bytes:
            continue
        name = path.relative_to(root).as_posix()
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                found[COMMUNITY_PREFIX + name.removesuffix(suffix)] = path
    return dict(sorted(found.items()))


def cache_dir() -> Path:
    """Where the sorted recordings are kept, per package version."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "chm-foreign-walks"
    )
    return Path(base) / f"{DISTRIBUTION}-{metadata.version(DISTRIBUTION)}"


def oid_of(record: bytes) -> Oid | None:
    """The OID of one snmprec record, None for a comment, a blank or a malformed line."""
    head = record.split(b"|", 1)[0].strip()
    if not head or record.count(b"|") < 2:
        return None
    try:
        return tuple(int(part) for part in head.lstrip(b".").split(b"."))
    except ValueError:
        return None


def sorted_recording(path: Path) -> Path:
    """The recording decompressed, in OID order with one record per OID (cached)."""
    target = cache_dir() / path.relative_to(data_dir()).as_posix().removesuffix(".bz2")
    if target.exists():
        return target
    raw = path.read_bytes()
    if path.name.endswith(".bz2"):
        raw = bz2.decompress(raw)
    records: dict[Oid, bytes] = {}
    for line in raw.split(b"\n"):
        oid = oid_of(line)
        if oid is not None:
            records.pop(oid, None)  # the last record of an OID wins, in its own place
            records[oid] = line.rstrip(b"\r")
    keys = list(records)
    if any(a > b for a, b in pairwise(keys)):
        keys.sort()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    partial.write_bytes(b"".join(records[k] + b"\n" for k in keys))
    partial.replace(target)  # atomic: a concurrent run sees the whole file or none
    return target


@cache
def read_oids() -> tuple[Oid, ...]:
    """Every OID the shipped profiles GET and every column they walk (module=auto may pick
    any of them), sorted, without those below another."""
    plan = plan_walks(load_profiles().values())
    oids = sorted({tuple(int(p) for p in oid.split(".")) for oid in (*plan.gets, *plan.walks)})
    kept: list[Oid] = []
    for oid in oids:
        if not kept or oid[: len(kept[-1])] != kept[-1]:
            kept.append(oid)
    return tuple(kept)


def _first_at_or_after(text: bytes, oid: Oid, lo: int = 0) -> int:
    """The offset of the first line of a sorted recording whose OID is `oid` or after it."""
    hi = len(text)
    while lo < hi:
        mid = (lo + hi) // 2
        start = max(lo, text.rfind(b"\n", lo, mid) + 1)  # the line that holds `mid`
        end = text.find(b"\n", start) + 1 or len(text)
        if (oid_of(text[start:end]) or ()) < oid:
            lo = end
        else:
            hi = start
    return lo


def served_text(path: Path, oids: Iterable[Oid] | None = None) -> str:
    """The sorted recording cut to the subtrees of `oids` (default :func:`read_oids`)."""
    text = sorted_recording(path).read_bytes()
    kept: list[bytes] = []
    at = 0
    for oid in oids if oids is not None else read_oids():
        at = _first_at_or_after(text, oid, at)
        after = _first_at_or_after(text, (*oid[:-1], oid[-1] + 1), at)
        kept.append(text[at:after])
        at = after
    return b"".join(kept).decode("latin-1")
