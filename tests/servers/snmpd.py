"""Debian's net-snmp agent (``/usr/sbin/snmpd`` 5.9.3) on loopback, for tests.

:class:`Snmpd` writes a private config, runs ``snmpd -f -C -c <conf>`` in the foreground with
its persistent state in a temporary directory (``SNMP_PERSISTENT_DIR`` and ``persistentDir``, so
``/var/lib/snmp`` is never touched), listens on ``udp:127.0.0.1:<port>`` and
``udp6:[::1]:<port>`` (same port), and waits until sysName answers before handing itself out::

    with Snmpd() as agent:
        snmpget(agent.host, agent.port, [SYS_NAME_OID], community=agent.community)
        user, auth = "chm_aes", agent.users["chm_aes"]   # V3Auth("SHA", ..., "AES", ...)

Communities: ``public`` (read-only, from 127.0.0.1 and ::1 only). An unknown community gets no
answer at all (net-snmp drops it), so clients see a timeout.

SNMPv3 users (:data:`V3_USERS`), one per level and algorithm; net-snmp's ``AES-256`` is the
Blumenthal key extension (draft-blumenthal-aes-usm-04), the one gufo-snmp's ``Aes256Key`` reads.

Many interfaces: :func:`tap_interfaces` creates tap devices (``ip tuntap ... mode tap``; dummy
links are not available in these kernels) which the agent's IF-MIB lists. Create them *before*
starting the agent, or wait a few seconds: snmpd caches its interface table.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.servers.lifecycle import ProcessServer, ServerStartError
from tests.servers.netsnmp import V3Auth, snmpget
from tests.servers.ports import free_udp_port_on

__all__ = [
    "IF_DESCR_OID",
    "SNMPD_BINARY",
    "SYS_CONTACT_OID",
    "SYS_LOCATION_OID",
    "SYS_NAME_OID",
    "V3_USERS",
    "Snmpd",
    "SnmpdStartError",
    "interface_exists",
    "tap_interfaces",
    "tap_names",
]

SNMPD_BINARY = "/usr/sbin/snmpd"
SYS_NAME_OID = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION_OID = "1.3.6.1.2.1.1.6.0"
SYS_CONTACT_OID = "1.3.6.1.2.1.1.4.0"
IF_DESCR_OID = "1.3.6.1.2.1.2.2.1.2"

#: user -> (auth_proto, auth_pw, priv_proto, priv_pw), project spellings.
V3_USERS: dict[str, V3Auth] = {
    "chm_noauth": V3Auth(None, None, None, None),
    "chm_md5": V3Auth("MD5", "chm-md5-auth-pw", None, None),
    "chm_sha": V3Auth("SHA", "chm-sha-auth-pw", None, None),
    "chm_sha256": V3Auth("SHA256", "chm-sha256-auth-pw", None, None),
    "chm_des": V3Auth("SHA", "chm-des-auth-pw", "DES", "chm-des-priv-pw"),
    "chm_aes": V3Auth("SHA", "chm-aes-auth-pw", "AES", "chm-aes-priv-pw"),
    "chm_aes256": V3Auth("SHA256", "chm-aes256-auth-pw", "AES256", "chm-aes256-priv-pw"),
}

_CREATE_AUTH = {"MD5": "MD5", "SHA": "SHA", "SHA256": "SHA-256"}
_CREATE_PRIV = {"DES": "DES", "AES": "AES", "AES256": "AES-256"}
_ROUSER_LEVEL = {"noAuthNoPriv": "noauth", "authNoPriv": "auth", "authPriv": "priv"}
_IFNAMSIZ = 15


class SnmpdStartError(ServerStartError):
    """snmpd exited or did not answer in time; the message carries its log."""


def _create_user_line(user: str, auth: V3Auth) -> str:
    """``createUser`` line for snmpd.conf."""
    parts = ["createUser", user]
    if auth.auth_proto:
        parts += [_CREATE_AUTH[auth.auth_proto], auth.auth_pw or ""]
    if auth.priv_proto:
        parts += [_CREATE_PRIV[auth.priv_proto], auth.priv_pw or ""]
    return " ".join(parts)


def _user_lines(users: dict[str, V3Auth]) -> list[str]:
    """``createUser`` and ``rouser`` lines for every user (rouser requires the user's level)."""
    lines = [_create_user_line(user, auth) for user, auth in users.items()]
    lines += [f"rouser {user} {_ROUSER_LEVEL[auth.level]}" for user, auth in users.items()]
    return lines


class Snmpd(ProcessServer):
    """A private snmpd on loopback; a context manager (also :meth:`start` / :meth:`stop`).

    Attributes after start: ``host`` (127.0.0.1), ``host6`` (::1 or None), ``port``,
    ``community``, ``sys_name``, ``sys_location``, ``sys_contact``, ``users``
    (user -> :class:`~tests.servers.netsnmp.V3Auth`), ``workdir``, ``conf_path``, ``log_path``.
    """

    name = "snmpd"
    start_error = SnmpdStartError
    port_taken_text = "Error opening specified endpoint"
    workdir_prefix = "chm-snmpd-"
    output_name = "stdio.log"

    def __init__(
        self,
        *,
        port: int | None = None,
        ipv6: bool = True,
        extra_conf: str = "",
        sys_name: str = "chm-test-snmpd",
        sys_location: str = "CHM test lab, loopback",
        sys_contact: str = "chm-tests@example.invalid",
        start_timeout: float = 10.0,
        binary: str = SNMPD_BINARY,
    ) -> None:
        """Configure; nothing runs until :meth:`start` (or ``with``).

        ``port`` None picks a free one (retried if someone takes it first); ``extra_conf``
        is appended verbatim to the generated snmpd.conf.
        """
        super().__init__(port=port, start_timeout=start_timeout)
        self.host = "127.0.0.1"
        self.host6: str | None = "::1" if ipv6 else None
        self.community = "public"
        self.sys_name = sys_name
        self.sys_location = sys_location
        self.sys_contact = sys_contact
        self.users: dict[str, V3Auth] = dict(V3_USERS)
        self.extra_conf = extra_conf
        self.binary = binary

    # -- paths ------------------------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        """The generated snmpd.conf."""
        return self.workdir / "snmpd.conf"

    @property
    def log_path(self) -> Path:
        """snmpd's own log (``-Lf``)."""
        return self.workdir / "snmpd.log"

    def log_text(self) -> str:
        """snmpd's log plus anything it wrote on stdout/stderr."""
        texts = [
            path.read_text(errors="replace")
            for path in (self.log_path, self.output_path)
            if path.exists()
        ]
        return "\n".join(texts)

    # -- config -----------------------------------------------------------------------------
    def config_text(self) -> str:
        """The snmpd.conf this instance runs with (needs ``port`` and ``workdir``)."""
        addresses = [f"udp:{self.host}:{self.port}"]
        if self.host6:
            addresses.append(f"udp6:[{self.host6}]:{self.port}")
        lines = [
            f"agentAddress {','.join(addresses)}",
            f"[snmp] persistentDir {self.workdir / 'persist'}",
            f"rocommunity {self.community} {self.host}",
            f"sysName {self.sys_name}",
            f"sysLocation {self.sys_location}",
            f"sysContact {self.sys_contact}",
            *_user_lines(self.users),
        ]
        if self.host6:
            lines.insert(3, f"rocommunity6 {self.community} {self.host6}")
        return "\n".join(lines) + "\n" + self.extra_conf + "\n"

    def _env(self) -> dict[str, str]:
        """snmpd's environment: private persistent dir, no MIB loading (no noise in the log)."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "SNMP_PERSISTENT_DIR": str(self.workdir / "persist"),
            "SNMPCONFPATH": str(self.workdir),
            "MIBS": "",
        }

    def _argv(self) -> list[str]:
        """Foreground, only our config, log to a file, pid file in the workdir."""
        return [
            self.binary,
            "-f",
            "-C",
            "-c",
            str(self.conf_path),
            "-Lf",
            str(self.log_path),
            "-p",
            str(self.workdir / "snmpd.pid"),
        ]

    # -- lifecycle (tests.servers.lifecycle) ------------------------------------------------
    def _prepare(self) -> None:
        """Check the binary, then make the private directory."""
        if not Path(self.binary).exists():
            raise SnmpdStartError(f"{self.binary} not found: run scripts/setup.sh (package snmpd)")
        super()._prepare()

    def _pick_port(self) -> int:
        return free_udp_port_on(self.host, self.host6)

    def _launch(self) -> None:
        """Write the config for this attempt's port, then spawn snmpd."""
        (self.workdir / "persist").mkdir(exist_ok=True)
        self.log_path.unlink(missing_ok=True)
        self.conf_path.write_text(self.config_text())
        super()._launch()

    def answers(self) -> bool:
        """True when a v2c GET of sysName returns this agent's sysName."""
        result = snmpget(
            self.host, self.port, [SYS_NAME_OID], community=self.community, timeout=0.3
        )
        return result.returncode == 0 and self.sys_name in result.stdout


# -- many interfaces ------------------------------------------------------------------------
def _ip_batch(commands: list[str], *, check: bool = False) -> None:
    """Run many ``ip`` commands in one process (``ip [-force] -batch -``).

    With ``check`` the batch stops at the first failure and raises with ``ip``'s message;
    without it (``-force``) every command is tried and failures are ignored (cleanup).
    """
    ip = shutil.which("ip") or "/usr/sbin/ip"
    argv = [ip, "-batch", "-"] if check else [ip, "-force", "-batch", "-"]
    result = subprocess.run(
        argv, input="\n".join(commands) + "\n", capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"ip -batch failed: {result.stderr.strip()}")


def tap_names(n: int, prefix: str = "chmtap") -> list[str]:
    """``n`` interface names ``<prefix><3 hex><index>``, unique per call (other test runs)."""
    token = secrets.token_hex(2)[:3]
    names = [f"{prefix}{token}{i}" for i in range(n)]
    too_long = [name for name in names if len(name) > _IFNAMSIZ]
    if too_long:
        raise ValueError(f"interface name {too_long[0]!r} exceeds {_IFNAMSIZ} characters")
    return names


@contextlib.contextmanager
def tap_interfaces(n: int, prefix: str = "chmtap") -> Iterator[list[str]]:
    """Create ``n`` tap devices in the root namespace; yield their names; delete them after.

    Needs root (CAP_NET_ADMIN). The devices stay down (no carrier), which is fine for IF-MIB.
    """
    names = tap_names(n, prefix)
    try:
        _ip_batch([f"tuntap add dev {name} mode tap" for name in names], check=True)
        yield names
    finally:
        _ip_batch([f"tuntap del dev {name} mode tap" for name in names])


def interface_exists(name: str) -> bool:
    """True when a network interface called ``name`` exists in this namespace."""
    return Path("/sys/class/net", name).exists()
