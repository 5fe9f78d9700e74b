"""A minimal BER codec for SNMP v1/v2c messages, for test agents that must be able to lie.

Only what a v2c agent needs: the message envelope, GET/GETNEXT/GETBULK/SET requests, the
response PDU and the value types of SNMPv2-SMI. Encoding takes any tag and bytes, so a test can
build a value no library would (an odd BIT STRING, an empty varbind, a length that lies).

    >>> msg = decode_message(encode_message(1, b"public", RESPONSE, 7, 0, 0, [("1.3.6.1", Int(5))]))
    >>> msg.request_id, msg.varbinds
    (7, [('1.3.6.1', Int(value=5))])
"""

from __future__ import annotations

from dataclasses import dataclass

GET, GETNEXT, RESPONSE, SET, GETBULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
INTEGER, OCTET_STRING, NULL, OID, BIT_STRING = 0x02, 0x04, 0x05, 0x06, 0x03
IPADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
SEQUENCE = 0x30


class BerError(ValueError):
    """The bytes are not the BER this codec understands."""


@dataclass(frozen=True)
class Int:
    """A signed INTEGER (or an unsigned application type with ``tag``)."""

    value: int
    tag: int = INTEGER


@dataclass(frozen=True)
class Raw:
    """Any tag with any content bytes, encoded as given."""

    tag: int
    content: bytes = b""


Value = Int | Raw | bytes | str | None
"""bytes: OCTET STRING; str: an OID; None: NULL."""


@dataclass
class Message:
    """A decoded SNMP v1/v2c message."""

    version: int
    community: bytes
    pdu_type: int
    request_id: int
    error_status: int  # non-repeaters for GETBULK
    error_index: int  # max-repetitions for GETBULK
    varbinds: list[tuple[str, Value]]


def encode_length(n: int) -> bytes:
    """A definite length: short form below 128, long form above."""
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """Tag, length, content."""
    return bytes([tag]) + encode_length(len(content)) + content


def encode_int(value: int, tag: int = INTEGER) -> bytes:
    """A two's-complement INTEGER (unsigned types get a leading zero where needed)."""
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def encode_oid(oid: str) -> bytes:
    """An OBJECT IDENTIFIER from dotted text."""
    parts = [int(p) for p in oid.strip(".").split(".")]
    if len(parts) < 2:
        parts = [*parts, 0] if parts else [1, 3]
    body = bytearray(_base128(parts[0] * 40 + parts[1]))
    for part in parts[2:]:
        body += _base128(part)
    return tlv(OID, bytes(body))


def _base128(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def encode_value(value: Value) -> bytes:
    """Any :data:`Value`."""
    if value is None:
        return tlv(NULL, b"")
    if isinstance(value, bytes):
        return tlv(OCTET_STRING, value)
    if isinstance(value, str):
        return encode_oid(value)
    if isinstance(value, Int):
        return encode_int(value.value, value.tag)
    return tlv(value.tag, value.content)


def encode_varbinds(varbinds: list[tuple[str, Value]]) -> bytes:
    """The varbind list."""
    return tlv(
        SEQUENCE, b"".join(tlv(SEQUENCE, encode_oid(o) + encode_value(v)) for o, v in varbinds)
    )


def encode_message(
    version: int,
    community: bytes,
    pdu_type: int,
    request_id: int,
    error_status: int,
    error_index: int,
    varbinds: list[tuple[str, Value]],
    raw_varbinds: bytes | None = None,
) -> bytes:
    """A whole message; `raw_varbinds` replaces the encoded varbind list when given."""
    pdu = (
        encode_int(request_id)
        + encode_int(error_status)
        + encode_int(error_index)
        + (raw_varbinds if raw_varbinds is not None else encode_varbinds(varbinds))
    )
    return tlv(SEQUENCE, encode_int(version) + tlv(OCTET_STRING, community) + tlv(pdu_type, pdu))


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, position after) of the TLV at `pos`."""
    if pos + 2 > len(data):
        raise BerError("truncated")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > len(data):
        raise BerError("truncated content")
    return tag, data[pos : pos + length], pos + length


def decode_oid(content: bytes) -> str:
    """Dotted text of OID content bytes."""
    if not content:
        raise BerError("empty OID")
    numbers: list[int] = []
    n = 0
    for byte in content:
        n = (n << 7) | (byte & 0x7F)
        if not byte & 0x80:
            numbers.append(n)
            n = 0
    first = numbers[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(x) for x in head + numbers[1:])


def decode_value(tag: int, content: bytes) -> Value:
    """A :data:`Value` from tag and content."""
    if tag == NULL:
        return None
    if tag == OCTET_STRING:
        return content
    if tag == OID:
        return decode_oid(content)
    if tag in (INTEGER, COUNTER32, GAUGE32, TIMETICKS, COUNTER64):
        return Int(int.from_bytes(content, "big", signed=tag == INTEGER), tag)
    return Raw(tag, content)


def decode_message(data: bytes) -> Message:
    """Decode a v1/v2c message.

    Raises:
        BerError: the bytes are not such a message.
    """
    tag, body, _ = _read(data, 0)
    if tag != SEQUENCE:
        raise BerError("not a SEQUENCE")
    _, version, pos = _read(body, 0)
    _, community, pos = _read(body, pos)
    pdu_type, pdu, _ = _read(body, pos)
    fields = []
    pos = 0
    for _ in range(3):
        _, content, pos = _read(pdu, pos)
        fields.append(int.from_bytes(content, "big", signed=True))
    _, vbl, _ = _read(pdu, pos)
    varbinds: list[tuple[str, Value]] = []
    pos = 0
    while pos < len(vbl):
        _, vb, pos = _read(vbl, pos)
        _, oid, inner = _read(vb, 0)
        vtag, vcontent, _ = _read(vb, inner)
        varbinds.append((decode_oid(oid), decode_value(vtag, vcontent)))
    return Message(
        version=int.from_bytes(version, "big"),
        community=community,
        pdu_type=pdu_type,
        request_id=fields[0],
        error_status=fields[1],
        error_index=fields[2],
        varbinds=varbinds,
    )
