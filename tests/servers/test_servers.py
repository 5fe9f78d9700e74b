"""The test servers work, checked from outside with net-snmp's own CLI tools (and raw sockets)."""

from __future__ import annotations

import asyncio
import errno
import os
import pwd
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from tests.servers.fixtures import ProxyFactory
from tests.servers.lifecycle import ServerStartError
from tests.servers.netns import NetnsHost, icmp_echo
from tests.servers.netsnmp import V3Auth, parse_varbinds, snmpbulkwalk, snmpget
from tests.servers.ports import free_tcp_port, free_udp_port, free_udp_port_pair
from tests.servers.snmpd import (
    IF_DESCR_OID,
    SYS_CONTACT_OID,
    SYS_LOCATION_OID,
    SYS_NAME_OID,
    Snmpd,
    SnmpdStartError,
    interface_exists,
    tap_interfaces,
)
from tests.servers.snmpsim import (
    SYS_OBJECT_ID_OID,
    Snmpsim,
    SnmpsimStartError,
    corpus_communities,
    delay_snmprec,
    snmprec_line,
)
from tests.servers.udpdelay import UdpDelayProxy

IOS_2960X = "cisco_ios/ios_2960x"
IOS_2960X_SYS_OBJECT_ID = "1.3.6.1.4.1.9.1.1208"
IF_HC_IN_OCTETS_1 = "1.3.6.1.2.1.31.1.1.1.6.1"
BIG_COUNTER64 = 18446744073709551000  # above 2**53: a float would lose it
SYS_DESCR_OID = "1.3.6.1.2.1.1.1.0"
SLOW_WAIT_MS = 400


def _value(result: subprocess.CompletedProcess[str], oid: str) -> str:
    """The value of ``oid`` in a successful net-snmp run."""
    assert result.returncode == 0, result.stderr
    return parse_varbinds(result.stdout)[oid].value


