"""Session pool bookkeeping without a device: bounded device records, failure reasons."""

from __future__ import annotations

import asyncio

import pytest
from asyncssh import HostKeyNotVerifiable, PermissionDenied
from scrapli.exceptions import ScrapliAuthenticationFailed, ScrapliConnectionError, ScrapliTimeout

from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh import sessions
from chm_exporter.ssh.driver import failure_reason
from chm_exporter.ssh.sessions import SessionKey, SessionPool


async def test_device_records_are_bounded_but_one_in_use_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sessions, "MAX_DEVICES", 3)
    pool = SessionPool(SelfMetrics("test").ssh)
    keys = [SessionKey(f"192.0.2.{i}", 22, "netops", "linux") for i in range(5)]
    busy = pool.device(keys[0])
    await busy.lock.acquire()
    for key in keys[1:]:
        pool.device(key)
    assert pool.device(keys[0]) is busy  # in use: kept although least recently used
    assert [k.host for k in pool._devices] == ["192.0.2.3", "192.0.2.4", "192.0.2.0"]
    busy.lock.release()
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (HostKeyNotVerifiable("Host key is not trusted for host 192.0.2.1"), "host_key"),
        (ScrapliAuthenticationFailed("all authentication methods failed"), "auth"),
        (PermissionDenied("Permission denied"), "auth"),
        (ScrapliAuthenticationFailed("timed out opening connection to device"), "timeout"),
        (ScrapliTimeout("timed out sending input to device"), "timeout"),
        (ConnectionRefusedError(111, "Connect call failed"), "connection"),
        (ScrapliConnectionError("encountered EOF reading from transport"), "connection"),
        (RuntimeError("surprise"), "other"),
    ],
)
def test_failure_reasons(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc)[0] == reason
