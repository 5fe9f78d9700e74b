"""The README's demo: real output from the devices of snmpsim-data with no corpus beside the
checkout, one line and a non-zero exit when its port is taken, and readiness judged on the
exporter it started, not on whatever answers on the port."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.demo import DemoError, wait_ready
from tests.servers.ports import free_tcp_port
from tests.servers.process import stop_process

REPO = Path(__file__).resolve().parents[2]


def run_demo(port: int, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--once", "--port", str(port)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )


def listening(port: int) -> bool:
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False
    ).stdout
    return bool(out.strip())


def test_demo_prints_real_metrics_without_the_corpus(tmp_path: Path) -> None:
    port = free_tcp_port()
    # No corpus anywhere: the demo's devices come from the snmpsim-data package.
    done = run_demo(port, env={**os.environ, "CHM_CORPUS": str(tmp_path / "none")})
    assert done.returncode == 0, done.stderr
    assert f"curl 'http://127.0.0.1:{port}/probe?target=127.0.0.1:" in done.stdout
    # Every device answered with its real identity (sysObjectID of the recorded 3560G).
    for name, vendor in [
        ("sw-cisco", "cisco"),
        ("rt-juniper", "juniper"),
        ("sw-arista", "arista"),
        ("sw-hpe", "hpe"),
        ("sw-brocade", "ruckus"),
        ("srv-linux", "net-snmp"),
    ]:
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith(f"  {name} "))
        assert "probe_success 1" in line, line
        assert f" {vendor}" in line, line
    assert 'probe_success{prober="snmp"} 1' in done.stdout
    assert 'sys_object_id="1.3.6.1.4.1.9.1.617"' in done.stdout
    assert "chm_temperature_celsius{" in done.stdout
    assert not listening(port), "the demo left its exporter running"


def test_second_demo_on_a_taken_port_fails_in_one_line() -> None:
    port = free_tcp_port()
    with socket.socket() as other:  # the first demo (or any exporter) holding the port
        other.bind(("127.0.0.1", port))
        other.listen()
        started = time.monotonic()
        done = run_demo(port)
        seconds = time.monotonic() - started
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"demo: 127.0.0.1:{port} is in use"), line
    assert "--port" in line
    assert done.stdout == "", "nothing may be printed as if it worked"
    assert seconds < 20, "the port is checked before anything starts"


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"Healthy")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def impostor() -> Iterator[int]:
    """Something else answering /-/healthy on a loopback port; yields the port."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("child", ["import time; time.sleep(60)", "raise SystemExit(3)"])
def test_readiness_is_the_started_exporters_not_the_ports(
    impostor: int, tmp_path: Path, child: str
) -> None:
    log = tmp_path / "exporter.log"
    log.write_text("bind: address already in use\n")
    process = subprocess.Popen([sys.executable, "-c", child])
    try:
        with pytest.raises(DemoError) as caught:
            wait_ready(f"http://127.0.0.1:{impostor}", impostor, process, log, limit=3)
    finally:
        stop_process(process, timeout=5)
    message = str(caught.value)
    assert "\n" not in message
    assert "bind: address already in use" in message
    expected = "did not become ready" if "sleep" in child else "exited with 3"
    assert expected in message