def _netns_names() -> list[str]:
    """Names of the network namespaces that exist now."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


# -- ports ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_free_ports_are_bindable(host: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.bind((host, free_udp_port(host)))
    with socket.socket(family, socket.SOCK_STREAM) as tcp:
        tcp.bind((host, free_tcp_port(host)))


def test_free_udp_port_pair_is_free_on_both_families() -> None:
    port = free_udp_port_pair()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as v4:
        v4.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as v6:
            v6.bind(("::1", port))


# -- snmpd ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_snmpd_serves_known_system_values_over_v2c(snmpd_server: Snmpd, host: str) -> None:
    result = snmpget(
        host,
        snmpd_server.port,
        [SYS_NAME_OID, SYS_LOCATION_OID, SYS_CONTACT_OID],
        community=snmpd_server.community,
    )
    assert _value(result, SYS_NAME_OID) == snmpd_server.sys_name == "chm-test-snmpd"
    assert _value(result, SYS_LOCATION_OID) == snmpd_server.sys_location
    assert _value(result, SYS_CONTACT_OID) == snmpd_server.sys_contact


def test_snmpd_ignores_a_wrong_community(snmpd_server: Snmpd) -> None:
    result = snmpget(snmpd_server.host, snmpd_server.port, [SYS_NAME_OID], community="wrong")
    assert result.returncode != 0
    assert "Timeout" in result.stderr


def test_snmpd_has_one_v3_user_per_level_and_algorithm(snmpd_server: Snmpd) -> None:
    protocols = {
        (auth.level, auth.auth_proto, auth.priv_proto) for auth in snmpd_server.users.values()
    }
    assert protocols == {
        ("noAuthNoPriv", None, None),
        ("authNoPriv", "MD5", None),
        ("authNoPriv", "SHA", None),
        ("authNoPriv", "SHA256", None),
        ("authPriv", "SHA", "DES"),
        ("authPriv", "SHA", "AES"),
        ("authPriv", "SHA256", "AES256"),
    }
    for auth in snmpd_server.users.values():
        assert all(len(pw) >= 8 for pw in (auth.auth_pw, auth.priv_pw) if pw is not None)


@pytest.mark.parametrize(
    "user", ["chm_noauth", "chm_md5", "chm_sha", "chm_sha256", "chm_des", "chm_aes", "chm_aes256"]
)
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_snmpd_v3_user_reads_sys_name(snmpd_server: Snmpd, user: str, host: str) -> None:
    result = snmpget(host, snmpd_server.port, [SYS_NAME_OID], v3=(user, snmpd_server.users[user]))
    assert _value(result, SYS_NAME_OID) == snmpd_server.sys_name


@pytest.mark.parametrize(
    "user", ["chm_md5", "chm_sha", "chm_sha256", "chm_des", "chm_aes", "chm_aes256"]
)
def test_snmpd_v3_wrong_auth_password_fails(snmpd_server: Snmpd, user: str) -> None:
    wrong = snmpd_server.users[user]._replace(auth_pw="not-the-password")
    result = snmpget(snmpd_server.host, snmpd_server.port, [SYS_NAME_OID], v3=(user, wrong))
    assert result.returncode != 0
    assert "Authentication failure" in result.stderr


@pytest.mark.parametrize("user", ["chm_des", "chm_aes", "chm_aes256"])
def test_snmpd_v3_wrong_priv_password_gets_no_answer(snmpd_server: Snmpd, user: str) -> None:
    wrong = snmpd_server.users[user]._replace(priv_pw="not-the-password")
    result = snmpget(snmpd_server.host, snmpd_server.port, [SYS_NAME_OID], v3=(user, wrong))
    assert result.returncode != 0
    assert "Timeout" in result.stderr


def test_snmpd_v3_unknown_user_and_wrong_algorithm_fail(snmpd_server: Snmpd) -> None:
    unknown = snmpget(
        snmpd_server.host, snmpd_server.port, [SYS_NAME_OID],
        v3=("chm_nobody", V3Auth(None, None, None, None)),
    )  # fmt: skip
    assert "Unknown user name" in unknown.stderr
    md5_for_sha = snmpd_server.users["chm_sha"]._replace(auth_proto="MD5")
    wrong_algo = snmpget(
        snmpd_server.host, snmpd_server.port, [SYS_NAME_OID], v3=("chm_sha", md5_for_sha)
    )
    assert "Authentication failure" in wrong_algo.stderr


def test_snmpd_extra_conf_is_applied_and_var_lib_snmp_untouched() -> None:
    var_lib = Path("/var/lib/snmp")
    before = (
        sorted((p.name, p.stat().st_mtime_ns) for p in var_lib.iterdir())
        if var_lib.exists()
        else []
    )
    with Snmpd(ipv6=False, extra_conf="sysDescr CHM extra conf line\n") as agent:
        result = snmpget(agent.host, agent.port, [SYS_DESCR_OID], community=agent.community)
        assert _value(result, SYS_DESCR_OID) == "CHM extra conf line"
        workdir = agent.workdir
        assert "persistentDir" in agent.conf_path.read_text()
    after = (
        sorted((p.name, p.stat().st_mtime_ns) for p in var_lib.iterdir())
        if var_lib.exists()
        else []
    )
    assert after == before
    assert not workdir.exists()


def test_snmpd_that_cannot_bind_raises_with_its_log() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        with pytest.raises(SnmpdStartError, match="Error opening specified endpoint"):
            Snmpd(port=port, ipv6=False, start_timeout=5).start()


class _RacedSnmpd(Snmpd):
    """An Snmpd whose first picked port is taken by someone else before snmpd binds it."""

    def __init__(self, taken: int) -> None:
        super().__init__(ipv6=False, start_timeout=5)
        self.taken = taken
        self.tried: list[int] = []

    def _pick_port(self) -> int:
        port = super()._pick_port() if self.tried else self.taken
        self.tried.append(port)
        return port


def test_a_start_that_lost_its_port_is_retried_on_another() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        with _RacedSnmpd(taken) as agent:
            assert agent.tried[0] == taken
            assert len(agent.tried) == 2
            assert agent.port == agent.tried[1] != taken
            assert agent.answers()
    agent.stop()  # a second stop does nothing
    with pytest.raises(RuntimeError, match="not started"):
        _ = agent.workdir


def test_snmpd_lists_a_hundred_tap_interfaces() -> None:
    with tap_interfaces(100) as names, Snmpd(ipv6=False) as agent:
        assert all(interface_exists(name) for name in names)
        walk = snmpbulkwalk(agent.host, agent.port, IF_DESCR_OID, community=agent.community)
        assert walk.returncode == 0, walk.stderr
        descriptions = {vb.value for oid, vb in parse_varbinds(walk.stdout).items()
                        if oid.startswith(IF_DESCR_OID + ".")}  # fmt: skip
        assert set(names) <= descriptions
        assert len(descriptions) >= 100
    assert not any(interface_exists(name) for name in names)


# -- snmpsim ----------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_snmpsim_serves_ios_2960x_sys_object_id(snmpsim_server: Snmpsim, host: str) -> None:
    result = snmpget(host, snmpsim_server.port, [SYS_OBJECT_ID_OID], community=IOS_2960X)
    assert _value(result, SYS_OBJECT_ID_OID) == IOS_2960X_SYS_OBJECT_ID


def test_snmpsim_serves_every_corpus_device(snmpsim_server: Snmpsim) -> None:
    assert snmpsim_server.communities == corpus_communities()
    assert len(snmpsim_server.communities) >= 29
    silent = [
        community
        for community in snmpsim_server.communities
        if not snmpsim_server.answers(community)
    ]
    assert silent == []


def test_snmpsim_data_is_a_world_readable_copy(snmpsim_server: Snmpsim) -> None:
    data = snmpsim_server.data_dir
    files = list(data.rglob("*.snmprec"))
    assert len(files) == len(snmpsim_server.communities)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in files)
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o755 for d in [data, *data.rglob("*/")])
    assert snmpsim_server.cache_dir.stat().st_uid == (
        pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    )


def test_snmpsim_ignores_an_unknown_community(snmpsim_server: Snmpsim) -> None:
    result = snmpget(snmpsim_server.host, snmpsim_server.port, [SYS_OBJECT_ID_OID],
                     community="no/such/device")  # fmt: skip
    assert "Timeout" in result.stderr


def test_snmpsim_ios_2960x_walks_its_interfaces(snmpsim_server: Snmpsim) -> None:
    walk = snmpbulkwalk(snmpsim_server.host, snmpsim_server.port, IF_DESCR_OID,
                        community=IOS_2960X)  # fmt: skip
    descriptions = [vb.value for vb in parse_varbinds(walk.stdout).values()]
    assert any(d.startswith("GigabitEthernet") for d in descriptions), descriptions[:5]


def test_snmpsim_missing_venv_says_run_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHM_SNMPSIM_VENV", "/nonexistent/chm-snmpsim")
    with pytest.raises(SnmpsimStartError, match=r"run scripts/setup\.sh"):
        Snmpsim(data_files=[IOS_2960X]).start()


@pytest.fixture(scope="module")
def synthetic_snmpsim() -> Iterator[Snmpsim]:
    """A subset of the corpus plus a Counter64 device and a slow one."""
    slow = delay_snmprec(
        snmprec_line(SYS_DESCR_OID, 4, "slow, agent = yes")
        + snmprec_line(SYS_OBJECT_ID_OID, 6, "1.3.6.1.4.1.8072.3.2.10")
        + snmprec_line("1.3.6.1.2.1.2.2.1.6.1", "4x", "00a0c9123456"),
        SLOW_WAIT_MS,
        oid_prefixes=[SYS_DESCR_OID],
    )
    extra = {
        "synthetic/counter64": snmprec_line(IF_HC_IN_OCTETS_1, 70, BIG_COUNTER64),
        "synthetic/slow": slow,
    }
    with Snmpsim(data_files=[IOS_2960X], extra_files=extra) as sim:
        yield sim


@pytest.mark.corpus
def test_snmpsim_subset_serves_only_what_was_asked(synthetic_snmpsim: Snmpsim) -> None:
    assert synthetic_snmpsim.communities == [IOS_2960X, "synthetic/counter64", "synthetic/slow"]
    assert synthetic_snmpsim.answers(IOS_2960X)
    assert not synthetic_snmpsim.answers("juniper_junos/junos_srx3600")


@pytest.mark.corpus
def test_snmpsim_synthetic_counter64_above_2_pow_53(synthetic_snmpsim: Snmpsim) -> None:
    result = snmpget(synthetic_snmpsim.host, synthetic_snmpsim.port, [IF_HC_IN_OCTETS_1],
                     community="synthetic/counter64")  # fmt: skip
    varbind = parse_varbinds(result.stdout)[IF_HC_IN_OCTETS_1]
    assert varbind.type == "Counter64"
    assert int(varbind.value) == BIG_COUNTER64


@pytest.mark.corpus
def test_snmpsim_delay_variation_makes_a_slow_device(synthetic_snmpsim: Snmpsim) -> None:
    host, port = synthetic_snmpsim.host, synthetic_snmpsim.port
    started = time.monotonic()
    slow = snmpget(host, port, [SYS_DESCR_OID], community="synthetic/slow", timeout=3)
    slow_elapsed = time.monotonic() - started
    assert _value(slow, SYS_DESCR_OID) == "slow, agent = yes"
    assert slow_elapsed >= SLOW_WAIT_MS / 1000
    started = time.monotonic()
    fast = snmpget(host, port, [SYS_OBJECT_ID_OID, "1.3.6.1.2.1.2.2.1.6.1"],
                   community="synthetic/slow")  # fmt: skip
    assert time.monotonic() - started < SLOW_WAIT_MS / 1000
    assert _value(fast, SYS_OBJECT_ID_OID) == "1.3.6.1.4.1.8072.3.2.10"
    assert parse_varbinds(fast.stdout)["1.3.6.1.2.1.2.2.1.6.1"].value.split() == [
        "00", "A0", "C9", "12", "34", "56",
    ]  # fmt: skip


def test_delay_snmprec_keeps_hex_and_awkward_values_intact() -> None:
    records = "1.3.6.1.2.1.1.1.0|4|a,b=c\n1.3.6.1.2.1.1.3.0|67|100\n1.3.6.1.2.1.1.9.0|4x|ff00\n"
    assert delay_snmprec(records, 50).splitlines() == [
        "1.3.6.1.2.1.1.1.0|4:delay|hexvalue=612c623d63,wait=50",
        "1.3.6.1.2.1.1.3.0|67:delay|value=100,wait=50",
        "1.3.6.1.2.1.1.9.0|4:delay|hexvalue=ff00,wait=50",
    ]


# -- UDP delay proxy --------------------------------------------------------------------------
def test_udp_delay_proxy_delays_snmpd_replies(
    snmpd_server: Snmpd, udp_delay_proxy: ProxyFactory
) -> None:
    proxy = udp_delay_proxy(snmpd_server.host, snmpd_server.port, 0.25)
    started = time.monotonic()
    result = snmpget("127.0.0.1", proxy.port, [SYS_NAME_OID], community="public", timeout=2)
    elapsed = time.monotonic() - started
    assert _value(result, SYS_NAME_OID) == snmpd_server.sys_name
    assert elapsed >= 0.25
    assert (proxy.requests, proxy.replies) == (1, 1)


def test_udp_delay_proxy_v3_through_the_proxy(
    snmpd_server: Snmpd, udp_delay_proxy: ProxyFactory
) -> None:
    proxy = udp_delay_proxy(snmpd_server.host, snmpd_server.port, 0.05)
    result = snmpget("127.0.0.1", proxy.port, [SYS_NAME_OID],
                     v3=("chm_aes256", snmpd_server.users["chm_aes256"]), timeout=2)  # fmt: skip
    assert _value(result, SYS_NAME_OID) == snmpd_server.sys_name


def test_udp_delay_proxy_can_drop_every_reply(snmpd_server: Snmpd) -> None:
    with UdpDelayProxy(snmpd_server.host, snmpd_server.port, 0.0, drop_replies=True) as proxy:
        result = snmpget("127.0.0.1", proxy.port, [SYS_NAME_OID], community="public")
        assert "Timeout" in result.stderr
        assert proxy.requests == 1
        assert proxy.replies == 0


def test_udp_delay_proxy_on_a_taken_port_raises_and_stops(snmpd_server: Snmpd) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        proxy = UdpDelayProxy(snmpd_server.host, snmpd_server.port, 0.0, listen_port=taken)
        with pytest.raises(ServerStartError, match=r"UDP delay proxy failed: .*in use"):
            proxy.start()
    assert not any(t.name == "udp-delay-proxy" and t.is_alive() for t in threading.enumerate())


class _Echo(asyncio.DatagramProtocol):
    """A UDP echo server."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


