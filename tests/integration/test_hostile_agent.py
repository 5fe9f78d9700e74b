"""The exporter against the hostile agent: whatever an agent sends, every probe is answered
(HTTP 200 with probe_success), by its deadline + 0.1 s, and the process lives on.

Each behaviour gets a fresh exporter process, so a walk that outlives its answer cannot slow the
next case down; after the probe the test checks that the exporter still answers at once.
"""

from __future__ import annotations

import contextlib
import http.client
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.servers.hostile_agent import BEHAVIOURS
from tests.servers.ports import free_tcp_port, free_udp_port
from tests.servers.process import exporter_command, stop_process

SCRAPE_TIMEOUT = 1.5
DEADLINE = 1.0  # the scrape timeout minus the default offset of 0.5 s
SLACK = 0.1
PROBES_PER_CASE = 5  # a late answer depends on timing: once is not proof either way

# Every behaviour is answered in time, the endless table included: its walk stops at the
# deadline, and the evaluation of what it read is cut 0.03 s after it (the clock looked at
# every 4 rows; a row of 200-byte labels costs 0.15 ms).


@pytest.fixture(scope="module")
def agent_port() -> Iterator[int]:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.hostile_agent", "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"hostile agent on")
        yield port
    finally:
        stop_process(proc, 5)
        if proc.stdout is not None:
            proc.stdout.close()


def _config(walk: str) -> dict[str, object]:
    return {
        "auths": {name: {"version": "2c", "community": name} for name in BEHAVIOURS},
        "modules": {
            "hostile": {
                "timeout": DEADLINE,
                "snmp": {
                    "profiles": ["system", "if_mib"],
                    "timeout": 0.3,
                    "retries": 0,
                    "walk": walk,
                    "lookup_cache_seconds": 0,
                },
            }
        },
    }


def _get(port: int, path: str, timeout: float = 15) -> tuple[int | None, str, float]:
    """(status or None when the connection dropped, body, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), time.monotonic() - started
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}", time.monotonic() - started
    finally:
        conn.close()


RANDOM = ("garbage", "mutate")  # a different reply each time: see the many-probes test below


@pytest.mark.parametrize(
    ("behaviour", "walk"),
    [(n, w) for n in BEHAVIOURS if n not in RANDOM for w in ("bulk", "getnext")],
)
def test_every_probe_is_answered_by_its_deadline(
    tmp_path: Path, agent_port: int, behaviour: str, walk: str
) -> None:
    with _exporter(tmp_path, walk) as port:
        target = f"127.0.0.1:{agent_port}"
        for _ in range(PROBES_PER_CASE):
            status, body, seconds = _get(
                port,
                f"/probe?target={target}&module=hostile&auth={behaviour}&debug=true",
                timeout=DEADLINE + 1,
            )
            assert status == 200, body
            assert 'probe_success{prober="snmp"}' in body
            assert "internal error (a bug)" not in body, body.split("Metrics that")[0][-2000:]
            if behaviour == "normal":
                assert 'probe_success{prober="snmp"} 1' in body
            assert seconds < DEADLINE + SLACK, f"answered after {seconds:.3f}s"
            status, _, seconds = _get(port, "/-/healthy", 5)
            assert status == 200
            assert seconds < 0.5, f"the exporter took {seconds:.3f}s to answer a health check"


@contextlib.contextmanager
def _exporter(tmp_path: Path, walk: str) -> Iterator[int]:
    """An exporter process for the hostile agent; yields its port once it answers."""
    config = tmp_path / "chm.yml"
    config.write_text(yaml.safe_dump(_config(walk)))
    port = free_tcp_port()
    proc = subprocess.Popen(
        exporter_command(config, f"127.0.0.1:{port}"), stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if _get(port, "/-/healthy", 1)[0] == 200:
                break
            time.sleep(0.1)
        yield port
    finally:
        stop_process(proc, 5)


@pytest.mark.parametrize("behaviour", RANDOM)
def test_random_and_mutated_replies_never_drop_an_answer(
    tmp_path: Path, agent_port: int, behaviour: str
) -> None:
    problems = []
    with _exporter(tmp_path, "getnext") as port:
        for _ in range(40):
            status, body, seconds = _get(
                port, f"/probe?target=127.0.0.1:{agent_port}&module=hostile&auth={behaviour}"
            )
            if status != 200 or seconds >= DEADLINE + SLACK:
                problems.append(f"{status} after {seconds:.3f}s: {body[:80]}")
    assert problems == []
