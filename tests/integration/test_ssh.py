"""The SSH prober against the asyncssh device emulator: sessions, faults, host keys, deadline."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from chm_exporter.catalogue import catalogue
from chm_exporter.devicecache import DeviceCache
from chm_exporter.server import STATE
from tests.integration.ssh_lab import ENABLE, lab_app, lab_config, scrape, self_metric
from tests.servers.ssh_device import (
    CORPUS,
    PLATFORMS,
    Faults,
    SshDevice,
    corpus_outputs,
    read_recording,
)
from tests.unit.clients import Client, ClientFactory


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(lab_app(lab_config(tmp_path)))


@pytest.fixture
async def iosxe() -> AsyncIterator[SshDevice]:
    async with SshDevice(
        "cisco_iosxe", corpus_outputs("cisco_iosxe"), enable_password=ENABLE
    ) as dev:
        yield dev


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
async def test_every_platform_answers_its_module_on_one_session(
    client: Client, platform: str
) -> None:
    async with SshDevice(platform, corpus_outputs(platform), enable_password=ENABLE) as dev:
        for _ in range(2):
            result = await scrape(client, dev)
            assert result.success() == 1, result.debug
            assert any(name.startswith("chm_interface_") for name, _ in result.metrics)
        assert dev.logins == 1
    for name, text in re.findall(r"^# HELP (\S+) (.*)$", result.debug, re.M):
        known = catalogue()[name]
        assert text == known.help
        want = "gauge" if known.type == "info" else known.type
        assert f"# TYPE {name} {want}" in result.debug


async def test_ssh_and_icmp_in_one_probe_keep_their_own_success(
    client: Client, iosxe: SshDevice
) -> None:
    result = await scrape(client, iosxe, module="cisco_iosxe,ping")
    assert result.metrics[("probe_success", (("prober", "icmp"),))] == 1
    assert result.success() == 1
    iosxe.faults = Faults(hang={"show version"})
    result = await scrape(client, iosxe, module="cisco_iosxe,ping", scrape_timeout=2)
    assert result.metrics[("probe_success", (("prober", "icmp"),))] == 1
    assert result.success() == 0


async def test_session_is_reused_across_scrapes(client: Client, iosxe: SshDevice) -> None:
    for _ in range(3):
        result = await scrape(client, iosxe)
        assert result.success() == 1
    assert iosxe.logins == 1
    assert iosxe.commands.count("enable") == 1  # the enable step once, at login
    assert iosxe.commands.count("terminal length 0") == 1
    assert iosxe.commands.count("show version") == 3
    assert await self_metric(client, "chm_exporter_ssh_logins_total") == 1
    assert await self_metric(client, "chm_exporter_ssh_session_reuses_total") == 2
    assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 1
    assert result.metrics[("probe_ssh_session_reused", ())] == 1


async def test_wrong_password_fails_once_per_scrape(client: Client, iosxe: SshDevice) -> None:
    for n in (1, 2):
        result = await scrape(client, iosxe, module="wrong_password")
        assert result.success() == 0
        assert "authentication failed" in result.debug
        assert iosxe.auth_failures == n  # one attempt per scrape, never retried within it
    assert iosxe.logins == 0
    assert await self_metric(client, 'chm_exporter_ssh_failures_total{reason="auth"}') == 2


async def test_key_authentication(tmp_path: Path, aiohttp_client: ClientFactory) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key(passphrase="key-pass-phrase"))
    config = lab_config(tmp_path)
    text = config.read_text().replace(
        "password: not-the-password",
        f"private_key_file: {key_file}\n    passphrase: key-pass-phrase",
    )
    config.write_text(text)
    client = await aiohttp_client(lab_app(config))
    async with SshDevice(
        "cisco_iosxe", corpus_outputs("cisco_iosxe"), password="", client_keys=[key]
    ) as dev:
        result = await scrape(client, dev, module="wrong_password")  # the keyed auth now
        assert result.success() == 1, result.debug
        assert dev.logins == 1


async def test_tofu_pins_the_first_key_and_refuses_a_changed_one(
    client: Client, iosxe: SshDevice, tmp_path: Path
) -> None:
    assert (await scrape(client, iosxe)).success() == 1
    assert f"[127.0.0.1]:{iosxe.port} ssh-ed25519 " in (tmp_path / "pins").read_text()
    await iosxe.change_host_key()  # drops the session too
    result = await scrape(client, iosxe)
    assert result.success() == 0
    assert "host key" in result.debug
    assert iosxe.logins == 1  # the impostor never saw the password
    assert await self_metric(client, 'chm_exporter_ssh_failures_total{reason="host_key"}') == 1


async def test_known_hosts_policy(
    tmp_path: Path, aiohttp_client: ClientFactory, iosxe: SshDevice
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    client = await aiohttp_client(
        lab_app(lab_config(tmp_path, host_key="known_hosts", known_hosts_file=str(known)))
    )
    assert (await scrape(client, iosxe)).success() == 0
    public = iosxe.host_key.export_public_key().decode().strip()
    known.write_text(f"[127.0.0.1]:{iosxe.port} {public}\n")
    assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 1


async def test_host_key_checking_off_warns_once_per_device(
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    iosxe: SshDevice,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(lab_app(lab_config(tmp_path, host_key="off")))
    for _ in range(2):
        iosxe.drop_connections()
        assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2
    warnings = [r for r in caplog.records if "host key checking is off" in r.getMessage()]
    assert len(warnings) == 1


async def test_hang_mid_output_keeps_earlier_results_and_rebuilds_the_session(
    client: Client, iosxe: SshDevice
) -> None:
    iosxe.faults = Faults(hang={"show interfaces"})
    started = time.monotonic()
    result = await scrape(client, iosxe, scrape_timeout=2.5)
    assert time.monotonic() - started < 2.0 + 0.5
    assert result.success() == 0
    assert "deadline" in result.debug
    assert result.series("chm_device_info")  # show version ran before the hang
    assert result.series("chm_cpu_utilization_ratio")
    assert not result.series("chm_interface_up")
    assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 0  # dropped
    iosxe.faults = Faults()
    result = await scrape(client, iosxe)
    assert result.success() == 1
    assert iosxe.logins == 2  # logged in again
    assert result.series("chm_interface_up")


async def test_disconnect_mid_command_fails_and_reconnects(
    client: Client, iosxe: SshDevice
) -> None:
    iosxe.faults = Faults(disconnect={"show interfaces"})
    result = await scrape(client, iosxe)
    assert result.success() == 0
    assert result.series("chm_device_info")
    iosxe.faults = Faults()
    assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2


async def test_device_that_dropped_the_session_gets_a_new_login(
    client: Client, iosxe: SshDevice
) -> None:
    assert (await scrape(client, iosxe)).success() == 1
    iosxe.drop_connections()
    await asyncio.sleep(0.05)
    assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2


async def test_slow_output_within_the_deadline_succeeds(client: Client, iosxe: SshDevice) -> None:
    iosxe.faults = Faults(slow={"show version": 0.02})
    result = await scrape(client, iosxe)
    assert result.success() == 1
    assert (
        result.metrics[("probe_ssh_command_duration_seconds", (("command", "show version"),))] > 0.5
    )


async def test_garbage_output_gives_no_metrics_but_no_crash(
    client: Client, iosxe: SshDevice
) -> None:
    iosxe.faults = Faults(garbage={"show version"})
    result = await scrape(client, iosxe)
    assert result.success() == 1  # the device answered; the answer parses to nothing
    assert not result.series("chm_device_info")
    assert result.series("chm_interface_up")


async def test_endless_output_is_cut_by_the_command_timeout(
    client: Client, iosxe: SshDevice
) -> None:
    iosxe.faults = Faults(endless={"show interfaces"})
    started = time.monotonic()
    result = await scrape(client, iosxe)
    assert time.monotonic() - started < 3 + 2  # command_timeout 3 s, well before the deadline
    assert result.success() == 0
    assert "kept printing" in result.debug
    assert result.series("chm_device_info")
    assert await self_metric(client, 'chm_exporter_ssh_failures_total{reason="timeout"}') == 1
    iosxe.faults = Faults()
    assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2


async def test_output_longer_than_the_cap_fails_the_probe(
    tmp_path: Path, aiohttp_client: ClientFactory, iosxe: SshDevice
) -> None:
    client = await aiohttp_client(lab_app(lab_config(tmp_path, max_output_bytes=4096)))
    result = await scrape(client, iosxe)  # show interfaces prints 12 kB
    assert result.success() == 0
    assert "output longer than 4096 bytes" in result.debug
    assert await self_metric(client, 'chm_exporter_ssh_failures_total{reason="command"}') == 1


async def test_idle_sessions_are_closed(client: Client, iosxe: SshDevice) -> None:
    assert (await scrape(client, iosxe)).success() == 1
    pool = client.app[STATE].ssh
    assert pool.close_idle(time.monotonic() + 3600) == 1
    assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 0
    assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2


async def test_a_device_dropped_from_the_device_cache_is_logged_out(client: Client) -> None:
    client.app[STATE].devices = DeviceCache(max_devices=1)
    outputs = corpus_outputs("cisco_iosxe")
    async with (
        SshDevice("cisco_iosxe", outputs, enable_password=ENABLE) as one,
        SshDevice("cisco_iosxe", outputs, enable_password=ENABLE) as two,
    ):
        assert (await scrape(client, one)).success() == 1
        assert one.sessions_open == 1
        assert (await scrape(client, two)).success() == 1  # one's record is dropped
        for _ in range(100):  # the device sees the connection close
            if one.sessions_open == 0:
                break
            await asyncio.sleep(0.05)
        assert (one.sessions_open, two.sessions_open) == (0, 1)
        assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 1
        assert (await scrape(client, one)).success() == 1
        assert one.logins == 2


async def test_session_cap_evicts_idle_and_counts_waits(client: Client) -> None:
    pool = client.app[STATE].ssh
    pool.max_sessions = 1
    outputs = corpus_outputs("cisco_iosxe")
    async with (
        SshDevice("cisco_iosxe", outputs, enable_password=ENABLE) as one,
        SshDevice("cisco_iosxe", outputs, enable_password=ENABLE) as two,
    ):
        assert (await scrape(client, one)).success() == 1
        assert (await scrape(client, two)).success() == 1  # evicts one's idle session
        assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 1
        both = await asyncio.gather(scrape(client, one), scrape(client, two))
        assert [r.success() for r in both] == [1, 1]
        assert await self_metric(client, "chm_exporter_ssh_session_waits_total") >= 1
        assert pool.open_sessions == 1


def _logging(lines: list[str]) -> str:
    """show logging as IOS prints it: the recorded header of a real device, then `lines`."""
    header = read_recording(
        CORPUS / "cli/cisco_ios/show_logging/cisco_ios_show_logging_3.raw"
    ).split("Log Buffer")[0]
    return f"{header}Log Buffer (10000 bytes):\n\n" + "\n".join(lines) + "\n"


# Real lines (corpus/syslog and Genie's iosxe ShowLogging recording).
_A = "022701: Jun 19 03:02:31: %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet2/0/3, changed state to down"
_B = (
    "022702: Jun 19 03:02:32: %LINK-3-UPDOWN: Interface GigabitEthernet2/0/3, changed state to down"
)
_C = "022703: Jun 19 03:02:37: %LINK-3-UPDOWN: Interface GigabitEthernet2/0/3, changed state to up"
_D = "022704: Aug 14 13:04:16.789: %APMGR_TRACE_MESSAGE-2-WLC_APMGR_CRIT_MSG: Chassis 2 R0/0: wncd: CRITICAL, 0c75.bdb4.87e0 Configured policy-tag PT1 not defined, picking default-policy-tag."
_E = "000001: Aug 14 13:10:02.001: %LINK-3-UPDOWN: Interface GigabitEthernet2/0/3, changed state to down"


async def test_log_messages_are_counted_once(client: Client, iosxe: SshDevice) -> None:
    def totals(result: Any) -> dict[tuple[str, str], float]:
        return {
            (dict(k)["severity"], dict(k)["mnemonic"]): v
            for k, v in result.series("chm_log_messages_total").items()
        }

    iosxe.outputs["show logging"] = _logging([_A, _B, _C])
    first = await scrape(client, iosxe)  # the baseline: old messages are not counted
    assert totals(first) == {("notice", "UPDOWN"): 0, ("error", "UPDOWN"): 0}
    iosxe.outputs["show logging"] = _logging([_B, _C, _D])  # wrapped: A gone, D new
    second = await scrape(client, iosxe)
    assert totals(second) == {
        ("notice", "UPDOWN"): 0,
        ("error", "UPDOWN"): 0,
        ("critical", "WLC_APMGR_CRIT_MSG"): 1,
    }
    newest = second.metrics[("chm_log_last_message_timestamp_seconds", ())]
    assert time.strftime("%b %d %H:%M:%S", time.gmtime(newest)) == "Aug 14 13:04:16"
    assert newest <= time.time() + 86400  # the year is chosen so the message is not in the future
    assert totals(await scrape(client, iosxe)) == totals(second)  # nothing new: no change
    iosxe.outputs["show logging"] = _logging([_E])  # rebooted: the buffer starts again
    assert totals(await scrape(client, iosxe))[("error", "UPDOWN")] == 1


async def test_reuse_off_logs_in_every_scrape(
    tmp_path: Path, aiohttp_client: ClientFactory, iosxe: SshDevice
) -> None:
    client = await aiohttp_client(lab_app(lab_config(tmp_path, reuse=False)))
    for _ in range(2):
        assert (await scrape(client, iosxe)).success() == 1
    assert iosxe.logins == 2
    assert await self_metric(client, "chm_exporter_ssh_sessions_open") == 0


async def test_unreadable_private_key_fails_the_probe_with_the_reason(
    tmp_path: Path, aiohttp_client: ClientFactory, iosxe: SshDevice
) -> None:
    config = lab_config(tmp_path)
    missing = tmp_path / "no_such_key"
    config.write_text(
        config.read_text().replace("password: not-the-password", f"private_key_file: {missing}")
    )
    client = await aiohttp_client(lab_app(config))
    result = await scrape(client, iosxe, module="wrong_password")
    assert result.success() == 0
    assert f"cannot read the private key {missing}" in result.debug
    assert iosxe.logins == 0


async def test_wrong_enable_password_fails_with_the_reason(client: Client) -> None:
    outputs = corpus_outputs("cisco_iosxe")
    async with SshDevice("cisco_iosxe", outputs, enable_password="another-one") as dev:
        result = await scrape(client, dev)
    assert result.success() == 0
    assert "the enable step failed (check enable_password)" in result.debug
    assert await self_metric(client, 'chm_exporter_ssh_failures_total{reason="auth"}') == 1
