"""Thin wrappers around the net-snmp command-line tools (Debian package ``snmp``).

They let tests check the servers from outside, with a client that is not ours. Always numeric:
Debian ships no IF-MIB file, so every call passes ``-On`` and loads no MIB (``MIBS=``). The
tools run with a private ``SNMP_PERSISTENT_DIR`` and ``SNMPCONFPATH`` so that they neither
read the machine's ``snmp.conf`` nor write under ``/var/lib/snmp``.

SNMPv3 credentials use the project's protocol spellings (``MD5 SHA SHA256`` /
``DES AES AES256``); :func:`v3_args` maps them to net-snmp's (``SHA-256``, ``AES-256``).
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

__all__ = [
    "NETSNMP_AUTH",
    "NETSNMP_PRIV",
    "V3Auth",
    "Varbind",
    "cli_env",
    "parse_varbinds",
    "snmp_target",
    "snmpbulkwalk",
    "snmpget",
    "v3_args",
]

SNMPGET = "/usr/bin/snmpget"
SNMPBULKWALK = "/usr/bin/snmpbulkwalk"

#: Project spelling -> net-snmp ``-a`` / ``-x`` spelling.
NETSNMP_AUTH: dict[str, str] = {"MD5": "MD5", "SHA": "SHA", "SHA256": "SHA-256"}
NETSNMP_PRIV: dict[str, str] = {"DES": "DES", "AES": "AES", "AES256": "AES-256"}


class V3Auth(NamedTuple):
    """SNMPv3 USM credentials of one user: ``(auth_proto, auth_pw, priv_proto, priv_pw)``.

    Protocols use the project's spellings (``MD5 SHA SHA256`` and ``DES AES AES256``);
    ``None`` where the level has no such key.
    """

    auth_proto: str | None
    auth_pw: str | None
    priv_proto: str | None
    priv_pw: str | None

    @property
    def level(self) -> str:
        """The USM security level: ``noAuthNoPriv``, ``authNoPriv`` or ``authPriv``."""
        if self.priv_proto:
            return "authPriv"
        if self.auth_proto:
            return "authNoPriv"
        return "noAuthNoPriv"


class Varbind(NamedTuple):
    """One line of ``-On`` output: the type as net-snmp names it and the value text.

    ``STRING`` values have their surrounding quotes removed; OIDs keep net-snmp's leading dot
    stripped so they compare equal to the numeric OIDs used in the snmprec files.
    """

    type: str
    value: str


@cache
def _private_dir() -> str:
    """A per-process directory for the tools' persistent state and (empty) config path."""
    path = tempfile.mkdtemp(prefix="chm-netsnmp-cli-")
    atexit.register(shutil.rmtree, path, True)
    return path


def cli_env() -> dict[str, str]:
    """Environment for the net-snmp tools: no MIBs, no system config, private state."""
    path = _private_dir()
    return {
        "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "MIBS": "",
        "SNMP_PERSISTENT_DIR": path,
        "SNMPCONFPATH": path,
        "HOME": path,
    }


def snmp_target(host: str, port: int) -> str:
    """net-snmp's agent specifier: ``udp:127.0.0.1:1161`` or ``udp6:[::1]:1161``."""
    if ":" in host:
        return f"udp6:[{host}]:{port}"
    return f"udp:{host}:{port}"


def v3_args(user: str, auth: V3Auth) -> list[str]:
    """``-v3 -l ... -u ... [-a -A] [-x -X]`` for ``user`` with ``auth``."""
    args = ["-v3", "-l", auth.level, "-u", user]
    if auth.auth_proto:
        args += ["-a", NETSNMP_AUTH[auth.auth_proto], "-A", auth.auth_pw or ""]
    if auth.priv_proto:
        args += ["-x", NETSNMP_PRIV[auth.priv_proto], "-X", auth.priv_pw or ""]
    return args


def _security_args(community: str | None, v3: tuple[str, V3Auth] | None, version: str) -> list[str]:
    """Either the v1/v2c community arguments or the v3 ones."""
    if v3 is not None:
        return v3_args(*v3)
    return [f"-v{version}", "-c", community if community is not None else "public"]


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one tool with :func:`cli_env`, capturing text output, never raising on exit code."""
    return subprocess.run(
        list(argv),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def snmpget(
    host: str,
    port: int,
    oids: Sequence[str],
    *,
    community: str | None = None,
    v3: tuple[str, V3Auth] | None = None,
    version: str = "2c",
    timeout: float = 1.0,
    retries: int = 0,
) -> subprocess.CompletedProcess[str]:
    """``snmpget -On`` of ``oids``; pass ``community`` (v1/v2c) or ``v3=(user, V3Auth)``."""
    argv = [SNMPGET, "-On", "-t", str(timeout), "-r", str(retries)]
    argv += _security_args(community, v3, version)
    argv += [snmp_target(host, port), *oids]
    return _run(argv, timeout * (retries + 1) + 10)


def snmpbulkwalk(
    host: str,
    port: int,
    oid: str,
    *,
    community: str | None = None,
    v3: tuple[str, V3Auth] | None = None,
    max_repetitions: int = 25,
    timeout: float = 2.0,
    retries: int = 1,
) -> subprocess.CompletedProcess[str]:
    """``snmpbulkwalk -On -Cr<max_repetitions>`` of the subtree ``oid`` (v2c unless ``v3``)."""
    argv = [SNMPBULKWALK, "-On", f"-Cr{max_repetitions}", "-t", str(timeout), "-r", str(retries)]
    argv += _security_args(community, v3, "2c")
    argv += [snmp_target(host, port), oid]
    return _run(argv, 120)


def _unquote(text: str) -> str:
    """Strip one pair of surrounding double quotes."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _parse_value(rhs: str) -> Varbind:
    """Split ``STRING: "x"`` into a :class:`Varbind`; untyped text (``No Such Object``) as is."""
    kind, sep, value = rhs.partition(": ")
    if not sep or " " in kind:
        return Varbind("", rhs)
    if kind == "OID":
        value = value.removeprefix(".")
    return Varbind(kind, _unquote(value) if kind == "STRING" else value)


def parse_varbinds(stdout: str) -> dict[str, Varbind]:
    """Parse ``-On`` output into ``{numeric OID without leading dot: Varbind}``.

    Lines that do not start a new varbind (wrapped multi-line strings) continue the previous one.
    """
    result: dict[str, Varbind] = {}
    last: str | None = None
    for line in stdout.splitlines():
        if line.startswith(".") and " = " in line:
            oid, _, rhs = line.partition(" = ")
            last = oid.removeprefix(".")
            result[last] = _parse_value(rhs)
        elif last is not None:
            previous = result[last]
            result[last] = Varbind(previous.type, f"{previous.value}\n{line}")
    return result
