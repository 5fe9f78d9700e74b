"""The README's demo command starts, shows real metrics from the simulated devices, and stops."""

import subprocess
import sys
from pathlib import Path

from tests.servers.ports import free_tcp_port

REPO = Path(__file__).resolve().parents[2]


def test_demo_prints_commands_and_real_metrics() -> None:
    port = free_tcp_port()
    done = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--once", "--port", str(port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"curl 'http://127.0.0.1:{port}/probe?target=127.0.0.1:" in done.stdout
    assert 'probe_success{prober="snmp"} 1' in done.stdout
    assert 'sys_object_id="1.3.6.1.4.1.9.1.1208"' in done.stdout
    # nothing left listening
    assert (
        subprocess.run(
            ["ss", "-ltn", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout.count(str(port))
        == 0
    )
