"""allowed_targets (top level and per auth), checked on the resolved address before any prober
runs: an off-list target is a one-line 400, counted, and nothing is sent to it."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from chm_exporter.allowlist import AllowedTargets, TargetRules, parse_rules
from chm_exporter.config import load_config, parse_config
from chm_exporter.errors import ConfigError
from chm_exporter.resolver import Resolver
from chm_exporter.server import create_app
from tests.unit.clients import Client, ClientFactory

SECRET = "s3cret-community-x"


def _rules(*entries: str) -> TargetRules:
    return parse_rules(list(entries))


@pytest.mark.parametrize(
    ("entries", "name", "address", "allowed"),
    [
        ((), None, "192.0.2.1", True),
        (("10.0.0.0/8",), None, "10.1.2.3", True),
        (("10.0.0.0/8",), None, "192.0.2.1", False),
        (("10.0.0.0/8",), "sw1.example.com", "10.1.2.3", True),  # a name: its address counts
        (("10.0.0.0/8",), "evil.example.org", "192.0.2.1", False),  # resolves off the list
        (("2001:db8::/32",), None, "2001:db8::1", True),
        (("2001:db8::/32",), None, "10.0.0.1", False),
        (("192.0.2.7",), None, "192.0.2.7", True),  # a bare address is one host
        (("*.net.example.com",), "SW1.Net.Example.com", "192.0.2.1", True),
        (("*.net.example.com",), "sw1.example.com", "192.0.2.1", False),
        (("*.net.example.com",), None, "192.0.2.1", False),  # a pattern never allows a literal
        (("*.net.example.com", "10.0.0.0/8"), "a.net.example.com", "10.0.0.1", True),
        (("*.net.example.com", "10.0.0.0/8"), "a.net.example.com", "192.0.2.1", False),
        (("*.net.example.com", "10.0.0.0/8"), "a.other.com", "10.0.0.1", False),
        (("*.net.example.com", "10.0.0.0/8"), None, "10.0.0.1", True),
    ],
)
def test_rule(entries: tuple[str, ...], name: str | None, address: str, allowed: bool) -> None:
    assert _rules(*entries).allows(name, address) is allowed


class _Model(BaseModel):
    allowed_targets: AllowedTargets = Field(default_factory=TargetRules)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["10.0.0.1/8"], "entry 0 is not a network: an address and a prefix length"),
        (["10.0.0.0/8", "300.1.2.3"], "entry 1"),
        ("10.0.0.0/8", "must be a list"),
        ([""], "entry 0 is not a CIDR or host-name pattern"),
        (["a b"], "entry 0 is not a CIDR or host-name pattern"),
        ([5], "entry 0 is not a CIDR or host-name pattern"),
    ],
)
def test_malformed_entries_are_refused_naming_the_entry(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _Model.model_validate({"allowed_targets": value})


def test_the_list_dumps_as_written() -> None:
    model = _Model.model_validate({"allowed_targets": ["10.0.0.0/8", "*.lab"]})
    assert model.model_dump(mode="json") == {"allowed_targets": ["10.0.0.0/8", "*.lab"]}


CONFIG = f"""\
allowed_targets: [127.0.0.0/8, "*.lab.test", "localhost"]
auths:
  loop: {{version: 2c, community: {SECRET}, allowed_targets: [127.0.0.0/8]}}
  only_two: {{version: 2c, community: {SECRET}, allowed_targets: [127.0.0.2/32]}}
  anywhere: {{version: 2c, community: {SECRET}}}
ssh_auths:
  lab: {{username: chm, password: {SECRET}, allowed_targets: [127.0.0.3/32]}}
modules:
  ping:
    icmp: {{count: 1, interval: 0, preferred_ip_protocol: ip4}}
  snmp:
    timeout: 1
    snmp: {{profiles: [system], timeout: 0.2, retries: 0}}
  cli:
    timeout: 1
    ssh: {{auth: lab, platform: linux, host_key: "off", login_timeout: 0.2}}
