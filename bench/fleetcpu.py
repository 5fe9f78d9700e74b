"""User and system (kernel) CPU time of process groups, from /proc, for the fleet bench.

``/proc/<pid>/stat``'s ``utime`` and ``stime`` count every thread of a process (ended threads
included), so a process's two numbers cover its event loop, its executor threads and a Go
runtime's threads alike; a supervisor and its workers are summed by the caller. System time is
what the kernel spends on the process's behalf: on loopback a UDP ``sendto`` also runs the
delivery to the receiving socket, so the sender pays for both ends' network stack work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds spent in user space and in the kernel."""

    user_s: float = 0.0
    sys_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.user_s + self.sys_s

    def __add__(self, other: CpuSplit) -> CpuSplit:
        return CpuSplit(self.user_s + other.user_s, self.sys_s + other.sys_s)

    def __sub__(self, other: CpuSplit) -> CpuSplit:
        return CpuSplit(self.user_s - other.user_s, self.sys_s - other.sys_s)


def parse_stat_times(text: str, clk_tck: int = CLK_TCK) -> CpuSplit:
    """``utime`` and ``stime`` (fields 14 and 15) of a ``/proc/<pid>/stat`` line, in seconds.

    The command name (field 2) may hold spaces and parentheses: fields are counted after its
    last ``)``.
    """
    fields = text[text.rindex(")") + 2 :].split()
    return CpuSplit(int(fields[11]) / clk_tck, int(fields[12]) / clk_tck)


def cpu_split_of(pids: Sequence[int]) -> CpuSplit:
    """User and system CPU of processes, summed (a process that ended counts nothing)."""
    total = CpuSplit()
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += parse_stat_times(Path(f"/proc/{pid}/stat").read_text())
    return total


def self_cpu_split() -> CpuSplit:
    """This process's user and system CPU (all its threads)."""
    times = os.times()
    return CpuSplit(times.user, times.system)


@dataclass(frozen=True)
class Cores:
    """CPU over a phase as cores (CPU seconds per second), user and system apart."""

    user: float
    sys: float

    @property
    def total(self) -> float:
        return self.user + self.sys

    @property
    def sys_share(self) -> float:
        """The kernel's share of the CPU (0 when there was none)."""
        return self.sys / self.total if self.total else 0.0


def cores_between(first: CpuSplit, last: CpuSplit, seconds: float) -> Cores:
    """Cores used between two readings ``seconds`` apart."""
    spent = last - first
    return Cores(spent.user_s / seconds, spent.sys_s / seconds)


def parse_machine_busy(text: str, clk_tck: int = CLK_TCK) -> float:
    """CPU seconds the whole machine spent busy (every state but idle and iowait), from the
    ``cpu`` line of ``/proc/stat``: with the bench's own processes subtracted, what other
    work on a shared machine took."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            return (sum(ticks) - ticks[3] - ticks[4]) / clk_tck
    raise ValueError("no cpu line in /proc/stat")


def machine_busy_s() -> float:
    """:func:`parse_machine_busy` of this machine now."""
    return parse_machine_busy(Path("/proc/stat").read_text())
