"""A hostile SNMP v2c agent on loopback: every misbehaviour a broken or malicious device can
show, chosen per request by the community string, so one server serves them all at once.

The agent answers GET, GETNEXT and GETBULK. Its data is a small MIB (system group, three
interfaces in ifTable/ifXTable) that a well-behaved community (``normal``) serves correctly,
checked with net-snmp's ``snmpwalk``. The other communities (see :data:`BEHAVIOURS`):

- ``endless``: a table that never ends: every GETNEXT/GETBULK answer is a larger OID under the
  one asked for, each with a 200-byte string, at once and twice;
- ``nonincreasing`` / ``decreasing``: the answer repeats the OID asked for / goes back to the
  first row;
- ``flood``: 50 copies of each correct answer and 50 answers with other request ids;
- ``oversized``: answers of 60,000 bytes (gufo-snmp reads 4,080);
- ``truncated``: the three bytes ``30 84 00``; ``garbage``: random bytes;
- ``empty_varbind``: a response whose varbind is ``30 00``;
- ``odd_bitstring``: BIT STRING values wider than 64 bits;
- ``nosuch_in_getnext``: GETNEXT/GETBULK answers carrying noSuchObject (only GET may);
- ``empty_oid``: a GET answer whose varbind OID is empty;
- ``wrong_id``: the right answer under another request id; ``silent``: no answer;
- ``mutate``: a correct answer with random bytes changed, dropped, inserted or cut (seeded).

Use it in a test::

    async with HostileAgent() as agent:
        ...  # SNMP v2c to 127.0.0.1:agent.port, community "endless"

or as a process: ``python -m tests.servers.hostile_agent --port 16100``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections import Counter
from collections.abc import Callable

from tests.servers.ber import (
    BIT_STRING,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    GET,
    GETNEXT,
    NO_SUCH_OBJECT,
    RESPONSE,
    SEQUENCE,
    TIMETICKS,
    BerError,
    Int,
    Message,
    Raw,
    Value,
    decode_message,
    encode_message,
    encode_value,
    tlv,
)

__all__ = ["BEHAVIOURS", "MIB", "HostileAgent"]

Address = tuple[str, int]
_IF = "1.3.6.1.2.1.2.2.1"
_IFX = "1.3.6.1.2.1.31.1.1.1"
MIB: dict[str, Value] = {
    "1.3.6.1.2.1.1.1.0": b"hostile test agent",
    "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.8072.3.2.10",
    "1.3.6.1.2.1.1.3.0": Int(4242, TIMETICKS),
    "1.3.6.1.2.1.1.5.0": b"hostile",
    **{f"{_IF}.1.{i}": Int(i) for i in (1, 2, 3)},
    **{f"{_IF}.2.{i}": f"eth{i}".encode() for i in (1, 2, 3)},
    **{f"{_IF}.8.{i}": Int(1 if i < 3 else 2) for i in (1, 2, 3)},
    **{f"{_IFX}.1.{i}": f"eth{i}".encode() for i in (1, 2, 3)},
    **{f"{_IFX}.6.{i}": Int(1000 * i, COUNTER64) for i in (1, 2, 3)},
    **{f"{_IFX}.15.{i}": Int(1000, GAUGE32) for i in (1, 2, 3)},
}
_ENDLESS_MARK = 4242  # the row indexes the endless table makes up start with this sub-id


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split(".") if p)


_ORDER = sorted(MIB, key=_key)


def _next(oid: str) -> tuple[str, Value]:
    key = _key(oid)
    for candidate in _ORDER:
        if _key(candidate) > key:
            return candidate, MIB[candidate]
    return oid, Raw(END_OF_MIB_VIEW)


def _get(oid: str) -> Value:
    return MIB.get(oid, Raw(NO_SUCH_OBJECT))


def _answer_oids(msg: Message, step: Callable[[str], tuple[str, Value]]) -> list[tuple[str, Value]]:
    """The varbinds of a correct answer, with `step` as GETNEXT's successor function."""
    if msg.pdu_type == GET:
        return [(oid, _get(oid)) for oid, _ in msg.varbinds]
    if msg.pdu_type == GETNEXT:
        return [step(oid) for oid, _ in msg.varbinds]
    non_rep = max(0, msg.error_status)
    reps = max(0, min(msg.error_index, 200))
    out = [step(oid) for oid, _ in msg.varbinds[:non_rep]]
    current = [oid for oid, _ in msg.varbinds[non_rep:]]
    for _ in range(reps):
        row = [step(oid) for oid in current]
        out.extend(row)
        current = [oid for oid, _ in row]
    return out


def _response(
    msg: Message, varbinds: list[tuple[str, Value]], request_id: int | None = None
) -> bytes:
    rid = msg.request_id if request_id is None else request_id
    return encode_message(msg.version, msg.community, RESPONSE, rid, 0, 0, varbinds)


def _endless_step(oid: str) -> tuple[str, Value]:
    parts = _key(oid)
    nxt = (*parts[:-1], parts[-1] + 1) if _ENDLESS_MARK in parts[7:] else (*parts, _ENDLESS_MARK, 1)
    return ".".join(map(str, nxt)), b"x" * 200


def _normal(msg: Message, _rng: random.Random) -> list[bytes]:
    return [_response(msg, _answer_oids(msg, _next))]


def _endless(msg: Message, _rng: random.Random) -> list[bytes]:
    # Sent twice: a datagram always waits in the client's socket (where Python 3.11's
    # wait_for swallows a cancellation), as it does with a fast agent under load.
    return [_response(msg, _answer_oids(msg, _endless_step))] * 2


