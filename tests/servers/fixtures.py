"""pytest fixtures for the test servers; import them from a conftest (or register as a plugin).

- ``snmpsim_server`` (session): :class:`~tests.servers.snmpsim.Snmpsim` serving the whole
  corpus on 127.0.0.1 and ::1 (same port).
- ``snmpd_server`` (session): :class:`~tests.servers.snmpd.Snmpd` with its v3 users.
- ``blackhole_netns`` / ``answering_netns`` (function): :class:`~tests.servers.netns.NetnsHost`
  whose ``.address`` never answers / answers.
- ``udp_delay_proxy`` (function): a factory ``(upstream_host, upstream_port, delay) ->``
  :class:`~tests.servers.udpdelay.UdpDelayProxy` running in a background thread; every proxy it
  made is stopped at teardown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.servers import netns as _netns
from tests.servers.snmpd import Snmpd
from tests.servers.snmpsim import Snmpsim
from tests.servers.udpdelay import UdpDelayProxy

__all__ = [
    "answering_netns",
    "blackhole_netns",
    "snmpd_server",
    "snmpsim_server",
    "udp_delay_proxy",
]

ProxyFactory = Callable[[str, int, float], UdpDelayProxy]


def _require_root(what: str) -> None:
    """Fail (not skip) with a clear message when not root: these tests are meant to run."""
    if os.geteuid() != 0:
        pytest.fail(f"{what} needs root (CAP_NET_ADMIN); the test suite runs as root")


@pytest.fixture(scope="session")
def snmpsim_server() -> Iterator[Snmpsim]:
    """snmpsim serving every corpus device; community = path below snmprec/ without suffix."""
    with Snmpsim(ipv6=True) as sim:
        yield sim


@pytest.fixture(scope="session")
def snmpd_server() -> Iterator[Snmpd]:
    """Debian's snmpd on 127.0.0.1 and ::1 with community ``public`` and the v3 users."""
    with Snmpd() as agent:
        yield agent


@pytest.fixture
def blackhole_netns() -> Iterator[_netns.NetnsHost]:
    """A host in a fresh namespace that answers nothing (ping, UDP, TCP all time out)."""
    _require_root("blackhole_netns")
    with _netns.blackhole_netns() as host:
        yield host


@pytest.fixture
def answering_netns() -> Iterator[_netns.NetnsHost]:
    """The same kind of host, answering normally (the control for ``blackhole_netns``)."""
    _require_root("answering_netns")
    with _netns.answering_netns() as host:
        yield host


@pytest.fixture
def udp_delay_proxy() -> Iterator[ProxyFactory]:
    """Factory of started delay proxies (background thread); all stopped at teardown."""
    proxies: list[UdpDelayProxy] = []

    def make(upstream_host: str, upstream_port: int, delay: float) -> UdpDelayProxy:
        proxy = UdpDelayProxy(upstream_host, upstream_port, delay).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()
