"""``--web.workers 2``: two processes answer on one address, reloads reach both, /metrics adds up,
SIGTERM stops everything, and a worker that dies takes the exporter down (exit 1).

Each request here opens a new connection (urllib does not keep connections alive), so the
kernel's SO_REUSEPORT hashing spreads them over the workers; the landing page names the pid of
the worker that answered.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.httpwait import http_get as _get
from tests.integration.httpwait import until
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command

CONFIG = "modules:\n  ping:\n    icmp: {count: 1, preferred_ip_protocol: ip4}\n"
#: fresh connections tried before concluding that a worker never answers (each lands on a
#: given one of two workers with probability 1/2: missing one 60 times is ~1e-18)
ATTEMPTS = 60
_PID = re.compile(r"pid (\d+)</p>")
_MODULE = re.compile(r"<li>([\w-]+): ")


def _until(check: Callable[[], object]) -> None:
    until(check, limit=20)


@dataclass
class Exporter:
    base: str
    config: Path
    process: subprocess.Popen[bytes]

    def workers(self) -> set[int]:
        """The supervisor's children."""
        pid = self.process.pid
        return set(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))

    def landing_pages(self) -> dict[int, str]:
        """The landing page of every worker (fresh connections until each has answered)."""
        pages: dict[int, str] = {}
        expected = self.workers()
        for _ in range(ATTEMPTS):
            status, page = _get(f"{self.base}/")
            assert status == 200
            match = _PID.search(page)
            assert match, page
            pages[int(match.group(1))] = page
            if set(pages) == expected:
                return pages
        raise AssertionError(f"workers {expected} answered: only {set(pages)}")

    def all_listening(self) -> bool:
        """True once every worker has answered (the second may bind a moment after the first)."""
        try:
            self.landing_pages()
        except AssertionError:
            return False
        return True

    def modules_by_worker(self) -> dict[int, set[str]]:
        """Modules each worker serves (besides auto, which always exists)."""
        pages = self.landing_pages().items()
        return {pid: set(_MODULE.findall(page)) - {"auto"} for pid, page in pages}


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    config = tmp_path / "chm.yml"
    config.write_text(CONFIG)
    port = free_tcp_port()
    with (tmp_path / "exporter.log").open("wb") as log:
        proc = subprocess.Popen(
            exporter_command(
                config, f"127.0.0.1:{port}", "--web.workers", "2", "--web.enable-lifecycle"
            ),
            stderr=log,
        )
    state = Exporter(f"http://127.0.0.1:{port}", config, proc)
    try:
        _until(lambda: _get(f"{state.base}/-/healthy")[0] == 200 and len(state.workers()) == 2)
        try:
            _until(state.all_listening)
        except AssertionError:
            log_text = (tmp_path / "exporter.log").read_text(errors="replace")
            raise AssertionError(f"not every worker answers; log:\n{log_text[-3000:]}") from None
        yield state
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def test_two_workers_answer(exporter: Exporter) -> None:
    pages = exporter.landing_pages()
    assert len(pages) == 2
    assert set(pages) == exporter.workers()
    assert exporter.process.pid not in pages, "the supervisor itself must not serve"


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_metrics_add_up_across_workers(exporter: Exporter) -> None:
    probes = 30
    for _ in range(probes):
        assert _get(f"{exporter.base}/probe?target=127.0.0.1&module=ping")[0] == 200
    # Each worker served some of them (its landing page lists its own recent probes) ...
    served = {pid: page.count("<td>ping</td>") for pid, page in exporter.landing_pages().items()}
    assert sum(served.values()) == probes, served
    assert all(served.values()), f"one worker served no probe: {served}"
    # ... and /metrics, whichever worker answers it, counts all of them.
    total = 'chm_exporter_probes_total{module="ping",prober="icmp",result="success"}'
    for _ in range(6):
        text = _get(f"{exporter.base}/metrics")[1]
        assert _metric(text, total) == probes
        assert _metric(text, "chm_exporter_workers") == 2
        assert _metric(text, "chm_exporter_probes_in_flight") == 0
    # process_* cover the supervisor and both workers.
    pids = [exporter.process.pid, *exporter.workers()]
    fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)
    assert abs(_metric(text, "process_open_fds") - fds) <= 4, (text, fds)


def test_reload_reaches_every_worker(exporter: Exporter) -> None:
    assert all(m == {"ping"} for m in exporter.modules_by_worker().values())

    # POST /-/reload lands on one worker; the other reloads too.
    exporter.config.write_text(CONFIG + CONFIG.replace("modules:\n", "").replace("ping", "pong"))
    status, body = _get(f"{exporter.base}/-/reload", data=b"")
    assert status == 200, body
    _until(lambda: all(m == {"ping", "pong"} for m in exporter.modules_by_worker().values()))

    # SIGHUP to the supervisor reaches both workers.
    exporter.config.write_text(CONFIG.replace("ping", "pang"))
    exporter.process.send_signal(signal.SIGHUP)
    _until(lambda: all(m == {"pang"} for m in exporter.modules_by_worker().values()))
    assert _get(f"{exporter.base}/probe?target=127.0.0.1&module=pang")[0] == 200

    # A refused config is refused by every worker, each keeps serving the old one.
    exporter.config.write_text(CONFIG + "  bad: {}\n")
    exporter.process.send_signal(signal.SIGHUP)
    gauge = "chm_exporter_config_last_reload_successful"
    _until(lambda: _metric(_get(f"{exporter.base}/metrics")[1], gauge) == 0)
    modules = exporter.modules_by_worker()
    assert all(m == {"pang"} for m in modules.values()), modules


def test_sigterm_stops_the_supervisor_and_every_worker(exporter: Exporter) -> None:
    workers = exporter.workers()
    exporter.process.send_signal(signal.SIGTERM)
    assert exporter.process.wait(15) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), f"worker {pid} is left"


def test_a_dead_worker_stops_the_exporter(exporter: Exporter) -> None:
    workers = sorted(exporter.workers())
    os.kill(workers[0], signal.SIGKILL)
    assert exporter.process.wait(15) == 1
    assert not Path(f"/proc/{workers[1]}").exists() or "Z" in _state(workers[1])


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat[stat.rindex(")") + 2 :].split()[0]
