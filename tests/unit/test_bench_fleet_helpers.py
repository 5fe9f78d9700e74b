"""The fleet bench's pure helpers: /proc/<pid>/stat's CPU split, warm-up clamping, ratios."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.fleet import parse_args
from bench.fleetanchors import phase_value, ratio_rows, ratio_table
from bench.fleetcpu import (
    CpuSplit,
    cores_between,
    cpu_split_of,
    parse_machine_busy,
    parse_stat_times,
)

# A real line's shape; the command name holds a space and a parenthesis.
STAT = (
    "4242 (chm exp) (x)) S 1 4242 4242 0 -1 4194560 8210 0 0 0 "
    "1234 567 0 0 20 0 3 0 99 1000 2000 18446744073709551615"
)


def test_parse_stat_times_reads_utime_and_stime_after_the_command_name() -> None:
    assert parse_stat_times(STAT, clk_tck=100) == CpuSplit(user_s=12.34, sys_s=5.67)


def test_cpu_split_of_this_process_lies_between_two_os_times_readings() -> None:
    tick = 1 / os.sysconf("SC_CLK_TCK")
    before = os.times()
    mine = cpu_split_of([os.getpid()])
    after = os.times()
    assert before.user - tick <= mine.user_s <= after.user + tick
    assert before.system - tick <= mine.sys_s <= after.system + tick
    assert cpu_split_of([2**22 + 1]) == CpuSplit()  # above pid_max: no such process


def test_parse_machine_busy_counts_every_state_but_idle_and_iowait() -> None:
    stat = "cpu  100 5 40 900 30 2 3 10 0 0\ncpu0 50 2 20 450 15 1 1 5 0 0\nintr 12345\n"
    assert parse_machine_busy(stat, clk_tck=100) == pytest.approx((100 + 5 + 40 + 2 + 3 + 10) / 100)
    with pytest.raises(ValueError, match="no cpu line"):
        parse_machine_busy("intr 1\n")


def test_cores_between_splits_user_and_system_and_the_kernel_share() -> None:
    cores = cores_between(CpuSplit(10.0, 4.0), CpuSplit(16.0, 8.0), seconds=20.0)
    assert cores.user == pytest.approx(0.3)
    assert cores.sys == pytest.approx(0.2)
    assert cores.total == pytest.approx(0.5)
    assert cores.sys_share == pytest.approx(0.4)
    assert cores_between(CpuSplit(), CpuSplit(), 1.0).sys_share == 0.0


def test_a_warmup_shorter_than_the_interval_is_raised_to_it_and_said() -> None:
    args = parse_args(["--warmup", "10", "--interval", "60"])
    assert args.warmup == 60
    assert args.anchor_warmup == 60
    assert len(args.warmup_notes) == 1
    assert "--warmup 10 s raised" in args.warmup_notes[0]


def test_a_warmup_of_an_interval_or_more_is_kept() -> None:
    args = parse_args(["--warmup", "90", "--anchor-warmup", "75"])
    assert (args.warmup, args.anchor_warmup, args.warmup_notes) == (90, 75, [])


def test_quick_keeps_its_warmups_at_its_interval() -> None:
    args = parse_args(["--quick"])
    assert args.warmup >= args.interval
    assert args.anchor_warmup >= args.interval
    assert args.warmup_notes == []


def _phase(cores: float, sys: float, varbinds: float | None, rss: list[float]) -> dict[str, Any]:
    return {
        "snmp": {"success_ratio": 1.0, "wall_p50_ms": 20.0, "varbinds_mean": varbinds},
        "icmp": None,
        "exporter_cores": cores,
        "exporter_sys_cores": sys,
        "rss_mib": rss,
    }


def test_ratio_rows_divide_chm_by_the_anchor_and_skip_what_neither_has() -> None:
    chm = _phase(0.2, 0.05, 1200.0, [80.0, 84.5])
    anchor = _phase(0.4, 0.0, None, [30.0])
    rows = {label: (mine, theirs, ratio) for label, mine, theirs, ratio in ratio_rows(chm, anchor)}
    assert rows["exporter cores"] == pytest.approx((0.2, 0.4, 0.5))
    assert rows["RSS MiB (end)"] == pytest.approx((84.5, 30.0, 84.5 / 30.0))
    assert rows["  system (kernel)"] == (0.05, 0.0, None)  # nothing to divide by
    assert rows["varbinds per SNMP scrape"] == (1200.0, None, None)
    assert "ICMP success" not in rows  # neither phase probed ICMP
    assert rows["SNMP success"] == (1.0, 1.0, 1.0)


def test_phase_value_reads_nested_fields_and_absent_ones_as_none() -> None:
    phase = _phase(0.2, 0.05, 1200.0, [])
    assert phase_value(phase, "snmp.wall_p50_ms") == 20.0
    assert phase_value(phase, "icmp.wall_p50_ms") is None
    assert phase_value(phase, "rss_end_mib") is None
    assert phase_value(phase, "no_such_field") is None


def test_ratio_table_is_markdown_with_one_row_per_metric() -> None:
    rows = ratio_rows(_phase(0.2, 0.05, 1200.0, [84.5]), _phase(0.4, 0.1, 1800.0, [30.0]))
    table = ratio_table("chm if_mib", "anchors", rows).splitlines()
    assert table[0] == "| | chm if_mib | anchors | CHM / anchor |"
    assert len(table) == 2 + len(rows)
    assert "| exporter cores | 0.200 | 0.400 | 0.50x |" in table
    assert "| SNMP success | 100.000% | 100.000% | 1.00x |" in table
