"""One scrapli driver for any platform, built from its CLI profile; the channel read wrapped
with a size and time limit; exceptions mapped to one-word failure reasons."""

from __future__ import annotations

import asyncio
from typing import Any

from asyncssh import Error as AsyncsshError
from asyncssh import HostKeyNotVerifiable, KeyImportError, PermissionDenied
from scrapli.driver import AsyncNetworkDriver
from scrapli.driver.network.base_driver import PrivilegeLevel
from scrapli.exceptions import (
    ScrapliAuthenticationFailed,
    ScrapliConnectionError,
    ScrapliConnectionNotOpened,
    ScrapliPrivilegeError,
    ScrapliTimeout,
)

from chm_exporter.errors import SshProbeError
from chm_exporter.ssh.config import SshAuth, SshSettings
from chm_exporter.ssh.profile import CliProfile


def new_driver(
    host: str,
    port: int,
    settings: SshSettings,
    auth: SshAuth,
    profile: CliProfile,
    asyncssh_options: dict[str, Any],
) -> AsyncNetworkDriver:
    """A driver (not yet open) that logs in, takes the enable step where the profile has one,
    and sends the profile's paging-off commands once."""

    async def on_open(conn: AsyncNetworkDriver) -> None:
        await conn.acquire_priv(conn.default_desired_privilege_level)
        for command in profile.on_open:
            await conn.send_command(command)

    return AsyncNetworkDriver(
        host=host,
        port=port,
        auth_username=auth.username,
        auth_password=auth.password.get_secret_value() if auth.password else "",
        auth_secondary=auth.enable_password.get_secret_value() if auth.enable_password else "",
        auth_strict_key=False,  # checked by our own policy inside asyncssh (hostkeys.py)
        privilege_levels=privilege_levels(profile),
        default_desired_privilege_level="privilege_exec",
        failed_when_contains=profile.failed_when_contains,
        timeout_socket=settings.login_timeout,
        timeout_transport=settings.command_timeout,
        timeout_ops=settings.command_timeout,
        transport="asyncssh",
        transport_options={"asyncssh": asyncssh_options},
        on_open=on_open,
    )


class OutputCap:
    """Counts what a driver's channel reads, and stops a command that prints too much or too
    long.

    scrapli reads until the prompt with no size limit (searching the whole buffer after each
    read). Its timeouts are nested ``asyncio.wait_for`` calls, and on Python 3.11 a cancellation
    that arrives while an inner read has just completed is lost (CPython gh-86296): against a
    device that never stops printing, neither scrapli's timeout nor the probe's deadline stops
    the read loop. This check runs after every read, so it does.
    """

    def __init__(self, driver: AsyncNetworkDriver, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.deadline = float("inf")
        self._read = driver.channel.read
        driver.channel.read = self.read  # type: ignore[method-assign]

    async def read(self) -> bytes:
        """The channel's read, counted.

        Raises:
            SshProbeError: more than `limit` bytes, or past the deadline, since :meth:`reset`.
        """
        data: bytes = await self._read()
        self.count += len(data)
        if self.count > self.limit:
            raise SshProbeError(f"output longer than {self.limit} bytes: stopped", "command")
        if asyncio.get_running_loop().time() > self.deadline:
            raise SshProbeError("command timed out while the device kept printing", "timeout")
        return data

    def reset(self, deadline: float) -> None:
        """Start counting for the next command, which must end by `deadline` (loop time)."""
        self.count = 0
        self.deadline = deadline


def privilege_levels(profile: CliProfile) -> dict[str, PrivilegeLevel]:
    """scrapli privilege levels for a profile: the command prompt, and the one before enable."""
    levels = {
        "privilege_exec": PrivilegeLevel(
            pattern=profile.prompt,
            name="privilege_exec",
            previous_priv="exec" if profile.user_prompt else "",
            deescalate="disable" if profile.user_prompt else "",
            escalate=profile.enable if profile.user_prompt else "",
            escalate_auth=bool(profile.user_prompt),
            escalate_prompt=profile.enable_prompt if profile.user_prompt else "",
        )
    }
    if profile.user_prompt:
        levels["exec"] = PrivilegeLevel(
            pattern=profile.user_prompt,
            name="exec",
            previous_priv="",
            deescalate="",
            escalate="",
            escalate_auth=False,
            escalate_prompt="",
        )
    return levels


def failure_reason(exc: BaseException) -> tuple[str, str]:
    """(reason, message) for an exception raised while logging in or running a command."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, HostKeyNotVerifiable):
        return "host_key", f"host key refused: {text}"
    if isinstance(exc, ScrapliTimeout | TimeoutError):
        return "timeout", f"timed out: {text}"
    if isinstance(exc, ScrapliAuthenticationFailed | PermissionDenied):
        if "host key" in text.lower() or "not trusted" in text.lower():
            return "host_key", f"host key refused: {text}"
        if "timed out" in text:
            return "timeout", text
        cause = exc.__cause__
        if cause is not None and "host key" in str(cause).lower():
            return "host_key", f"host key refused: {cause}"
        return "auth", f"authentication failed: {text}"
    if isinstance(exc, ScrapliPrivilegeError):
        return "auth", f"the enable step failed (check enable_password): {text}"
    if isinstance(exc, KeyImportError):
        return "auth", f"cannot read the private key: {text}"
    if "host key" in text.lower():
        return "host_key", f"host key refused: {text}"
    if isinstance(
        exc,
        ScrapliConnectionError | ScrapliConnectionNotOpened | OSError | EOFError | AsyncsshError,
    ):
        return "connection", f"connection failed: {text}"
    return "other", f"{type(exc).__name__}: {text}"