def _nonincreasing(msg: Message, _rng: random.Random) -> list[bytes]:
    return [_response(msg, _answer_oids(msg, lambda oid: (oid, Int(1))))]


def _decreasing(msg: Message, _rng: random.Random) -> list[bytes]:
    return [_response(msg, _answer_oids(msg, lambda oid: (_ORDER[0], MIB[_ORDER[0]])))]


def _flood(msg: Message, rng: random.Random) -> list[bytes]:
    right = _response(msg, _answer_oids(msg, _next))
    wrong = [_response(msg, _answer_oids(msg, _next), rng.randrange(1 << 31)) for _ in range(50)]
    return [right] * 50 + wrong


def _oversized(msg: Message, _rng: random.Random) -> list[bytes]:
    return [_response(msg, [(oid, b"y" * 60_000) for oid, _ in msg.varbinds[:1]])]


def _truncated(msg: Message, _rng: random.Random) -> list[bytes]:
    return [b"\x30\x84\x00"]


def _garbage(msg: Message, rng: random.Random) -> list[bytes]:
    return [rng.randbytes(rng.randrange(1, 200))]


def _empty_varbind(msg: Message, _rng: random.Random) -> list[bytes]:
    raw = tlv(SEQUENCE, b"\x30\x00")
    return [encode_message(msg.version, msg.community, RESPONSE, msg.request_id, 0, 0, [], raw)]


def _odd_bitstring(msg: Message, _rng: random.Random) -> list[bytes]:
    # A BIT STRING wider than 64 bits: gufo-snmp 0.13 panics on it.
    odd = Raw(BIT_STRING, b"\x00" + b"\xff" * 9)
    return [_response(msg, [(oid, odd) for oid, _ in _answer_oids(msg, _next)])]


def _nosuch_in_getnext(msg: Message, _rng: random.Random) -> list[bytes]:
    if msg.pdu_type == GET:
        return _normal(msg, _rng)
    return [_response(msg, [(o, Raw(NO_SUCH_OBJECT)) for o, _ in _answer_oids(msg, _next)])]


def _empty_oid(msg: Message, _rng: random.Random) -> list[bytes]:
    vbs = b"".join(tlv(SEQUENCE, b"\x06\x00" + encode_value(v)) for _, v in msg.varbinds)
    raw = tlv(SEQUENCE, vbs)
    return [encode_message(msg.version, msg.community, RESPONSE, msg.request_id, 0, 0, [], raw)]


def _wrong_id(msg: Message, _rng: random.Random) -> list[bytes]:
    return [_response(msg, _answer_oids(msg, _next), msg.request_id ^ 0x5A5A)]


def _silent(msg: Message, _rng: random.Random) -> list[bytes]:
    return []


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A reply with 1-4 random changes: a byte changed, dropped or inserted, or the end cut."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        pos = rng.randrange(len(out))
        kind = rng.randrange(4)
        if kind == 0:
            out[pos] = rng.randrange(256)
        elif kind == 1:
            del out[pos]
        elif kind == 2:
            out.insert(pos, rng.randrange(256))
        else:
            del out[pos:]
    return bytes(out)


def _mutate(msg: Message, rng: random.Random) -> list[bytes]:
    return [mutate(_normal(msg, rng)[0], rng)]


Behaviour = Callable[[Message, random.Random], list[bytes]]
BEHAVIOURS: dict[str, Behaviour] = {
    "normal": _normal,
    "endless": _endless,
    "nonincreasing": _nonincreasing,
    "decreasing": _decreasing,
    "flood": _flood,
    "oversized": _oversized,
    "truncated": _truncated,
    "garbage": _garbage,
    "empty_varbind": _empty_varbind,
    "odd_bitstring": _odd_bitstring,
    "nosuch_in_getnext": _nosuch_in_getnext,
    "empty_oid": _empty_oid,
    "wrong_id": _wrong_id,
    "silent": _silent,
    "mutate": _mutate,
}


class HostileAgent(asyncio.DatagramProtocol):
    """The agent (its own datagram protocol); counts requests and replies by behaviour."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 10) -> None:
        self.host = host
        self.requests: Counter[str] = Counter()
        self.replies: Counter[str] = Counter()
        self.undecodable = 0
        self._port = port
        self._rng = random.Random(seed)
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        """The UDP port it answers on (known once started)."""
        if self._transport is None:
            raise RuntimeError("the agent is not started")
        port: int = self._transport.get_extra_info("sockname")[1]
        return port

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Answer one request datagram as its community says."""
        try:
            msg = decode_message(data)
        except (BerError, IndexError, ValueError):
            self.undecodable += 1
            return
        name = msg.community.decode("ascii", "replace")
        behaviour = BEHAVIOURS.get(name, _silent)
        self.requests[name] += 1
        assert self._transport is not None
        for reply in behaviour(msg, self._rng):
            self.replies[name] += 1
            self._transport.sendto(reply, addr)

    async def start(self) -> HostileAgent:
        """Bind the socket on the running loop."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, self._port)
        )
        self._transport = transport
        return self

    async def stop(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()
            await asyncio.sleep(0)

    async def __aenter__(self) -> HostileAgent:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def _serve(host: str, port: int) -> None:
    async with HostileAgent(host, port) as agent:
        print(f"hostile agent on {host}:{agent.port}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=16100)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port))