async def _ask(port: int, payload: bytes) -> tuple[bytes, float]:
    """Send ``payload`` to 127.0.0.1:port from a fresh socket; return reply and elapsed time."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    class _Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            queue.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(_Client, remote_addr=("127.0.0.1", port))
    started = time.monotonic()
    try:
        transport.sendto(payload)
        reply = await asyncio.wait_for(queue.get(), 2)
        return reply, time.monotonic() - started
    finally:
        transport.close()


async def _concurrent_clients_through_proxy(
    clients: int, delay: float
) -> tuple[list[bytes], list[float], float]:
    """Echo server behind an async proxy; ``clients`` concurrent clients; replies and timings."""
    loop = asyncio.get_running_loop()
    echo, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
    try:
        echo_port = echo.get_extra_info("sockname")[1]
        async with UdpDelayProxy("127.0.0.1", echo_port, delay) as proxy:
            started = time.monotonic()
            results = await asyncio.gather(*(_ask(proxy.port, b"c%d" % i) for i in range(clients)))
            wall = time.monotonic() - started
        return [r for r, _ in results], [t for _, t in results], wall
    finally:
        echo.close()


def test_udp_delay_proxy_async_holds_each_reply_concurrently() -> None:
    replies, elapsed, wall = asyncio.run(_concurrent_clients_through_proxy(20, 0.2))
    assert replies == [b"c%d" % i for i in range(20)]
    assert min(elapsed) >= 0.2
    assert wall < 0.2 * 3  # held side by side, not one after another (20 x 0.2 s = 4 s)


# -- network namespaces -----------------------------------------------------------------------
def test_blackhole_netns_drops_pings(blackhole_netns: NetnsHost) -> None:
    assert blackhole_netns.silent
    assert blackhole_netns.sysctl("net.ipv4.icmp_echo_ignore_all") == "1"
    assert not icmp_echo(blackhole_netns.address, timeout=1.0)


def test_answering_netns_answers_pings(answering_netns: NetnsHost) -> None:
    assert not answering_netns.silent
    assert icmp_echo(answering_netns.address, timeout=1.0)


def _udp_probe(address: str) -> int:
    """Send one datagram to a closed port: 0 on silence, else the errno the host caused."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.connect((address, 161))
        sock.send(b"probe")
        try:
            sock.recv(64)
        except TimeoutError:
            return 0
        except OSError as exc:
            return exc.errno or -1
        return -1


