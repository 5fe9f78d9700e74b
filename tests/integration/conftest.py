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
