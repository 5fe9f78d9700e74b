"""Counting new messages of a device's log buffer, scrape after scrape.

A log buffer shows the last N messages; a scrape sees most of them again. Each message is
fingerprinted by its whole parsed content (sequence number, time, facility, severity, mnemonic,
text); a message
is new when its fingerprint occurs more often now than in the previous scrape's buffer. So a
message is counted once, also when the buffer wraps (old messages drop out, which changes
nothing) and when the device reboots (its new messages carry new times).

The first scrape of a device (or the first after the exporter restarts) only sets the baseline:
its messages are not counted, and the counters start at 0 for each label set seen. A restart is
then an ordinary counter reset for Prometheus, never a burst of old messages.
"""

from __future__ import annotations

import calendar
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chm_exporter.catalogue import declared
from chm_exporter.exposition import MetricSink
from chm_exporter.ssh.emit import render
from chm_exporter.ssh.profile import LogRule

SEVERITIES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)
_ALIASES = {
    "emerg": "emergency",
    "crit": "critical",
    "err": "error",
    "warn": "warning",
    "info": "informational",
    "errors": "error",
    "warnings": "warning",
    "notifications": "notice",
    "critical": "critical",
}
MESSAGES = declared("chm_log_messages_total", ("severity", "facility", "mnemonic"), "counter")
LAST_MESSAGE = declared("chm_log_last_message_timestamp_seconds")


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One parsed log message."""

    severity: str
    facility: str
    mnemonic: str
    timestamp: float | None
    fingerprint: str


@dataclass
class LogState:
    """What the exporter remembers of one device's log buffer between scrapes."""

    seen: Counter[str] | None = None
    totals: dict[tuple[str, str, str], int] = field(default_factory=dict)


def severity_name(text: str) -> str:
    """A syslog severity (``2``, ``crit``, ``critical``) as its full lower-case name."""
    word = text.strip().lower()
    if word.isdigit() and int(word) < len(SEVERITIES):
        return SEVERITIES[int(word)]
    return _ALIASES.get(word, word if word in SEVERITIES else "unknown")


def parse_time(text: str, now: float | None = None) -> float | None:
    """A buffer timestamp (``Aug 14 13:04:09.111``, no year) as Unix time, read as UTC; the
    year is the current one, or the last one when that would put the message in the future.
    A time zone word after the clock is ignored; uptime stamps (``1d02h``) give None."""
    words = text.replace("*", "").lstrip(".").split()
    if len(words) < 3:
        return None
    month, day, clock = words[:3]
    fmt = "%Y %b %d %H:%M:%S.%f" if "." in clock else "%Y %b %d %H:%M:%S"
    now = time.time() if now is None else now
    year = time.gmtime(now).tm_year
    try:
        parsed = datetime.strptime(f"{year} {month} {day} {clock}", fmt)
    except ValueError:
        return None
    if calendar.timegm(parsed.timetuple()) > now + 86400:
        parsed = parsed.replace(year=year - 1)
    return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6


def messages(rule: LogRule, records: Iterable[Mapping[str, Any]]) -> list[LogMessage]:
    """Parsed log records as messages; records without a severity are continuation lines."""
    out = []
    for record in records:
        severity = render(rule.severity, record)
        if not severity:
            continue
        stamp_text = render(rule.timestamp, record)
        facility = render(rule.facility, record)
        mnemonic = render(rule.mnemonic, record)
        fingerprint = "\x1f".join(
            (
                render(rule.sequence, record),
                stamp_text,
                severity,
                facility,
                mnemonic,
                render(rule.text, record),
            )
        )
        out.append(
            LogMessage(
                severity_name(severity), facility, mnemonic, parse_time(stamp_text), fingerprint
            )
        )
    return out


def count_new(state: LogState, buffer: list[LogMessage]) -> int:
    """Add the messages of `buffer` not seen at the previous scrape to the state's totals;
    returns how many were new (0 on the first scrape, which only sets the baseline)."""
    now = Counter(m.fingerprint for m in buffer)
    first = state.seen is None
    previous = state.seen or Counter()
    emitted: Counter[str] = Counter()
    new = 0
    for message in buffer:
        key = (message.severity, message.facility, message.mnemonic)
        state.totals.setdefault(key, 0)
        if first:
            continue
        emitted[message.fingerprint] += 1
        if emitted[message.fingerprint] > previous[message.fingerprint]:
            state.totals[key] += 1
            new += 1
    state.seen = now
    return new


def emit_logs(state: LogState, buffer: list[LogMessage], sink: MetricSink) -> None:
    """The log counters and the newest message's time into `sink`."""
    family = sink.family(MESSAGES.name, MESSAGES.help, "counter", MESSAGES.labels)
    for key, total in state.totals.items():
        family.samples[key] = total
    stamps = [m.timestamp for m in buffer if m.timestamp is not None]
    if stamps:
        sink.add(LAST_MESSAGE.name, max(stamps), None, LAST_MESSAGE.help)