"""


def _fake_dns(table: dict[str, str]) -> Any:
    def getaddrinfo(host: str, *_: object) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", (table[host], 0))]

    return getaddrinfo


DNS = {
    "localhost": "127.0.0.1",
    "in.lab.test": "127.0.0.1",
    "rebind.lab.test": "192.0.2.66",
    "out.other.test": "127.0.0.1",
}


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    path = tmp_path / "chm.yml"
    path.write_text(CONFIG)
    app = create_app(load_config(path), resolver=Resolver(getaddrinfo=_fake_dns(DNS)))
    return await aiohttp_client(app)


async def _forbidden(client: Client) -> float:
    text = await (await client.get("/metrics")).text()
    line = 'chm_exporter_invalid_requests_total{reason="forbidden"}'
    return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("target=192.0.2.1&module=ping", "target 192.0.2.1 (192.0.2.1) is not allowed by "),
        ("target=rebind.lab.test&module=ping", "(192.0.2.66) is not allowed by allowed_targets"),
        ("target=out.other.test&module=ping", "target out.other.test is not allowed by "),
        (
            "target=127.0.0.1:1161&module=snmp&auth=only_two",
            "(127.0.0.1) is not allowed by auths.only_two.allowed_targets",
        ),
        ("target=127.0.0.1&module=cli", "is not allowed by ssh_auths.lab.allowed_targets"),
    ],
)
async def test_an_off_list_target_is_a_one_line_400_counted(
    client: Client, query: str, message: str
) -> None:
    before = await _forbidden(client)
    resp = await client.get(f"/probe?{query}")
    text = await resp.text()
    assert resp.status == 400, text
    assert message in text
    assert text.count("\n") == 1
    assert SECRET not in text
    assert await _forbidden(client) == before + 1


@pytest.mark.parametrize(
    "query",
    [
        "target=127.0.0.1&module=ping",
        "target=in.lab.test&module=ping",  # a name on the list resolving on the list
        "target=localhost&module=ping",
        "target=127.0.0.2:1&module=snmp&auth=only_two",
        "target=127.0.0.1:1&module=snmp&auth=loop",
        "target=127.0.0.1:1&module=snmp&auth=anywhere",
        "target=127.0.0.3:1&module=cli",
    ],
)
async def test_a_listed_target_is_probed(client: Client, query: str) -> None:
    resp = await client.get(f"/probe?{query}&debug=true")
    text = await resp.text()
    assert resp.status == 200, text
    assert "probe_success" in text


async def test_a_name_that_does_not_resolve_is_a_failed_probe_not_a_400(client: Client) -> None:
    resp = await client.get("/probe?target=nowhere.lab.test&module=ping&debug=true")
    assert resp.status == 200
    text = await resp.text()
    assert 'probe_success{prober="icmp"} 0' in text
    assert "cannot resolve 'nowhere.lab.test'" in text


DISCOVERY = """\
allowed_targets: [10.0.0.0/8]
auths:
  lab: {version: 2c, community: x, allowed_targets: [10.1.0.0/16]}
  open: {version: 2c, community: y}
discovery:
  jobs:
    - name: j
      networks: [NETWORK]
      auths: [AUTHS]
      crawl: {stay_within: STAY}
"""


@pytest.mark.parametrize(
    ("network", "auths", "stay", "refusal"),
    [
        ("10.1.2.0/24", "lab", "networks", None),
        ("10.1.2.0/24", "open", "networks", None),
        ("10.2.0.0/24", "open", "networks", None),
        ("10.2.0.0/24", "open, lab", "networks", "10.2.0.0/24 is not within auths.lab"),
        ("192.0.2.0/24", "open", "networks", "192.0.2.0/24 is not within allowed_targets"),
        ("10.1.2.0/24", "lab", "anywhere", "stay_within: anywhere, but allowed_targets"),
        ("10.1.2.0/24", "lab", "[10.3.0.0/16]", "10.3.0.0/16 is not within auths.lab"),
    ],
)
def test_a_discovery_job_may_only_reach_where_its_auths_may_go(
    network: str, auths: str, stay: str, refusal: str | None
) -> None:
    text = DISCOVERY.replace("NETWORK", network).replace("AUTHS", auths).replace("STAY", stay)
    if refusal is None:
        parse_config(text)
        return
    with pytest.raises(ConfigError, match=re.escape(refusal)):
        parse_config(text)


def test_a_discovery_seed_resolving_off_the_list_is_skipped() -> None:
    config = parse_config(
        DISCOVERY.replace("NETWORK", "10.1.2.0/24")
        .replace("AUTHS", "lab")
        .replace("STAY", "networks")
    )
    assert config.seed_allowed(["lab"], "10.1.9.9")
    assert not config.seed_allowed(["lab"], "10.2.9.9")
    assert not config.seed_allowed(["open"], "192.0.2.1")
