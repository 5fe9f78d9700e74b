"""SNMP v1, v2c and every v3 security level and algorithm against Debian's net-snmp snmpd."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration.exposition import SampleKey, parse_exposition
from tests.servers.netsnmp import V3Auth
from tests.servers.snmpd import V3_USERS, Snmpd
from tests.unit.clients import Client, ClientFactory


def _auth(name: str, user: V3Auth) -> dict[str, object]:
    auth: dict[str, object] = {"version": 3, "username": name, "security_level": user.level}
    if user.auth_proto:
        auth |= {"auth_protocol": user.auth_proto, "auth_password": user.auth_pw}
    if user.priv_proto:
        auth |= {"priv_protocol": user.priv_proto, "priv_password": user.priv_pw}
    return auth


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    auths: dict[str, object] = {
        "v2c": {"version": "2c", "community": "public"},
        "v1": {"version": 1, "community": "public"},
        "v2c_wrong": {"version": "2c", "community": "not-the-community"},
        "v3_wrong_password": _auth("chm_sha", V3Auth("SHA", "wrong-password-9", None, None)),
    }
    auths |= {name: _auth(name, user) for name, user in V3_USERS.items()}
    config = {
        "auths": auths,
        "modules": {
            "if_mib": {"snmp": {"profiles": ["system", "if_mib"], "timeout": 0.5, "retries": 1}},
            "getnext": {"snmp": {"profiles": ["system", "if_mib"], "walk": "getnext"}},
            "empty_tables": {
                "snmp": {
                    "profiles": ["system", "if_mib", "entity_sensor", "lldp"],
                    "lookup_cache_seconds": 0,
                }
            },
        },
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return await aiohttp_client(create_app(load_config(path)))


async def _probe(client: Client, target: str, auth: str, module: str = "if_mib") -> str:
    resp = await client.get(
        "/probe", params={"target": target, "module": module, "auth": auth, "debug": "true"}
    )
    assert resp.status == 200
    return await resp.text()


def _metrics(debug_text: str) -> dict[SampleKey, float]:
    body = debug_text.split("Metrics that would have been returned:\n", 1)[1]
    return parse_exposition(body.split("\nModule configuration:", 1)[0])


@pytest.mark.parametrize("auth", ["v1", "v2c", *V3_USERS])
async def test_each_version_and_v3_level_reads_the_agent(
    client: Client, snmpd_server: Snmpd, auth: str
) -> None:
    text = await _probe(client, f"127.0.0.1:{snmpd_server.port}", auth)
    samples = _metrics(text)
    assert samples[("probe_success", (("prober", "snmp"),))] == 1, text
    info = next(dict(k[1]) for k in samples if k[0] == "chm_device_info")
    assert info["sys_name"] == snmpd_server.sys_name
    assert info["sys_object_id"].startswith("1.3.6.1.4.1.8072.")
    lo = [dict(k[1]) for k in samples if k[0] == "chm_interface_up"]
    assert any(labels["ifname"] == "lo" for labels in lo)


async def test_ipv6_target(client: Client, snmpd_server: Snmpd) -> None:
    text = await _probe(client, f"[::1]:{snmpd_server.port}", "v2c")
    assert _metrics(text)[("probe_success", (("prober", "snmp"),))] == 1


async def test_getnext_walk_reads_the_same_interfaces(client: Client, snmpd_server: Snmpd) -> None:
    target = f"127.0.0.1:{snmpd_server.port}"
    bulk = {k for k in _metrics(await _probe(client, target, "v2c")) if k[0] == "chm_interface_up"}
    nxt = {
        k
        for k in _metrics(await _probe(client, target, "v2c", "getnext"))
        if k[0] == "chm_interface_up"
    }
    assert bulk == nxt
    assert bulk


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ("v3_wrong_password", "authentication"),
        ("v2c_wrong", "no answer"),
    ],
)
async def test_wrong_credentials_fail_the_probe_with_a_reason(
    client: Client, snmpd_server: Snmpd, auth: str, reason: str
) -> None:
    text = await _probe(client, f"127.0.0.1:{snmpd_server.port}", auth)
    assert _metrics(text)[("probe_success", (("prober", "snmp"),))] == 0
    assert reason in text.split("Metrics that would")[0]


@pytest.mark.parametrize("auth", ["v1", "v2c", "chm_aes"])
async def test_tables_empty_last_time_cost_one_request_and_give_the_same_series(
    client: Client, snmpd_server: Snmpd, auth: str
) -> None:
    """net-snmp has no ENTITY-SENSOR-MIB or LLDP-MIB rows: from the second scrape on, each such
    table costs one request instead of one per column, and the series are the same (label
    columns are walked every time here, as with the lookup cache off)."""
    target = f"127.0.0.1:{snmpd_server.port}"
    first = _metrics(await _probe(client, target, auth, "empty_tables"))
    second_text = await _probe(client, target, auth, "empty_tables")
    second = _metrics(second_text)
    assert second[("probe_success", (("prober", "snmp"),))] == 1, second_text
    pdus = ("probe_snmp_pdus_sent", ())
    walks = ("probe_snmp_walks", ())
    # entPhySensorTable, LLDP-MIB's remote, management-address and statistics tables: each
    # was one walk per column (58 walks), now one check per table (33 walks; 59 -> 40 PDUs)
    assert second[walks] <= first[walks] - 20, (first[walks], second[walks])
    assert second[pdus] <= first[pdus] - 15, (first[pdus], second[pdus])
    assert set(second) == set(first)
