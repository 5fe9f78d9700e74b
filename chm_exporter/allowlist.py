"""Where probes (and the credentials they carry) may be sent: `allowed_targets`.

A list of entries, each a network in CIDR form (``10.0.0.0/8``, ``2001:db8::/32``; a bare
address is one host) or a host-name pattern (``*.net.example.com``; ``*`` and ``?`` as in a
shell, case-insensitive). The same list is accepted at the top of the config file (every probe)
and in each auth (where that auth's community, user or password may go).

A target passes a list when:

- the list has networks, and the address the probe will be sent to (the target's, or the one
  its name resolved to) lies in one of them: names are checked on the resolved address, so a
  name that resolves off the list is refused;
- the list has patterns, and a target given as a name matches one (a literal address never
  matches a pattern: only a network can allow it).

Both hold when the list has both kinds. An empty or absent list allows everything. With
patterns alone, the DNS decides where a matching name goes: add networks to pin the addresses.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_PATTERN = re.compile(r"^[A-Za-z0-9_*?.\-]{1,253}$")


@dataclass(frozen=True, slots=True)
class TargetRules:
    """A parsed `allowed_targets` list (see the module docstring for the rule)."""

    networks: tuple[IpNetwork, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    entries: tuple[str, ...] = ()

    @property
    def restricts(self) -> bool:
        """False for an empty list, which allows every target."""
        return bool(self.entries)

    def allows_name(self, name: str | None) -> bool:
        """Whether the target's name (None: a literal address) passes the patterns."""
        if not self.patterns:
            return True
        if name is None:
            return bool(self.networks)
        return any(p.match(name) for p in self.patterns)

    def allows(self, name: str | None, address: str) -> bool:
        """Whether a probe of `name` (None when the target is a literal address) may be sent to
        `address`."""
        if not self.entries:
            return True
        if not self.allows_name(name):
            return False
        if not self.networks:
            return True
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in self.networks)

    def covers(self, network: IpNetwork) -> bool:
        """Whether every address of `network` is allowed (a literal address matches no
        pattern: only the list's networks can cover it)."""
        if not self.entries:
            return True
        return any(
            network.version == net.version and network.subnet_of(net)  # type: ignore[arg-type]
            for net in self.networks
        )


def parse_rules(value: Any) -> TargetRules:
    """A list of CIDRs and host-name patterns as :class:`TargetRules`.

    Raises:
        ValueError: an entry is neither (the message names its position).
    """
    if isinstance(value, TargetRules):
        return value
    if value is None:
        return TargetRules()
    if isinstance(value, str) or not isinstance(value, list):
        raise ValueError("allowed_targets must be a list of CIDRs and host-name patterns")
    networks: list[IpNetwork] = []
    patterns: list[re.Pattern[str]] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            raise ValueError(f"allowed_targets entry {i} is not a CIDR or host-name pattern")
        text = entry.strip()
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
            continue
        except ValueError:  # its text repeats the entry, which may be a misplaced secret
            if any(c in text for c in ":/") or _looks_numeric(text):
                raise ValueError(
                    f"allowed_targets entry {i} is not a network: an address and a prefix "
                    "length with the host bits 0 (10.1.0.0/22), or one address"
                ) from None
        if not _PATTERN.match(text):
            raise ValueError(f"allowed_targets entry {i} is not a CIDR or host-name pattern")
        patterns.append(re.compile(fnmatch.translate(text.lower()), re.IGNORECASE))
    return TargetRules(tuple(networks), tuple(patterns), tuple(str(e).strip() for e in value))


def _looks_numeric(text: str) -> bool:
    return all(part.isdigit() for part in text.split(".")) and text.count(".") == 3


AllowedTargets = Annotated[
    TargetRules,
    PlainValidator(parse_rules),
    PlainSerializer(lambda rules: list(rules.entries), return_type=list[str]),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]
"""The config field type: a list in YAML, :class:`TargetRules` once validated."""
