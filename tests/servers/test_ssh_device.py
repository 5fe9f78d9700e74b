"""The SSH device emulator itself, seen from a plain asyncssh client: prompt, echo, paging until
the paging-off command, abbreviations, the enable step, errors, the login counter."""

from __future__ import annotations

import asyncio

import asyncssh

from tests.servers.ssh_device import SshDevice, corpus_outputs


async def _until(reader: asyncssh.SSHReader[str], marker: str, seen: list[str]) -> str:
    text = ""
    while marker not in text:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk, f"connection ended before {marker!r}: {text[-300:]!r}"
        text += chunk
    seen.append(text)
    return text


async def test_cli_session_behaves_like_a_device() -> None:
    outputs = corpus_outputs("cisco_ios")
    async with (
        SshDevice("cisco_ios", outputs, enable_password="en-pass-1") as dev,
        asyncssh.connect(
            "127.0.0.1", dev.port, username="netops", password=dev.password, known_hosts=None
        ) as conn,
    ):
        writer, reader, _ = await conn.open_session(term_type="xterm")
        seen: list[str] = []
        banner = await _until(reader, "sw1>", seen)
        assert "Authorised access only." in banner
        writer.write("enable\n")
        await _until(reader, "Password:", seen)
        writer.write("en-pass-1\n")
        await _until(reader, "sw1#", seen)
        writer.write("sh ver\n")  # abbreviated, and paging is still on
        text = await _until(reader, " --More-- ", seen)
        assert "sh ver" in text  # echoed
        assert "Cisco IOS Software, Catalyst 4500" in text
        writer.write(" \n")
        assert "Configuration register is 0x2102" in await _until(reader, "sw1#", seen)
        writer.write("terminal length 0\n")
        await _until(reader, "sw1#", seen)
        writer.write("show interfaces\n")
        text = await _until(reader, "sw1#", seen)
        assert " --More-- " not in text
        assert "GigabitEthernet0/0" in text
        writer.write("show bogus\n")
        assert "% Invalid input detected" in await _until(reader, "sw1#", seen)
    assert dev.logins == 1
    assert dev.commands[:3] == ["enable", "sh ver", "terminal length 0"]


async def test_wrong_password_is_refused_and_counted() -> None:
    async with SshDevice("juniper_junos", corpus_outputs("juniper_junos")) as dev:
        try:
            async with asyncssh.connect(
                "127.0.0.1", dev.port, username="netops", password="nope", known_hosts=None
            ):
                raise AssertionError("logged in with a wrong password")
        except asyncssh.PermissionDenied:
            pass
        assert (dev.logins, dev.auth_failures) == (0, 1)
