"""An SSH network-device emulator (asyncssh) that answers with real recorded CLI output.

Each :class:`SshDevice` listens on a loopback port and plays one platform: login banner, the
platform's prompt, echo of what is typed (asyncssh's line editor), paging until the platform's
"paging off" command, the enable step, abbreviated commands (``sh ver``) and the recorded
outputs from ``../shared/corpus/cli`` and ``../shared/corpus/cli_genie`` (see
:func:`corpus_outputs`). It counts logins and sessions, and can be told to misbehave
(:class:`Faults`): wrong password (any password but the configured one), key authentication,
a host key change (:meth:`SshDevice.change_host_key`), a hang or disconnect in the middle of an
output, slow output, garbage, endless output.

Run it alone (for benchmarks) as ``python -m tests.servers.ssh_device --platform cisco_iosxe
--count 50``: it prints one ``port`` per line and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

__all__ = [
    "CORPUS",
    "PLATFORMS",
    "Faults",
    "PlatformStyle",
    "SshDevice",
    "corpus_outputs",
    "corpus_recordings",
]

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PAGE_LINES = 24


@dataclass(frozen=True)
class PlatformStyle:
    """How one platform's CLI looks: prompts, the paging-off command, the enable step."""

    prompt: str  # privileged prompt; {host} and {user} are filled in
    paging_off: tuple[str, ...]
    user_prompt: str = ""  # before `enable`; empty: the platform has no enable step
    error: str = "% Invalid input detected at '^' marker."
    more: str = " --More-- "
    extra: tuple[str, ...] = ()  # commands accepted silently (terminal width, ...)


PLATFORMS: dict[str, PlatformStyle] = {
    "cisco_ios": PlatformStyle(
        "{host}#",
        ("terminal length 0",),
        "{host}>",
        extra=("terminal width 511", "terminal width 512"),
    ),
    "cisco_iosxe": PlatformStyle(
        "{host}#",
        ("terminal length 0",),
        "{host}>",
        extra=("terminal width 511", "terminal width 512"),
    ),
    "cisco_nxos": PlatformStyle(
        "{host}#", ("terminal length 0",), extra=("terminal width 511", "terminal width 512")
    ),
    "arista_eos": PlatformStyle(
        "{host}#", ("terminal length 0",), "{host}>", extra=("terminal width 32767",)
    ),
    "juniper_junos": PlatformStyle(
        "{user}@{host}> ",
        ("set cli screen-length 0",),
        error="syntax error, expecting <command>.",
        more="---(more)---",
        extra=("set cli screen-width 511", "set cli complete-on-space off"),
    ),
    "aruba_aoscx": PlatformStyle("{host}# ", ("no page",), error="Invalid input: "),
    "hp_procurve": PlatformStyle("{host}# ", ("no page",), error="Invalid input: "),
    "ruckus_fastiron": PlatformStyle(
        "{host}#", ("skip-page-display",), "{host}>", error="Invalid input -> "
    ),
    "linux": PlatformStyle("{user}@{host}:~$ ", (), error="bash: command not found"),
}

# Which corpus folders hold each platform's recordings (ntc-templates and Genie names differ).
_CLI_DIRS: dict[str, tuple[str, ...]] = {
    "cisco_ios": ("cli/cisco_ios", "cli_genie/ios"),
    "cisco_iosxe": (
        "cli/cisco_ios",
        "cli_genie/ios",
        "cli_genie/iosxe",
        "cli_genie/iosxe_cat9k_c9300",
        "cli_genie/iosxe_cat3k_c3850",
    ),
    "cisco_nxos": ("cli/cisco_nxos",),
    "juniper_junos": ("cli/juniper_junos", "cli_genie/junos"),
    "arista_eos": ("cli/arista_eos",),
    "aruba_aoscx": ("cli/aruba_aoscx",),
    "hp_procurve": ("cli/hp_procurve",),
    "ruckus_fastiron": ("cli/ruckus_fastiron", "cli/brocade_fastiron"),
    "linux": ("cli/linux",),
}


def _genie_command(parser: str) -> str:
    """Genie's parser class name as the command it parses: ShowEnvironmentAll -> show ..."""
    return " ".join(w.lower() for w in re.findall(r"[A-Z][a-z]*", parser))


