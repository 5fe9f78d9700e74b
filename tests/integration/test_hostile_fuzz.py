"""≥ 5,000 hostile replies (every behaviour of the hostile agent and random mutations of real
replies) against an exporter process: no dropped answer, no late one, no internal error, RSS
and descriptors flat after the warm-up. The full run (100,000 replies, and the 10,000-probe
soak) is `python -m bench.hostile fuzz|soak`; CHM_FUZZ_REPLIES sets the count here."""

from __future__ import annotations

import os

import pytest

from bench.hostile import run

REPLIES = int(os.environ.get("CHM_FUZZ_REPLIES", "5000"))


@pytest.mark.slow
async def test_hostile_replies_never_drop_or_delay_an_answer() -> None:
    report = await run("fuzz", replies=REPLIES)
    print(report.text())
    assert report.hostile_replies >= REPLIES
    assert report.dropped == []
    assert report.bugs == []
    assert report.late == [], f"slowest {report.slowest:.3f}s"
    flat, figures = report.flat()
    assert flat, figures
    assert report.seconds < 60
