"""The hostile agent itself: its BER is right (net-snmp's tools read its well-behaved answers),
and each misbehaviour is what it says."""

import asyncio
import random
import shutil
from collections.abc import AsyncIterator

import pytest

from tests.servers.ber import (
    COUNTER64,
    END_OF_MIB_VIEW,
    GET,
    GETBULK,
    GETNEXT,
    NO_SUCH_OBJECT,
    RESPONSE,
    Int,
    Raw,
    Value,
    decode_message,
    encode_message,
)
from tests.servers.hostile_agent import BEHAVIOURS, MIB, HostileAgent, mutate


@pytest.fixture
async def agent() -> AsyncIterator[HostileAgent]:
    async with HostileAgent() as running:
        yield running


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)


async def _ask(
    agent: HostileAgent,
    community: str,
    pdu: int,
    oids: list[str],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
    wait: float = 0.2,
) -> list[bytes]:
    """Send one request; return every datagram that came back within `wait` seconds."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Collector, remote_addr=("127.0.0.1", agent.port)
    )
    varbinds: list[tuple[str, Value]] = [(o, None) for o in oids]
    request = encode_message(
        1, community.encode(), pdu, 4711, non_repeaters, max_repetitions, varbinds
    )
    transport.sendto(request)
    await asyncio.sleep(wait)
    transport.close()
    return proto.received


@pytest.mark.parametrize(
    "value",
    [Int(0), Int(-1), Int(2**31 - 1), Int(-(2**31)), Int(2**64 - 1, COUNTER64), b"", b"z" * 300],
)
def test_ber_round_trip(value: Value) -> None:
    data = encode_message(1, b"c", RESPONSE, 2**31 - 1, 0, 0, [("1.3.6.1.2.1.1.1.0", value)])
    msg = decode_message(data)
    assert (msg.version, msg.community, msg.pdu_type, msg.request_id) == (
        1,
        b"c",
        RESPONSE,
        2**31 - 1,
    )
    assert msg.varbinds == [("1.3.6.1.2.1.1.1.0", value)]


async def _run(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.mark.parametrize("tool", ["snmpwalk", "snmpbulkwalk"])
async def test_net_snmp_walks_the_well_behaved_community(agent: HostileAgent, tool: str) -> None:
    assert shutil.which(tool), f"{tool} is installed by scripts/setup.sh (package snmp)"
    code, out = await _run(
        tool, "-v2c", "-c", "normal", "-On", "-t", "1", "-r", "0",
        f"127.0.0.1:{agent.port}", "1.3.6.1.2.1",
    )  # fmt: skip
    assert code == 0, out
    lines = [line for line in out.splitlines() if " = " in line and "No more" not in line]
    assert len(lines) == len(MIB)
    assert '.1.3.6.1.2.1.2.2.1.2.3 = STRING: "eth3"' in lines
    assert ".1.3.6.1.2.1.31.1.1.1.6.2 = Counter64: 2000" in lines
    assert ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.8072.3.2.10" in lines


async def test_net_snmp_sees_nonincreasing_oids(agent: HostileAgent) -> None:
    _code, out = await _run(
        "snmpwalk", "-v2c", "-c", "nonincreasing", "-On", "-t", "1", "-r", "0",
        f"127.0.0.1:{agent.port}", "1.3.6.1.2.1.2",
    )  # fmt: skip
    assert "OID not increasing" in out


async def test_endless_table_keeps_growing_inside_the_subtree(agent: HostileAgent) -> None:
    oid = "1.3.6.1.2.1.2.2.1.2"
    seen: list[str] = []
    for _ in range(5):
        replies = await _ask(agent, "endless", GETBULK, [oid], 0, 10, wait=0.05)
        assert len(replies) == 2
        reply = replies[0]
        varbinds = decode_message(reply).varbinds
        assert len(varbinds) == 10
        seen.extend(o for o, _ in varbinds)
        oid = varbinds[-1][0]
    keys = [tuple(int(p) for p in o.split(".")) for o in seen]
    assert keys == sorted(set(keys))
    assert all(o.startswith("1.3.6.1.2.1.2.2.1.2.") for o in seen)


async def test_getnext_ends_with_end_of_mib_view(agent: HostileAgent) -> None:
    (reply,) = await _ask(agent, "normal", GETNEXT, ["1.3.6.1.2.1.31.1.1.1.15.3"])
    assert decode_message(reply).varbinds[0][1] == Raw(END_OF_MIB_VIEW)


async def test_flood_answers_one_request_a_hundred_times(agent: HostileAgent) -> None:
    replies = await _ask(agent, "flood", GET, ["1.3.6.1.2.1.1.5.0"])
    assert len(replies) == 100
    ids = [decode_message(r).request_id for r in replies]
    assert ids.count(4711) == 50


@pytest.mark.parametrize(
    ("community", "pdu", "check"),
    [
        ("truncated", GET, lambda r: r == b"\x30\x84\x00"),
        ("empty_varbind", GET, lambda r: r.endswith(b"\x30\x02\x30\x00")),
        ("oversized", GET, lambda r: len(r) > 60_000),
        ("odd_bitstring", GETNEXT, lambda r: b"\x03" in r),
        ("empty_oid", GET, lambda r: b"\x06\x00" in r),
        ("wrong_id", GET, lambda r: decode_message(r).request_id != 4711),
        (
            "nosuch_in_getnext",
            GETNEXT,
            lambda r: decode_message(r).varbinds[0][1] == Raw(NO_SUCH_OBJECT),
        ),
    ],
)
async def test_each_misbehaviour_is_what_it_says(
    agent: HostileAgent, community: str, pdu: int, check: object
) -> None:
    (reply,) = await _ask(agent, community, pdu, ["1.3.6.1.2.1.1.5.0"])
    assert check(reply)  # type: ignore[operator]


async def test_silent_and_unknown_communities_get_nothing(agent: HostileAgent) -> None:
    assert await _ask(agent, "silent", GET, ["1.3.6.1.2.1.1.5.0"]) == []
    assert await _ask(agent, "no-such-behaviour", GET, ["1.3.6.1.2.1.1.5.0"]) == []
    assert agent.requests["silent"] == 1


def test_mutations_are_seeded_and_change_the_reply() -> None:
    reply = encode_message(1, b"c", RESPONSE, 1, 0, 0, [("1.3.6.1.2.1.1.5.0", b"hostile")])
    first = [mutate(reply, random.Random(3)) for _ in range(2)]
    assert first[0] == first[1]
    rng = random.Random(4)
    assert sum(mutate(reply, rng) != reply for _ in range(100)) >= 95


def test_every_behaviour_is_documented() -> None:
    import tests.servers.hostile_agent as module

    for name in BEHAVIOURS:
        assert f"``{name}``" in (module.__doc__ or ""), name