def corpus_recordings(platform: str) -> dict[str, list[Path]]:
    """Every recorded output for `platform`, by command, in a stable order."""
    found: dict[str, list[Path]] = {}
    for folder in _CLI_DIRS[platform]:
        base = CORPUS / folder
        genie = folder.startswith("cli_genie")
        for cmd_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            command = _genie_command(cmd_dir.name) if genie else cmd_dir.name.replace("_", " ")
            pattern = "*_output.txt" if genie else "*.raw"
            found.setdefault(command, []).extend(sorted(cmd_dir.glob(pattern)))
    return found


def read_recording(path: Path) -> str:
    """A recorded output as a device prints it: without the prompt-and-command line some
    recordings start with, and without the indentation Genie's tests keep them in."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    lines = textwrap.dedent(text.strip("\n")).split("\n")
    if lines and re.match(r"^(\S+[#>])?\s*(show|sh)\s[\w -]+$", lines[0]):
        lines = lines[1:]
    return "\n".join(lines).rstrip("\n") + "\n"


def corpus_outputs(platform: str, pick: dict[str, str] | None = None) -> dict[str, str]:
    """One recorded output per command for `platform`: the first recording, or the one whose
    file name contains ``pick[command]``."""
    out = {}
    for command, paths in corpus_recordings(platform).items():
        wanted = (pick or {}).get(command)
        chosen = next((p for p in paths if wanted and wanted in p.name), paths[0])
        out[command] = read_recording(chosen)
    return out


@dataclass
class Faults:
    """Misbehaviour, by command (full command text as recorded)."""

    hang: set[str] = field(default_factory=set)  # half the output, then silence
    disconnect: set[str] = field(default_factory=set)  # half the output, then close
    slow: dict[str, float] = field(default_factory=dict)  # seconds between lines
    garbage: set[str] = field(default_factory=set)  # binary noise instead of the output
    endless: set[str] = field(default_factory=set)  # lines forever


@dataclass
class SshDevice:
    """One emulated device; use as ``async with SshDevice(...) as dev:`` (dev.port is set)."""

    platform: str
    outputs: dict[str, str]
    hostname: str = "sw1"
    username: str = "netops"
    password: str = "s3cret-pass"
    enable_password: str = ""
    client_keys: list[asyncssh.SSHKey] = field(default_factory=list)
    banner: str = "Authorised access only.\n"
    faults: Faults = field(default_factory=Faults)
    host: str = "127.0.0.1"
    port: int = 0
    logins: int = 0
    auth_failures: int = 0
    sessions_open: int = 0
    commands: list[str] = field(default_factory=list)
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    _server: asyncssh.SSHAcceptor | None = None
    _conns: set[asyncssh.SSHServerConnection] = field(default_factory=set)

    @property
    def style(self) -> PlatformStyle:
        """The platform's CLI style."""
        return PLATFORMS[self.platform]

    async def start(self) -> None:
        """Listen on `host`:`port` (0: a free port, written back to `port`)."""
        self._server = await asyncssh.create_server(
            lambda: _Server(self),
            self.host,
            self.port,
            server_host_keys=[self.host_key],
            process_factory=self._session,
            encoding="utf-8",
            line_editor=True,
            keepalive_interval=0,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for conn in list(self._conns):
            conn.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def change_host_key(self) -> None:
        """Restart on the same port with a new host key (a replaced or impostor device)."""
        await self.stop()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        await self.start()

    def drop_connections(self) -> None:
        """Close every open connection from the device's side (a reload, an idle timeout)."""
        for conn in list(self._conns):
            conn.abort()

    async def __aenter__(self) -> SshDevice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def resolve(self, typed: str) -> str | None:
        """The full command `typed` abbreviates (``sh ver`` -> ``show version``), if one."""
        words = typed.split()
        if not words:
            return None
        known = [*self.outputs, *self.style.paging_off, *self.style.extra]
        if typed in known:
            return typed
        matches = [
            cmd
            for cmd in known
            if len(cmd.split()) == len(words)
            and all(full.startswith(w) for w, full in zip(words, cmd.split(), strict=True))
        ]
        return matches[0] if len(matches) == 1 else None

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        self.sessions_open += 1
        try:
            await _Cli(self, process).run()
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, BrokenPipeError):
            pass
        except (asyncssh.DisconnectError, ConnectionError, asyncssh.ChannelOpenError):
            pass
        finally:
            self.sessions_open -= 1
            if not process.is_closing():
                process.exit(0)


