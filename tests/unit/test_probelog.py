"""The probe log formats its lines when they are read, as they would have read when logged,
and keeps no reference to an argument that is not an immutable primitive."""

from __future__ import annotations

import gc
import logging
import re
import weakref

import pytest

from chm_exporter.probelog import ProbeLog

LINE = re.compile(r"^ +\d+\.\d{4}s (DEBUG|INFO |WARNING|ERROR) (.*)$")


class _Held:
    def __repr__(self) -> str:
        return "<held object>"


def test_lines_read_as_the_arguments_format_at_the_call() -> None:
    log = ProbeLog("192.0.2.1", "auto")
    columns = ["a"]
    log.debug("plain %d%% of %s", 50, "it")
    log.info("%s: %.3fs %r %s %s", "x", 0.12345, "q", None, True)
    log.warning("no args, a literal %s stays")
    log.error("list %s", columns)
    columns.append("b")  # changed after the call: the line shows it as it was
    lines = log.lines
    assert [LINE.match(line).groups() for line in lines] == [  # type: ignore[union-attr]
        ("DEBUG", "plain 50% of it"),
        ("INFO ", "x: 0.123s 'q' None True"),
        ("WARNING", "no args, a literal %s stays"),
        ("ERROR", "list ['a']"),
    ]
    assert log.text() == "\n".join(lines) + "\n"
    assert ProbeLog("t", "m").text() == ""


def test_a_non_primitive_argument_is_not_kept() -> None:
    log = ProbeLog("192.0.2.1", "auto")
    held = _Held()
    ref = weakref.ref(held)
    log.debug("socket %s", held)
    del held
    gc.collect()
    assert ref() is None
    assert log.lines[0].endswith("DEBUG socket <held object>")


def test_lines_go_to_the_process_log_when_its_level_is_enabled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = ProbeLog("192.0.2.1", "auto")
    with caplog.at_level(logging.INFO, logger="chm_exporter.probe"):
        log.debug("hidden %d", 1)
        log.info("shown %d of %s", 2, "three")
    assert [r.getMessage() for r in caplog.records] == ["shown 2 of three"]
    assert caplog.records[0].probe_target == "192.0.2.1"  # type: ignore[attr-defined]
