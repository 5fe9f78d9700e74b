"""Session pool bookkeeping without a device: records dropped by the device cache close their
sessions; failure reasons."""

from __future__ import annotations

import pytest
from asyncssh import HostKeyNotVerifiable, PermissionDenied
from scrapli.exceptions import ScrapliAuthenticationFailed, ScrapliConnectionError, ScrapliTimeout

from chm_exporter.devicecache import DeviceCache
from chm_exporter.selfmetrics import SelfMetrics
from chm_exporter.ssh.config import SshAuth, SshSettings
from chm_exporter.ssh.driver import failure_reason
from chm_exporter.ssh.profile import load_cli_profile
from chm_exporter.ssh.sessions import DeviceSession, SessionKey, SessionPool


class _Driver:
    """Stands in for a logged-in scrapli driver: alive until its transport is closed."""

    def __init__(self) -> None:
        self.closed = False

    def isalive(self) -> bool:
        return not self.closed

    @property
    def transport(self) -> _Driver:
        return self

    def close(self) -> None:
        self.closed = True


def _open_session(pool: SessionPool, host: str) -> tuple[DeviceSession, _Driver]:
    """A device record holding a (stand-in) session, as after a login."""
    entry = pool.new_device(SessionKey(host, 22, "netops", "cisco_iosxe"))
    driver = _Driver()
    entry.driver = driver  # type: ignore[assignment]
    pool._sessions[entry] = None
    pool._open += 1
    pool.metrics.open.inc()
    return entry, driver


def _get(cache: DeviceCache, entry: DeviceSession) -> DeviceSession:
    return cache.get("ssh", DeviceSession, entry.key.host, new=lambda: entry)


def test_a_device_dropped_from_the_cache_closes_its_session() -> None:
    pool = SessionPool(SelfMetrics("test").ssh)
    cache = DeviceCache(max_devices=1)
    one, one_driver = _open_session(pool, "192.0.2.1")
    two, two_driver = _open_session(pool, "192.0.2.2")
    assert _get(cache, one) is one
    assert _get(cache, two) is two  # one is the least recently used past the bound: dropped
    assert one_driver.closed
    assert one.driver is None
    assert not two_driver.closed
    assert pool.open_sessions == 1


async def test_a_device_dropped_in_use_closes_its_session_after_the_probe() -> None:
    pool = SessionPool(SelfMetrics("test").ssh)
    entry, driver = _open_session(pool, "192.0.2.1")
    settings = SshSettings(auth="lab", platform="cisco_iosxe")
    auth = SshAuth(username="netops", password="x")
    profile = load_cli_profile("cisco_iosxe")
    async with pool.session(entry, settings, auth, profile) as (_, reused):
        assert reused
        entry.evicted()  # the cache dropped it meanwhile
        assert not driver.closed  # the probe goes on with its session
    assert driver.closed
    assert pool.open_sessions == 0


def test_an_unused_device_expires_and_closes_its_session(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("chm_exporter.devicecache.time.monotonic", lambda: clock[0])
    pool = SessionPool(SelfMetrics("test").ssh)
    cache = DeviceCache(ttl=600)
    busy, busy_driver = _open_session(pool, "192.0.2.1")
    idle, idle_driver = _open_session(pool, "192.0.2.2")
    _get(cache, busy)
    _get(cache, idle)
    for _ in range(3):  # scraped every 5 minutes: kept past the TTL since its creation
        clock[0] += 300
        assert _get(cache, busy) is busy
    assert not busy_driver.closed
    assert idle_driver.closed  # not asked for 900 s: dropped when the cache looked at it
    assert len(cache) == 1


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
