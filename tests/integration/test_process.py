"""The installed console script: starts, serves, reloads on SIGHUP (refusing a bad config)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.httpwait import http_get as _get
from tests.integration.httpwait import until
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command

CONFIG = "modules:\n  ping:\n    icmp: {count: 1}\n"

_until = until


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    config = tmp_path / "chm.yml"
    config.write_text(CONFIG)
    port = free_tcp_port()
    proc = subprocess.Popen(
        exporter_command(config, f"127.0.0.1:{port}"),
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(f"{base}/-/healthy")[0] == 200)
        yield base, config, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_sighup_reloads_and_refuses_bad_config(
    exporter: tuple[str, Path, subprocess.Popen[bytes]],
) -> None:
    base, config, proc = exporter
    assert _get(f"{base}/probe?target=127.0.0.1&module=ping")[0] == 200

    config.write_text(CONFIG + "  bad: {}\n")
    proc.send_signal(signal.SIGHUP)
    _until(lambda: "chm_exporter_config_last_reload_successful 0.0" in _get(f"{base}/metrics")[1])
    assert _get(f"{base}/probe?target=127.0.0.1&module=ping")[0] == 200  # old config serves

    config.write_text(CONFIG.replace("ping", "pong"))
    proc.send_signal(signal.SIGHUP)
    _until(lambda: _get(f"{base}/probe?target=127.0.0.1&module=pong")[0] == 200)
    assert _get(f"{base}/probe?target=127.0.0.1&module=ping")[0] == 400


def test_invalid_config_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "chm.yml"
    config.write_text("modules: {m: {snmp: {walk: sideways}}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "chm_exporter", "--config.file", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "modules.m.snmp.walk" in done.stderr
