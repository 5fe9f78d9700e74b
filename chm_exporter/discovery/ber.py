"""The two SNMP messages a sweep sends, and the one field it reads back.

A sweep asks thousands of addresses one question each, from one socket, so it builds the
request bytes itself instead of opening a client session (and a socket) per address:

- SNMPv1/v2c: ``GetRequest sysObjectID.0`` with the auth's community; an agent answers only a
  community it knows (net-snmp, snmpsim and most devices drop the others silently).
- SNMPv3: the USM discovery request of RFC 3414 section 4 (no user, no engine ID, reportable);
  every v3 agent answers it with a Report, whatever users it has. Whether the auth's user and
  keys are right is learned when the device is identified.

Both carry the sweep's 31-bit id as request-id (and as msgID for v3); :func:`reply_id` reads it
back from an answer, which is all the sweep needs to know who answered which question.
"""

from __future__ import annotations

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
_INTEGER, _OCTETS, _NULL, _OID, _SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
_GET_REQUEST = 0xA0
_V3_MAX_SIZE = 65507
_V3_REPORTABLE = b"\x04"
_USM = 3


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _integer(n: int) -> bytes:
    return _tlv(_INTEGER, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def _oid(text: str) -> bytes:
    arcs = [int(a) for a in text.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(_OID, bytes(out))


def _get_pdu(request_id: int, oids: list[str]) -> bytes:
    varbinds = b"".join(_tlv(_SEQUENCE, _oid(oid) + _tlv(_NULL, b"")) for oid in oids)
    return _tlv(
        _GET_REQUEST, _integer(request_id) + _integer(0) + _integer(0) + _tlv(_SEQUENCE, varbinds)
    )


def community_get(version: int, community: bytes, request_id: int) -> bytes:
    """A v1 (`version` 0) or v2c (1) GetRequest of sysObjectID.0."""
    return _tlv(
        _SEQUENCE,
        _integer(version) + _tlv(_OCTETS, community) + _get_pdu(request_id, [SYS_OBJECT_ID]),
    )


def v3_discovery(request_id: int) -> bytes:
    """The SNMPv3 engine-discovery request (RFC 3414 section 4)."""
    header = _tlv(
        _SEQUENCE,
        _integer(request_id)
        + _integer(_V3_MAX_SIZE)
        + _tlv(_OCTETS, _V3_REPORTABLE)
        + _integer(_USM),
    )
    empty = _tlv(_OCTETS, b"")
    usm = _tlv(_SEQUENCE, empty + _integer(0) + _integer(0) + empty + empty + empty)
    scoped = _tlv(_SEQUENCE, empty + empty + _get_pdu(request_id, []))
    return _tlv(_SEQUENCE, _integer(3) + header + _tlv(_OCTETS, usm) + scoped)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def enter(self, tag: int | None = None) -> tuple[int, int]:
        """Read a tag and length; return (tag, end of the value). Raises ValueError."""
        if self.pos + 2 > len(self.data):
            raise ValueError("truncated")
        found = self.data[self.pos]
        if tag is not None and found != tag:
            raise ValueError(f"tag {found:#x}, expected {tag:#x}")
        size = self.data[self.pos + 1]
        self.pos += 2
        if size & 0x80:
            count = size & 0x7F
            if count == 0 or count > 4 or self.pos + count > len(self.data):
                raise ValueError("bad length")
            size = int.from_bytes(self.data[self.pos : self.pos + count], "big")
            self.pos += count
        end = self.pos + size
        if end > len(self.data):
            raise ValueError("truncated")
        return found, end

    def integer(self) -> int:
        _, end = self.enter(_INTEGER)
        value = int.from_bytes(self.data[self.pos : end], "big", signed=True)
        self.pos = end
        return value

    def skip(self) -> None:
        _, end = self.enter()
        self.pos = end


def reply_id(data: bytes) -> int | None:
    """The request-id (v1/v2c) or msgID (v3) of an SNMP message; None if it is not one."""
    try:
        reader = _Reader(data)
        reader.enter(_SEQUENCE)
        version = reader.integer()
        if version in (0, 1):
            reader.skip()  # community
            reader.enter()  # the PDU, whichever type
            return reader.integer()
        if version == 3:
            reader.enter(_SEQUENCE)  # msgGlobalData
            return reader.integer()
    except ValueError:
        return None
    return None
