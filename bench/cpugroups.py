"""CPU control groups for fair benchmarks on a shared machine (root only).

Why: Linux's autogroup scheduling gives every *session* one equal share of a busy machine. The
exporter's workers share their supervisor's session, so on a machine that other work keeps
busy, two workers together get what one would, and a 1-to-2-worker comparison measures the
neighbours. Here each process that matters gets a cgroup of its own (outside every autogroup),
with a CPU weight and, optionally, a hard budget (``quota`` cores): a worker capped at the same
budget in both runs makes the exporter the bottleneck in both, whatever else runs.

``ip netns exec`` mounts a fresh /sys without the cgroup hierarchies, so the hierarchy is
mounted again in a temporary directory (the same hierarchy: cgroup v1's ``cpu`` controller or
the v2 unified tree, whichever the kernel offers).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CpuGroups"]

PERIOD_US = 100_000


class CpuGroups:
    """Creates ``chm-bench-<name>`` cgroups and moves processes into them; removes them after."""

    def __init__(self, mount: Path, v2: bool) -> None:
        self._mount = mount
        self._v2 = v2
        self._made: list[Path] = []

    @classmethod
    @contextlib.contextmanager
    def mounted(cls) -> Iterator[CpuGroups]:
        """The cpu hierarchy mounted in a temporary directory, unmounted (and the groups
        removed, their processes moved back to the root) at the end."""
        mount = Path(tempfile.mkdtemp(prefix="chm-cgroup-"))
        v2 = False
        try:
            if _mount(["-t", "cgroup", "-o", "cpu", "cgroup", str(mount)]) != 0:
                v2 = True
                if _mount(["-t", "cgroup2", "cgroup2", str(mount)]) != 0:
                    raise RuntimeError("cannot mount the cpu cgroup hierarchy (root needed)")
                with contextlib.suppress(OSError):  # let children use the cpu controller
                    (mount / "cgroup.subtree_control").write_text("+cpu")
            groups = cls(mount, v2)
            try:
                yield groups
            finally:
                groups.remove_all()
                subprocess.run(["umount", str(mount)], check=False)
        finally:
            with contextlib.suppress(OSError):
                mount.rmdir()

    def place(self, name: str, pids: list[int], quota: float = 0.0, weight: int = 1024) -> Path:
        """Move `pids` (whole processes) into group `name`: `weight` as cgroup v1 shares (1024
        is a nice-0 session's), and a hard cap of `quota` cores when above 0."""
        path = self._mount / f"chm-bench-{name}"
        if path not in self._made:
            path.mkdir(exist_ok=True)
            self._made.append(path)
        if self._v2:
            (path / "cpu.weight").write_text(str(max(1, min(10000, weight * 100 // 1024))))
            limit = f"{int(quota * PERIOD_US)} {PERIOD_US}" if quota > 0 else f"max {PERIOD_US}"
            (path / "cpu.max").write_text(limit)
        else:
            (path / "cpu.shares").write_text(str(weight))
            (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(int(quota * PERIOD_US) if quota else -1))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, OSError):
                (path / "cgroup.procs").write_text(str(pid))
        return path

    def throttled_seconds(self, name: str) -> float:
        """How long group `name`'s quota held its processes back, so far."""
        stat = (self._mount / f"chm-bench-{name}" / "cpu.stat").read_text().split()
        values = dict(zip(stat[::2], stat[1::2], strict=False))
        if "throttled_usec" in values:
            return int(values["throttled_usec"]) / 1e6
        return int(values.get("throttled_time", 0)) / 1e9

    def remove_all(self) -> None:
        """Move every process back to the root group and remove the groups."""
        root = self._mount / "cgroup.procs"
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        root.write_text(pid)
                path.rmdir()
        self._made.clear()


def _mount(args: list[str]) -> int:
    return subprocess.run(["mount", *args], check=False, capture_output=True).returncode


if __name__ == "__main__":  # a quick self-check: python -m bench.cpugroups
    with CpuGroups.mounted() as groups:
        groups.place("selfcheck", [os.getpid()], quota=0.5)
        print(Path("/proc/self/cgroup").read_text())
