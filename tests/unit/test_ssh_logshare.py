"""With --web.workers the log counters of a device are one history, whichever worker scrapes."""

from __future__ import annotations

from pathlib import Path

from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.logs import LogMessage, count_new
from chm_exporter.ssh.sessions import SessionKey, SessionPool

KEY = SessionKey("192.0.2.1", 22, "netops", "cisco_ios")


def _buffer(*sequence: int) -> list[LogMessage]:
    return [LogMessage("error", "LINK", "UPDOWN", None, f"{n}") for n in sequence]


def _scrapes(pools: list[SessionPool]) -> list[int]:
    """Four scrapes of one device, the n-th by pools[n % len(pools)]: the totals seen."""
    records = [pool.new_device(KEY) for pool in pools]  # each worker's own record
    totals = []
    for n, buffer in enumerate([_buffer(1, 2), _buffer(1, 2, 3), _buffer(2, 3, 4, 5), _buffer(5)]):
        pool = pools[n % len(pools)]
        with pool.log_state(records[n % len(pools)]) as state:
            count_new(state, buffer)
            totals.append(state.totals[("error", "LINK", "UPDOWN")])
    return totals


def test_log_totals_are_one_history_across_workers(tmp_path: Path) -> None:
    alone = _scrapes([SessionPool(SelfMetrics("test").ssh)])
    assert alone == [0, 1, 3, 3]  # the baseline, then new messages only
    workers = [SessionPool(SelfMetrics("test").ssh, workers_dir=tmp_path) for _ in range(2)]
    assert _scrapes(workers) == alone
    # Without the shared directory each worker keeps its own history: the series would jump.
    apart = [SessionPool(SelfMetrics("test").ssh) for _ in range(2)]
    assert _scrapes(apart) != alone