def test_blackhole_netns_is_silent_on_udp_and_tcp(blackhole_netns: NetnsHost) -> None:
    assert _udp_probe(blackhole_netns.address) == 0  # no ICMP port unreachable either
    with pytest.raises(TimeoutError):
        socket.create_connection((blackhole_netns.address, 22), timeout=1.0).close()


def test_answering_netns_refuses_closed_ports(answering_netns: NetnsHost) -> None:
    assert _udp_probe(answering_netns.address) == errno.ECONNREFUSED
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((answering_netns.address, 22), timeout=1.0).close()


@pytest.mark.skipif(shutil.which("ping") is None, reason="iputils-ping is not installed")
def test_ping_binary_agrees(blackhole_netns: NetnsHost, answering_netns: NetnsHost) -> None:
    def ping(address: str) -> int:
        return subprocess.run(
            ["ping", "-c1", "-W1", address], capture_output=True, check=False
        ).returncode

    assert ping(answering_netns.address) == 0
    assert ping(blackhole_netns.address) != 0


def test_netns_is_removed_after_use() -> None:
    from tests.servers.netns import blackhole_netns

    with blackhole_netns() as host:
        assert host.name in _netns_names()
        assert interface_exists(host.root_link)
    assert host.name not in _netns_names()
    assert not interface_exists(host.root_link)
