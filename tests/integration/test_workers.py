"""``--web.workers 2``: two processes answer on one address, reloads reach both, /metrics adds up,
SIGTERM stops everything, a worker that dies takes the exporter down (exit 1), and discovery
runs in one worker while every worker answers /sd and /topology with what it found.

Each request here opens a new connection (urllib does not keep connections alive), so the
kernel's SO_REUSEPORT hashing spreads them over the workers; the landing page names the pid of
the worker that answered.
"""

from __future__ import annotations

import contextlib
import json
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
from tests.servers.loopback import MultiSnmpd
from tests.servers.ports import free_tcp_port, free_udp_port
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


@contextlib.contextmanager
def _two_workers(tmp_path: Path, config_text: str) -> Iterator[Exporter]:
    config = tmp_path / "chm.yml"
    config.write_text(config_text)
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


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    with _two_workers(tmp_path, CONFIG) as state:
        yield state


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


#: two agents on addresses of their own (a /29 swept: 6 addresses)
AGENTS = ["127.0.5.1", "127.0.5.2"]


def _discovery_config(port: int, job: str) -> str:
    return (
        CONFIG
        + f"""auths:
  public_v2: {{version: 2c, community: public}}
discovery:
  jobs:
    - name: {job}
      networks: [127.0.5.0/29]
      auths: [public_v2]
      port: {port}
      rate: 1000
      timeout: 0.5
      retries: 0
      interval: 1h
      crawl: {{max_depth: 0}}
"""
    )


def test_discovery_runs_in_one_worker_and_every_worker_answers_with_it(tmp_path: Path) -> None:
    port = free_udp_port(AGENTS[0])
    with (
        MultiSnmpd(AGENTS, port, "public", "workers-lab"),
        _two_workers(tmp_path, _discovery_config(port, "lab")) as exporter,
    ):
        targets = [f"{a}:{port}" for a in AGENTS]

        def every_worker_lists(job: str) -> bool:
            pages = exporter.landing_pages().values()
            return all(f"<td>{job}</td>" in p and "first run not done" not in p for p in pages)

        _until(lambda: every_worker_lists("lab"))
        answers = {_get(f"{exporter.base}/sd")[1] for _ in range(10)}  # fresh connections
        assert len(answers) == 1, answers  # the same from both workers
        groups = json.loads(answers.pop())
        assert [g["targets"] for g in groups] == [[t] for t in targets]
        assert {g["labels"]["discovery_job"] for g in groups} == {"lab"}
        topologies = {_get(f"{exporter.base}/topology")[1] for _ in range(10)}
        assert len(topologies) == 1
        assert len(json.loads(topologies.pop())["nodes"]) == 2
        # One worker swept: one run, the /29's 6 addresses once (every worker: 2 runs, 12).
        metrics = _get(f"{exporter.base}/metrics")[1]
        assert _metric(metrics, 'chm_exporter_discovery_runs_total{discovery_job="lab"}') == 1
        swept = 'chm_exporter_discovery_addresses_swept_total{discovery_job="lab"}'
        assert _metric(metrics, swept) == 6
        assert _metric(metrics, 'chm_exporter_discovery_interval_seconds{discovery_job="lab"}') == (
            3600
        )

        # A reload reaches the worker that runs the jobs, and the others follow it.
        exporter.config.write_text(_discovery_config(port, "campus"))
        exporter.process.send_signal(signal.SIGHUP)
        _until(lambda: every_worker_lists("campus"))
        for _ in range(10):
            groups = json.loads(_get(f"{exporter.base}/sd")[1])
            assert {g["labels"]["discovery_job"] for g in groups} == {"campus"}
        metrics = _get(f"{exporter.base}/metrics")[1]
        assert _metric(metrics, 'chm_exporter_discovery_runs_total{discovery_job="campus"}') == 1
