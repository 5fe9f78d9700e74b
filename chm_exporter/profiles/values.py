"""Turning raw SNMP values (as gufo-snmp returns them) into label text and sample numbers."""

from __future__ import annotations

import ipaddress
import re
import string

from chm_exporter.profiles.enterprises import vendor_of
from chm_exporter.profiles.model import Format
from chm_exporter.profiles.products import product_of
from chm_exporter.walk import RawValue

__all__ = ["RawValue", "as_number", "as_text", "enum_key"]

_PRINTABLE = bytes(sorted(frozenset(string.printable.encode()) - frozenset(b"\x0b\x0c")))
# Control characters a label value may not hold (\r is turned into \n first; \t and \n stay).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_MAC_LENGTHS = (6, 8)  # EUI-48, EUI-64


def as_text(raw: RawValue, fmt: Format = "text") -> str | None:
    """Render a raw value as label text in the given format; None when there is no value."""
    if raw is None:
        return None
    if fmt == "enterprise":
        oid = as_text(raw)
        return vendor_of(oid) if oid else None
    if fmt == "product":
        oid = as_text(raw)
        return product_of(oid) if oid else None
    if isinstance(raw, bytes):
        return _bytes_text(raw, fmt)
    if fmt == "hex" and isinstance(raw, int):
        return format(raw, "x")
    return str(raw)


def _bytes_text(raw: bytes, fmt: Format) -> str:
    if fmt == "hex":
        return raw.hex()
    if fmt == "mac":
        # A "MAC" of another length is no MAC: some agents send the text "00:00:00:00:00:00"
        # under LLDP's macAddress subtype. Printable, it is shown as text; otherwise as hex.
        if len(raw) in _MAC_LENGTHS or not _printable(raw):
            return raw.hex(":")
        return _clean(raw.decode("ascii"))
    if fmt == "ip" and len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    if fmt == "iana_address":
        return _iana_address(raw)
    if fmt in ("int", "number"):
        return raw.decode("ascii", errors="replace").strip()
    stripped = raw.rstrip(b"\x00")
    if _printable(stripped):
        text = stripped.decode("ascii")
        # printable ASCII holds no control character but \t, \n and \r: _clean's work
        # is only to turn \r into \n, and most texts (names, descriptions) hold none
        return _clean(text) if "\r" in text else text.strip()
    try:
        return _clean(stripped.decode("utf-8"))
    except UnicodeDecodeError:
        return stripped.hex(":")


# IANA Address Family Numbers: 1 IPv4, 2 IPv6, 6 all802 (a MAC), each followed by the address.
_IANA_FAMILY_LENGTHS = {1: 4, 2: 16, 6: 6}


def _iana_address(raw: bytes) -> str:
    """An address prefixed by its IANA family byte (LLDP's networkAddress ids and management
    addresses); other families and malformed values as hex."""
    if raw and _IANA_FAMILY_LENGTHS.get(raw[0]) == len(raw) - 1:
        if raw[0] == 6:
            return raw[1:].hex(":")
        return str(ipaddress.ip_address(raw[1:]))
    return raw.hex(":")


def _printable(raw: bytes) -> bool:
    """Every byte printable ASCII (deleting those leaves nothing; C speed, as values can be
    large and many)."""
    return not raw.translate(None, _PRINTABLE)


def _clean(text: str) -> str:
    """Line breaks as \\n only; no other control characters in a label value."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def as_number(raw: RawValue) -> int | float | None:
    """A raw value as a number: integers exact, numeric strings parsed, anything else None."""
    if type(raw) is int or type(raw) is float:  # most cells: spare the checks below
        return raw
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int | float):
        return raw
    if isinstance(raw, bytes | str):
        text = raw.decode("ascii", errors="ignore") if isinstance(raw, bytes) else raw
        text = text.strip().rstrip("\x00").rstrip("%").strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    return None


def enum_key(raw: RawValue) -> int | str | None:
    """The key to look an enum value up with: an int where the raw value is numeric."""
    number = as_number(raw)
    if isinstance(number, int):
        return number
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return as_text(raw)
