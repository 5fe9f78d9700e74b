"""What one worker found, for the others: with ``--web.workers N`` only the first worker runs the
discovery jobs (N sweeps of the same networks would send N times the packets and find the same
devices); it writes its devices and last-run reports to a file in the exporter's private
directory after every run and every reload, and the other workers answer ``/sd``,
``/topology`` and the landing page from that file, read again when it changed.

JSON (not pickle): the file is plain data, written atomically (a reader never sees half of it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chm_exporter.discovery.identify import Examined, Identity, Neighbor
from chm_exporter.discovery.registry import Device, write_atomically
from chm_exporter.discovery.report import RunReport

FILE_NAME = "discovery.json"


def save(path: Path, devices: list[Device], reports: dict[str, RunReport]) -> None:
    """Write the devices and reports to `path` (atomically)."""
    write_atomically(
        path,
        {
            "devices": [asdict(d) for d in devices],
            "reports": {name: asdict(r) for name, r in reports.items()},
        },
    )


class SharedFile:
    """The file as one of the other workers reads it: parsed again only when it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self.devices: list[Device] = []
        self.reports: dict[str, RunReport] = {}

    def refresh(self) -> bool:
        """Read the file if it changed since the last read (absent: nothing found yet); True
        when it did."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return False
        seen = (stat.st_mtime_ns, stat.st_ino)  # a new inode with every write (os.replace)
        if seen == self._seen:
            return False
        data = json.loads(self.path.read_text(encoding="utf-8"))
        self.devices = [_device(d) for d in data["devices"]]
        self.reports = {name: RunReport(**r) for name, r in data["reports"].items()}
        self._seen = seen
        return True


def _device(data: dict[str, Any]) -> Device:
    examined = data["examined"]
    identity = examined["identity"]
    return Device(
        **{**data, "examined": Examined(
            **{**examined,
               "identity": Identity(**{**identity, "profiles": tuple(identity["profiles"])}),
               "neighbors": tuple(Neighbor(**n) for n in examined["neighbors"])},
        )},
    )  # fmt: skip
