"""Repeated log lines are rate-limited and counted; a malformed HTTP request logs one line."""

import io
import logging
import time

from aiohttp.http_exceptions import BadHttpMessage

from chm_exporter.lograte import LOG_RATE, RateLimitFilter
from chm_exporter.selfmetrics import SelfMetrics


def _logger(name: str, limit: RateLimitFilter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(limit)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_a_flood_of_one_error_writes_a_burst_then_says_how_many_were_left_out() -> None:
    limit = RateLimitFilter(burst=3, window=0.2)
    logger, out = _logger("test.flood", limit)
    for i in range(1000):
        logger.error("socket.accept() out of system resource (fd %d)", i)
    logger.info("info lines are never limited")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert limit.suppressed["test.flood"] == 997
    time.sleep(0.25)
    logger.error("socket.accept() out of system resource (fd %d)", 0)
    assert out.getvalue().splitlines()[-1].endswith("(997 similar lines left out before this one)")


def test_other_messages_have_their_own_budget() -> None:
    logger, out = _logger("test.kinds", RateLimitFilter(burst=1, window=60))
    for _ in range(5):
        logger.error("one kind")
        logger.warning("another kind %s", "x")
    assert out.getvalue().splitlines() == ["one kind", "another kind x"]


def test_malformed_http_request_is_one_line_without_traceback() -> None:
    logger, out = _logger("test.aiohttp", RateLimitFilter())
    try:
        raise BadHttpMessage("Invalid header value char")
    except BadHttpMessage as exc:
        logger.error("Error handling request from %s", "127.0.0.1", exc_info=exc)
    text = out.getvalue()
    assert text.count("\n") == 1
    assert "Traceback" not in text
    assert "BadHttpMessage: Invalid header value char" in text


def test_suppressed_lines_are_a_self_metric() -> None:
    logger, _ = _logger("test.metric", LOG_RATE)
    for _ in range(LOG_RATE.burst + 7):
        logger.error("the same line")
    from prometheus_client import generate_latest

    text = generate_latest(SelfMetrics("test").registry).decode()
    assert 'chm_exporter_log_messages_suppressed_total{logger="test.metric"} 7.0' in text
