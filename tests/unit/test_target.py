"""Target parsing: every accepted form, and a clear error for each malformed one."""

import pytest

from chm_exporter.errors import TargetError
from chm_exporter.target import Target, parse_target


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1", Target("sw1")),
        ("sw1.example.net:1161", Target("sw1.example.net", 1161)),
        ("192.0.2.1", Target("192.0.2.1")),
        ("192.0.2.1:161", Target("192.0.2.1", 161)),
        ("[2001:db8::1]:1161", Target("2001:db8::1", 1161)),
        ("[::1]", Target("::1")),
        ("::1", Target("::1")),
        ("udp6://[::1]:1161", Target("::1", 1161, "ip6")),
        ("udp6://sw1", Target("sw1", None, "ip6")),
        ("udp://sw1:162", Target("sw1", 162, None)),
        ("udp4://127.0.0.1", Target("127.0.0.1", None, "ip4")),
    ],
)
def test_accepted_forms(raw: str, expected: Target) -> None:
    assert parse_target(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("sw1:0", "port"),
        ("sw1:65536", "port"),
        ("sw1:abc", "port"),
        ("[::1", "without ']'"),
        ("[sw1]:161", "not an IPv6"),
        ("[::1]x", "after ']'"),
        ("2001:db8::zz", "not an IPv6"),
        ("http://sw1", "scheme"),
        ("udp4://::1", "family"),
        ("sw 1", "characters"),
        ("-sw1", "neither"),
        ("sw\n1", "characters"),
        ("a" * 400, "characters"),
    ],
)
def test_malformed_targets_name_the_problem(raw: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        parse_target(raw)


def test_str_round_trips_ipv6_with_port() -> None:
    assert str(parse_target("[::1]:1161")) == "[::1]:1161"
