"""Real SNMP agents for the integration tests, started on loopback and stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration import corpus

SNMPSIM = Path("/opt/chm-snmpsim/bin/snmpsim-command-responder")


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_agent(port: int, community: str, proc: subprocess.Popen[bytes], limit: float) -> None:
    """Poll sysObjectID with net-snmp's snmpget until the agent answers."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited with {proc.returncode}")
        ok = subprocess.run(
            [
                "snmpget",
                "-v2c",
                "-c",
                community,
                "-t",
                "1",
                "-r",
                "0",
                "-On",
                f"127.0.0.1:{port}",
                "1.3.6.1.2.1.1.2.0",
            ],
            capture_output=True,
            check=False,
        )
        if ok.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"agent on port {port} did not answer within {limit}s")


@dataclass
class SnmpsimServer:
    """snmpsim serving the corpus; community = device path below snmprec/ without suffix."""

    port: int
    communities: list[str]


@pytest.fixture(scope="session")
def snmpsim_server() -> Iterator[SnmpsimServer]:
    """snmpsim 1.2.2 serving every corpus walk on 127.0.0.1 (copied where `nobody` can read)."""
    if not SNMPSIM.exists():
        pytest.fail(f"{SNMPSIM} is missing: run scripts/setup.sh")
    root = Path(tempfile.mkdtemp(prefix="chm-snmpsim-"))
    data, cache = root / "data", root / "cache"
    shutil.copytree(corpus.SNMPREC, data, ignore=shutil.ignore_patterns("*.tsv"))
    cache.mkdir()
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o644)
    port = free_udp_port()
    args = [
        str(SNMPSIM),
        f"--data-dir={data}",
        f"--cache-dir={cache}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
    ]
    if os.geteuid() == 0:
        args += ["--process-user=nobody", "--process-group=nogroup"]
    log = (root / "snmpsim.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_agent(port, "cisco_ios/ios_2960x", proc, 120)
        yield SnmpsimServer(port=port, communities=corpus.communities())
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


# --- net-snmp snmpd -----------------------------------------------------------------------------

SNMPD = Path("/usr/sbin/snmpd")
SYS_NAME = "chm-snmpd-test"


@dataclass(frozen=True)
class V3User:
    """A v3 user snmpd knows, in the exporter's protocol spellings."""

    name: str
    level: str
    auth: str | None = None
    auth_password: str | None = None
    priv: str | None = None
    priv_password: str | None = None


V3_USERS = [
    V3User("chm_noauth", "noAuthNoPriv"),
    V3User("chm_md5", "authNoPriv", "MD5", "md5-password-1"),
    V3User("chm_sha", "authNoPriv", "SHA", "sha-password-1"),
    V3User("chm_sha256", "authNoPriv", "SHA256", "sha256-password-1"),
    V3User("chm_des", "authPriv", "SHA", "des-auth-pass-1", "DES", "des-priv-pass-1"),
    V3User("chm_aes", "authPriv", "SHA", "aes-auth-pass-1", "AES", "aes-priv-pass-1"),
    V3User("chm_aes256", "authPriv", "SHA256", "aes256-auth-pass", "AES256", "aes256-priv-pass"),
]
_NETSNMP = {"SHA": "SHA", "MD5": "MD5", "SHA256": "SHA-256", "DES": "DES", "AES": "AES",
            "AES256": "AES-256"}


def _create_user(user: V3User) -> str:
    line = f"createUser {user.name}"
    if user.auth:
        line += f" {_NETSNMP[user.auth]} {user.auth_password}"
    if user.priv:
        line += f" {_NETSNMP[user.priv]} {user.priv_password}"
    level = {"noAuthNoPriv": "noauth", "authNoPriv": "auth", "authPriv": "priv"}[user.level]
    return f"{line}\nrouser {user.name} {level}\n"


@dataclass
class SnmpdServer:
    """Debian's net-snmp snmpd on loopback (IPv4 and IPv6) with a v2c community and v3 users."""

    port: int
    community: str
    users: list[V3User]
    sys_name: str


@pytest.fixture(scope="session")
def snmpd_server() -> Iterator[SnmpdServer]:
    """snmpd on 127.0.0.1 and [::1] with community `public` and one v3 user per algorithm."""
    if not SNMPD.exists():
        pytest.fail(f"{SNMPD} is missing: run scripts/setup.sh (Debian package snmpd)")
    root = Path(tempfile.mkdtemp(prefix="chm-snmpd-"))
    port = free_udp_port()
    conf = root / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:127.0.0.1:{port},udp6:[::1]:{port}\n"
        f"persistentDir {root}\n"
        "rocommunity public 127.0.0.1\nrocommunity6 public ::1\n"
        f"sysName {SYS_NAME}\nsysLocation loopback\nsysContact chm-tests\n"
        + "".join(_create_user(u) for u in V3_USERS)
    )
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(root), "MIBS": ""}
    log = (root / "snmpd.log").open("wb")
    proc = subprocess.Popen(
        [str(SNMPD), "-f", "-Lo", "-C", "-c", str(conf), "-p", str(root / "snmpd.pid")],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    try:
        wait_for_agent(port, "public", proc, 20)
        yield SnmpdServer(port=port, community="public", users=V3_USERS, sys_name=SYS_NAME)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
