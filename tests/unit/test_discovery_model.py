"""The discovery block: the issue's example loads; each rule refuses with a message naming it."""

from __future__ import annotations

import ipaddress

import pytest

from chm_exporter.config import parse_config
from chm_exporter.discovery.model import sweep_size
from chm_exporter.errors import ConfigError

ISSUE_EXAMPLE = """\
auths:
  public_v2: {version: 2c, community: public}
  v3_priv: {version: 3, username: chm, security_level: authPriv,
            auth_password: auth-secret-1, priv_password: priv-secret-2}
discovery:
  jobs:
    - name: campus
      networks: [10.1.0.0/22, 10.2.0.0/24]   # addresses to sweep
      seeds: [core1.example.net]             # start points for the neighbour crawl
      exclude: [10.1.0.0/30]
      auths: [v3_priv, public_v2]            # tried in order; the first that answers wins
      crawl: {lldp: true, cdp: true, max_depth: 3, stay_within: networks}
      interval: 1h
      max_hosts: 4096                        # refuse a bigger sweep, with a clear error
      rate: 200                              # packets per second, all jobs together
"""


def test_issue_example_loads() -> None:
    job = parse_config(ISSUE_EXAMPLE).discovery.jobs[0]
    assert job.auths == ["v3_priv", "public_v2"]
    assert job.interval == 3600
    assert job.crawl.max_depth == 3
    addresses = list(job.addresses())
    # /22 + /24 = 1280, minus the excluded /30 (4), minus 10.1.3.255, 10.2.0.0, 10.2.0.255
    assert len(addresses) == 1273 == sweep_size(job.networks, job.exclude)
    assert ipaddress.ip_address("10.1.0.3") not in addresses
    assert ipaddress.ip_address("10.1.0.4") in addresses
    assert ipaddress.ip_address("10.2.0.255") not in addresses


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("max_hosts: 4096", "max_hosts: 1000"),
            "discovery.jobs.0: networks: 1273 addresses to sweep exceed max_hosts 1000",
        ),
        (("[v3_priv, public_v2]", "[v3_priv, nope]"), "discovery.jobs.0.auths.1: unknown auth"),
        (("interval: 1h", "interval: 1x"), "discovery.jobs.0.interval: invalid duration: use"),
        (
            ("interval: 1h", "interval: 0s"),
            "discovery.jobs.0.interval: Input should be greater than 0",
        ),
        (("rate: 200 ", "rate: 0 "), "discovery.jobs.0.rate: Input should be greater than 0"),
        (("rate: 200 ", "rates: 2 "), "line 15: discovery.jobs.0: a key that is not a field here"),
        (
            ("10.2.0.0/24", "10.2.0.1/24"),
            "discovery.jobs.0.networks.1: not a network like 10.1.0.0/22",
        ),
        (("stay_within: networks", "stay_within: x"), "discovery.jobs.0.crawl.stay_within"),
        (("name: campus", "name: 'a b'"), "discovery.jobs.0.name: String should match"),
    ],
)
def test_invalid_job_is_refused(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in ISSUE_EXAMPLE
    with pytest.raises(ConfigError) as info:
        parse_config(ISSUE_EXAMPLE.replace(old, new, 1))
    assert message in str(info.value)


def test_unknown_module_is_refused() -> None:
    text = ISSUE_EXAMPLE.replace("rate: 200 ", "module: nope\n      rate: 200 ")
    with pytest.raises(ConfigError, match=r"discovery.jobs.0.module: unknown module 'nope'"):
        parse_config(text)


def test_job_needs_networks_or_seeds() -> None:
    text = ISSUE_EXAMPLE.replace("      networks: [10.1.0.0/22, 10.2.0.0/24]", "").replace(
        "      seeds: [core1.example.net]", ""
    )
    with pytest.raises(ConfigError, match="networks to sweep or seeds"):
        parse_config(text)


def test_duplicate_job_names_are_refused() -> None:
    jobs = ISSUE_EXAMPLE.split("  jobs:\n", 1)[1]
    with pytest.raises(ConfigError, match=r"jobs\.1\.name: job 'campus' is defined twice"):
        parse_config(ISSUE_EXAMPLE + jobs)


def test_huge_ipv6_network_is_refused_without_enumerating() -> None:
    text = ISSUE_EXAMPLE.replace("10.2.0.0/24", "2001:db8::/64")
    with pytest.raises(ConfigError, match="18446744073709552635 addresses to sweep exceed"):
        parse_config(text)


def test_without_discovery_block_no_jobs() -> None:
    assert parse_config("auths: {a: {version: 2c}}").discovery.jobs == []
