"""The HTTP layer through aiohttp's test client: 400s, masking, reload, never a 500."""

import socket
import time
from pathlib import Path

import pytest

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.unit.clients import Client, ClientFactory
from tests.unit.fakeagent import FakeAgent, serve_snmp_from

CONFIG = """\
auths:
  public_v2: {version: 2c, community: very-secret-community}
  v3:
    version: 3
    username: chm
    security_level: authPriv
    auth_password: auth-password-123
    priv_password: priv-password-456
ssh_auths:
  lab:
    username: netops
    password: ssh-password-789
    enable_password: enable-secret-012
modules:
  if_mib:
    snmp: {profiles: [system, if_mib], timeout: 0.2, retries: 0}
  ping:
    icmp: {count: 1}
  ios_ssh:
    timeout: 2
    ssh: {auth: lab, platform: cisco_iosxe, host_key: "off"}
"""
SECRETS = (
    "very-secret-community",
    "auth-password-123",
    "priv-password-456",
    "ssh-password-789",
    "enable-secret-012",
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "chm.yml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
async def client(config_path: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(load_config(config_path), enable_lifecycle=True))


async def _invalid_count(client: Client, reason: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(f'chm_exporter_invalid_requests_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no invalid_requests counter for {reason}")


@pytest.mark.parametrize(
    ("query", "reason", "message"),
    [
        ("", "target", "parameter 'target' is missing"),
        ("target=a&target=b", "target", "parameter 'target' is given 2 times"),
        ("target=sw1:99999", "target", "port '99999' is not a number"),
        ("target=[::1", "target", "without ']'"),
        (
            "target=sw1&module=nope",
            "module",
            "unknown module 'nope' (known: auto, if_mib, ios_ssh, ping)",
        ),
        ("target=sw1&module=if_mib,nope", "module", "unknown module 'nope'"),
        ("target=sw1&auth=nope", "auth", "unknown auth 'nope'"),
        ("target=sw1&auth=a&auth=b", "auth", "parameter 'auth' is given 2 times"),
    ],
)
async def test_bad_requests_get_400_with_reason_and_are_counted(
    client: Client, query: str, reason: str, message: str
) -> None:
    before = await _invalid_count(client, reason)
    resp = await client.get(f"/probe?{query}")
    assert resp.status == 400
    assert message in await resp.text()
    assert await _invalid_count(client, reason) == before + 1


async def test_unanswering_agent_is_probe_success_0_not_an_error(client: Client) -> None:
    # 127.0.0.1:9 (discard) has no SNMP agent: the probe fails, the request does not.
    resp = await client.get("/probe?target=127.0.0.1:9&module=if_mib")
    assert resp.status == 200
    text = await resp.text()
    assert 'probe_success{prober="snmp"} 0' in text
    debug = await (await client.get("/probe?target=127.0.0.1:9&module=if_mib&debug=true")).text()
    assert "127.0.0.1:9 refused (ICMP port unreachable" in debug


async def test_the_answer_is_not_compressed_when_gzip_is_accepted(client: Client) -> None:
    # a deliberate choice (CPU per scrape, see the probe handler): identity, whole, and stated
    resp = await client.get(
        "/probe?target=127.0.0.1:9&module=if_mib", headers={"Accept-Encoding": "gzip"}
    )
    body = await resp.read()
    assert "Content-Encoding" not in resp.headers
    assert int(resp.headers["Content-Length"]) == len(body)
    assert body.startswith(b"# HELP ")


async def test_unresolvable_name_is_a_probe_failure(client: Client) -> None:
    resp = await client.get("/probe?target=no-such-host.invalid&module=if_mib&debug=true")
    assert resp.status == 200
    assert "cannot resolve 'no-such-host.invalid'" in await resp.text()


async def test_config_masks_every_secret(client: Client) -> None:
    text = await (await client.get("/config")).text()
    assert "<secret>" in text
    for secret in SECRETS:
        assert secret not in text


async def test_debug_output_and_landing_page_carry_no_secret(client: Client) -> None:
    for auth in ("public_v2", "v3"):
        debug = await (
            await client.get(f"/probe?target=127.0.0.1:9&module=if_mib&auth={auth}&debug=true")
        ).text()
        assert "Module configuration:" in debug
        for secret in SECRETS:
            assert secret not in debug
    debug = await (await client.get("/probe?target=127.0.0.1:9&module=ios_ssh&debug=true")).text()
    assert 'probe_success{prober="ssh"} 0' in debug
    assert "connection failed" in debug
    for secret in SECRETS:
        assert secret not in debug
    landing = await (await client.get("/")).text()
    assert "127.0.0.1:9" in landing
    for secret in SECRETS:
        assert secret not in landing


async def test_landing_links_each_recent_probe_to_its_log(client: Client) -> None:
    await client.get("/probe?target=127.0.0.1:9&module=if_mib")
    page = await (await client.get("/")).text()
    assert "Recent failed probes" in page
    log = await (await client.get("/logs?id=1")).text()
    assert "127.0.0.1:9 refused (ICMP port unreachable" in log
    assert (await client.get("/logs?id=999")).status == 404


async def test_reload_refuses_bad_config_and_keeps_serving_old(
    client: Client, config_path: Path
) -> None:
    config_path.write_text(CONFIG + "  broken:\n    snmp: {max_repetitions: -1}\n")
    resp = await client.post("/-/reload")
    assert resp.status == 400
    assert "modules.broken.snmp.max_repetitions" in await resp.text()
    metrics = await (await client.get("/metrics")).text()
    assert "chm_exporter_config_last_reload_successful 0.0" in metrics
    resp = await client.get("/probe?target=127.0.0.1:9&module=ping")
    assert resp.status == 200  # the old config still knows module ping

    config_path.write_text(CONFIG.replace("ping:", "pong:"))
    assert (await client.post("/-/reload")).status == 200
    assert (await client.get("/probe?target=127.0.0.1&module=pong")).status == 200
    assert (await client.get("/probe?target=127.0.0.1&module=ping")).status == 400
    metrics = await (await client.get("/metrics")).text()
    assert "chm_exporter_config_last_reload_successful 1.0" in metrics


async def test_health_endpoints(client: Client) -> None:
    for path in ("/-/healthy", "/-/ready"):
        resp = await client.get(path)
        assert resp.status == 200


async def test_self_metrics_count_probes_by_result(client: Client) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        await client.get(f"/probe?target=127.0.0.1:{port}&module=if_mib")
    text = await (await client.get("/metrics")).text()
    assert 'chm_exporter_probes_total{module="if_mib",prober="snmp",result="failure"} 1.0' in text
    timeouts = [
        ln for ln in text.splitlines() if ln.startswith("chm_exporter_snmp_timeouts_total ")
    ]
    assert float(timeouts[0].split()[1]) >= 1
    assert "process_resident_memory_bytes" in text


async def test_an_empty_module_is_recorded_as_auto(client: Client) -> None:
    for module in ("", " , "):
        resp = await client.get("/probe", params={"target": "127.0.0.1:9", "module": module})
        assert resp.status == 200
    text = await (await client.get("/metrics")).text()
    assert 'chm_exporter_probes_total{module="auto",prober="snmp",result="failure"} 2.0' in text
    assert 'module=""' not in text


async def test_an_unanswered_explicit_module_emits_no_device_identity(client: Client) -> None:
    text = await (await client.get("/probe?target=127.0.0.1:9&module=if_mib")).text()
    assert 'probe_success{prober="snmp"} 0' in text
    assert "chm_device_info" not in text
    assert "chm_device_system_info" not in text


async def test_a_refused_port_is_reported_as_refused_at_once(client: Client) -> None:
    # module auto: 2 s timeout, 2 retries; the closed port's ICMP answer ends it at once
    started = time.monotonic()
    debug = await (await client.get("/probe?target=127.0.0.1:9&debug=true")).text()
    assert time.monotonic() - started < 1.0
    assert "127.0.0.1:9 refused (ICMP port unreachable" in debug
    assert "no answer from" not in debug


async def test_landing_shows_auths_and_links_modules_to_a_target_that_answered(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = FakeAgent({"1.3.6.1.2.1.1.5.0": b"sw1", "1.3.6.1.2.1.2.2.1.2.1": b"eth1"})
    serve_snmp_from(agent, monkeypatch)
    ok = await (await client.get("/probe?target=192.0.2.7&module=if_mib&auth=v3")).text()
    assert 'probe_success{prober="snmp"} 1' in ok
    await client.get("/probe?target=192.0.2.8&module=if_mib")  # the default auth, public_v2
    page = await (await client.get("/")).text()
    assert "<td>v3</td>" in page
    assert "<td>public_v2</td>" in page
    assert (
        'href="/probe?target=192.0.2.8&amp;module=if_mib&amp;auth=public_v2&amp;debug=true"' in page
    )
    assert "ping: no successful probe yet" in page
    assert "target=127.0.0.1" not in page