class _Server(asyncssh.SSHServer):
    def __init__(self, device: SshDevice) -> None:
        self._device = device
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._device._conns.add(conn)
        if self._device.client_keys:
            conn.set_authorized_keys(_authorized(self._device.client_keys))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._device._conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return bool(self._device.password)

    def public_key_auth_supported(self) -> bool:
        return bool(self._device.client_keys)

    def validate_password(self, username: str, password: str) -> bool:
        ok = username == self._device.username and password == self._device.password
        if not ok:
            self._device.auth_failures += 1
        return ok

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._device.username and any(
            key.public_data == k.public_data for k in self._device.client_keys
        )

    def auth_completed(self) -> None:
        self._device.logins += 1


def _authorized(keys: Iterable[asyncssh.SSHKey]) -> asyncssh.SSHAuthorizedKeys:
    text = "".join(k.export_public_key().decode() for k in keys)
    return asyncssh.import_authorized_keys(text)


class _Cli:
    """One interactive session: read a line, answer it, print the prompt."""

    def __init__(self, device: SshDevice, process: asyncssh.SSHServerProcess[str]) -> None:
        self.dev = device
        self.proc = process
        self.paging = bool(device.style.paging_off)
        self.enabled = not (device.style.user_prompt and device.enable_password)

    def prompt(self) -> str:
        style = self.dev.style
        text = style.prompt if self.enabled else style.user_prompt
        return text.format(host=self.dev.hostname, user=self.dev.username)

    async def run(self) -> None:
        out = self.proc.stdout
        if self.dev.banner:
            out.write(self.dev.banner + "\n")
        out.write(self.prompt())
        while True:
            line = await self.proc.stdin.readline()
            if not line:
                return
            typed = line.strip()
            if typed in ("exit", "quit", "logout"):
                return
            if typed and not await self.answer(typed):
                return
            out.write(self.prompt())

    async def answer(self, typed: str) -> bool:
        """Answer one command; False when the connection should end."""
        out = self.proc.stdout
        self.dev.commands.append(typed)
        if typed in ("enable", "en") and not self.enabled:
            return await self.enable()
        command = self.dev.resolve(typed)
        if command is None:
            out.write(f"{self.dev.style.error}\n")
            return True
        if command in self.dev.style.paging_off:
            self.paging = False
            return True
        if command in self.dev.style.extra:
            return True
        return await self.output(command, self.dev.outputs[command])

    async def enable(self) -> bool:
        self.proc.stdout.write("Password: ")
        editor: Any = self.proc.channel  # the line editor's channel (echo switchable)
        editor.set_echo(False)
        secret = await self.proc.stdin.readline()
        editor.set_echo(True)
        self.proc.stdout.write("\n")
        if secret.strip() == self.dev.enable_password:
            self.enabled = True
        else:
            self.proc.stdout.write("% Access denied\n")
        return True

    async def output(self, command: str, text: str) -> bool:
        faults = self.dev.faults
        out = self.proc.stdout
        lines = text.splitlines(keepends=True)
        if command in faults.garbage:
            out.write("\x00\x1b[31m\ufffd\x07\x08\x7f\x9b\xfe" * 40 + "\n")
            return True
        if command in faults.endless:
            for i in itertools.count():
                out.write(f"line {i} of an output that never ends\n")
                if i % 200 == 0:
                    await asyncio.sleep(0.001)
        if command in faults.hang or command in faults.disconnect:
            out.write("".join(lines[: max(1, len(lines) // 2)]))
            if command in faults.disconnect:
                await asyncio.sleep(0.05)
                self.proc.channel.get_connection().abort()
                return False
            await asyncio.Event().wait()
        delay = faults.slow.get(command, 0.0)
        if delay:
            for chunk in lines:
                out.write(chunk)
                await asyncio.sleep(delay)
            return True
        page = PAGE_LINES if self.paging else len(lines) or 1
        for start in range(0, len(lines), page):
            out.write("".join(lines[start : start + page]))  # one write per page, as devices do
            if start + page < len(lines):
                out.write(self.dev.style.more)
                await self.proc.stdin.readline()
        return True


async def _serve(platform: str, count: int, password: str) -> None:
    devices = [
        SshDevice(platform, corpus_outputs(platform), hostname=f"sw{i}", password=password)
        for i in range(count)
    ]
    for dev in devices:
        await dev.start()
        print(dev.port, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for dev in devices:
            await dev.stop()


def main() -> None:
    """Serve `--count` devices of one platform on loopback; print one port per line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", default="cisco_iosxe", choices=sorted(PLATFORMS))
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--password", default="s3cret-pass")
    args = parser.parse_args()
    asyncio.run(_serve(args.platform, args.count, args.password))


if __name__ == "__main__":
    main()
