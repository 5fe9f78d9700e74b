"""The SSH prober: log in (or reuse the device's session), run the platform's commands, parse
their output with TextFSM templates and emit the same metrics as the SNMP profiles.

:func:`collect` does the I/O only, filling a :class:`SshRaw` as it goes; :func:`emit` turns
whatever was collected into metrics and decides success. A device that hangs in mid-output is
stopped at the deadline: the commands answered before still give their metrics, the probe
fails, and the hung session is dropped (the next scrape logs in again).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from chm_exporter.allowlist import TargetRules
from chm_exporter.catalogue import declared
from chm_exporter.config import LoadedConfig
from chm_exporter.errors import SshProbeError
from chm_exporter.exposition import MetricSink
from chm_exporter.probers.context import ProbeContext, ProbeRequest
from chm_exporter.ssh.config import SshSettings
from chm_exporter.ssh.emit import emit_records
from chm_exporter.ssh.logs import count_new, emit_logs, messages
from chm_exporter.ssh.profile import CliProfile, Command, load_cli_profile
from chm_exporter.ssh.sessions import DeviceSession, SessionKey

NAME = "ssh"
_COMMAND_DURATION = declared("probe_ssh_command_duration_seconds", ("command",))
_REUSED = declared("probe_ssh_session_reused")


@dataclass
class SshRaw:
    """What collect() read from the device; emit() works on it, complete or not."""

    outputs: list[tuple[Command, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # command, device's answer
    seconds: dict[str, float] = field(default_factory=dict)
    reused: bool | None = None
    finished: bool = False
    device: DeviceSession | None = None  # its session record (the log watermark's key)


def commands(profile: CliProfile, settings: SshSettings) -> list[Command]:
    """The profile's commands this module runs (the log buffer only when `logs` is on)."""
    return [c for c in profile.commands if settings.logs or c.logs is None]


def ssh_port(ctx: ProbeContext, settings: SshSettings) -> int:
    """The module's SSH port; a port in the target wins when no SNMP prober shares it."""
    target = ctx.request.target
    if target.port is not None and ctx.request.module.snmp is None:
        return target.port
    return settings.port


def target_rules(
    request: ProbeRequest, config: LoadedConfig, settings: SshSettings
) -> tuple[str, TargetRules]:
    """Where the module's SSH credentials may be sent (their `allowed_targets`)."""
    return f"ssh_auths.{settings.auth}", config.config.ssh_auths[settings.auth].allowed_targets


async def collect(ctx: ProbeContext, settings: SshSettings, raw: SshRaw) -> None:
    """Run the platform's commands on the device's session, appending each output to `raw`.

    Cut at the deadline, `raw` keeps what was read and the pool closes the session.

    Raises:
        SshProbeError: login, host key or session failure, with its reason.
        ResolveError: the target has no address.
    """
    # scrapli and asyncssh load with the first SSH probe, not with the exporter (sessions.py)
    from asyncssh import Error as AsyncsshError
    from scrapli.exceptions import ScrapliException

    from chm_exporter.ssh.driver import failure_reason

    pool = ctx.ssh
    profile = load_cli_profile(settings.platform)
    auth = ctx.config.config.ssh_auths[settings.auth]
    key = SessionKey(ctx.address(), ssh_port(ctx, settings), auth.username, settings.platform)
    entry = ctx.devices.get(
        NAME, DeviceSession, *map(str, (key.host, key.port, key.username, key.platform)),
        new=lambda: pool.new_device(key),
    )  # fmt: skip
    raw.device = entry
    try:
        async with pool.session(entry, settings, auth, profile) as (driver, reused):
            raw.reused = reused
            for command in commands(profile, settings):
                if entry.cap is not None:
                    limit = asyncio.get_running_loop().time() + settings.command_timeout
                    entry.cap.reset(min(limit, ctx.deadline))
                started = time.perf_counter()
                response = await driver.send_command(command.command)
                raw.seconds[command.command] = time.perf_counter() - started
                if response.failed:
                    raw.rejected.append((command.command, response.result.strip()[:200]))
                else:
                    raw.outputs.append((command, response.result))
    except asyncio.CancelledError:
        pool.metrics.failures.labels("timeout").inc()
        raise
    except (ScrapliException, AsyncsshError, OSError, EOFError) as exc:
        reason, message = failure_reason(exc)
        pool.metrics.failures.labels(reason).inc()
        raise SshProbeError(message, reason) from exc
    raw.finished = True


def emit(ctx: ProbeContext, settings: SshSettings, raw: SshRaw, sink: MetricSink) -> bool:
    """Turn what was collected into metrics; True when every command was answered."""
    from chm_exporter.ssh.parse import ParseError, parse_first  # TextFSM: on first use

    log = ctx.log
    context = {"profile": load_cli_profile(settings.platform).labels}
    for command, text in raw.outputs:
        try:
            _, records = parse_first(command.templates, text)
        except ParseError as exc:
            log.warning(
                "ssh: %r: %s rejects the output: %s", command.command, command.template, exc
            )
            continue
        added = emit_records(command.metrics, records, context, sink)
        log.debug("ssh: %r: %d records, %d samples", command.command, len(records), added)
        if command.logs is not None and raw.device is not None:
            buffer = messages(command.logs, records)
            with ctx.ssh.log_state(raw.device) as state:
                new = count_new(state, buffer)
                emit_logs(state, buffer, sink)
            log.debug("ssh: %d log messages in the buffer, %d new", len(buffer), new)
    for command_text, answer in raw.rejected:
        log.warning("ssh: the device rejected %r: %s", command_text, answer)
    for command_text, seconds in raw.seconds.items():
        sink.add(_COMMAND_DURATION.name, seconds, {"command": command_text}, _COMMAND_DURATION.help)
    if raw.reused is not None:
        sink.add(_REUSED.name, int(raw.reused), None, _REUSED.help)
    if not raw.finished:
        done = len(raw.outputs) + len(raw.rejected)
        log.warning("ssh: %d commands answered before the probe ended", done)
    return raw.finished
