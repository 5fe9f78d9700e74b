"""``--web.workers N``: N worker processes serving one address, and the supervisor above them.

Why processes sharing the port (``SO_REUSEPORT``) and not a front that hashes the target to a
worker: a scrape costs tens of milliseconds of CPU (walk, evaluation, rendering) and any front
in Python would parse every request and copy every answer (~100-400 kB) once more, on the one
core it runs on. With ``SO_REUSEPORT`` each worker listens on its own socket bound to the same
address and the kernel spreads new connections over them; no process sits in the data path.
The price is that a device is not pinned to a worker: each worker learns its own copy of the
per-device caches (chm_exporter.devicecache: the auto-selected profiles, learned bulk sizes,
lookup columns kept 15 minutes). With a 60 s interval a device costs each worker one uncached
scrape per 15 minutes instead of one for the whole process: at 2 workers 2 of 15 scrapes instead
of 1 (measured in docs/benchmarks.md), and the caches' memory once per worker.

Lifecycle (:func:`fork_workers`), decided before any event loop exists:

- the supervisor forks the workers; each child returns from :func:`fork_workers` and serves as a
  single exporter would (``web.run_app(..., reuse_port=True)``);
- SIGHUP to the supervisor is forwarded to every worker, each reloads its config; a worker that
  accepted ``POST /-/reload`` sends SIGHUP to the supervisor so that the others reload too;
- SIGTERM or SIGINT to the supervisor is forwarded; it waits for the workers (SIGKILL after
  :data:`STOP_TIMEOUT`) and exits 0;
- a worker that exits on its own (it could not bind, or crashed) stops the others and the
  supervisor exits 1: a service manager restarts the whole, no half-served port is left.

Self-metrics add up across workers through prometheus_client's multiprocess mode
(chm_exporter.selfmetrics): counters and histograms are summed over the workers, whichever
worker answers ``/metrics``. Discovery runs in the first worker only, which shares what it found
with the others through the same private directory (chm_exporter.discovery.shared).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field

from chm_exporter import selfmetrics

__all__ = ["STOP_TIMEOUT", "WorkerRole", "fork_workers", "notify_supervisor"]

STOP_TIMEOUT = 10.0
_log = logging.getLogger("chm_exporter")
_SUPERVISOR_ENV = "CHM_SUPERVISOR_PID"


@dataclass(frozen=True)
class WorkerRole:
    """What :func:`fork_workers` made of this process."""

    exit_code: int | None = None  # the supervisor's exit code; None in a worker (go on serving)
    index: int = 0
    directory: str | None = None  # the workers' private directory (None: a single process)

    @property
    def runs_discovery(self) -> bool:
        """Whether this process runs the discovery jobs: the first worker (or the only one);
        the others answer from what it found, through `directory` (chm_exporter.discovery)."""
        return self.index == 0


@dataclass
class _Supervisor:
    """The parent: forwards signals, reaps workers, stops them all at the end."""

    directory: str  # the workers' metric files
    workers: dict[int, int] = field(default_factory=dict)  # pid -> index
    stopping: bool = False
    failed: bool = False

    def forward(self, signum: int) -> None:
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def on_signal(self, signum: int, frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        self.forward(signum)

    def reap(self, block: bool) -> None:
        """Collect exited workers; an unexpected exit stops the rest."""
        while self.workers:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            index = self.workers.pop(pid, None)
            if index is None:
                continue
            selfmetrics.worker_exited(pid, self.directory)
            code = os.waitstatus_to_exitcode(status)
            if not self.stopping:
                _log.error("worker %d (pid %d) exited with %d; stopping the rest", index, pid, code)
                self.failed = self.stopping = True
                self.forward(signal.SIGTERM)
            if block:
                return

    def run(self) -> int:
        while self.workers and not self.stopping:
            self.reap(block=True)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.workers and time.monotonic() < deadline:
            self.reap(block=False)
            time.sleep(0.05)
        for pid in list(self.workers):
            _log.error("worker pid %d did not stop in %.0f s: killed", pid, STOP_TIMEOUT)
            os.kill(pid, signal.SIGKILL)
        self.reap(block=True)
        return 1 if self.failed else 0


def fork_workers(count: int) -> WorkerRole:
    """Fork ``count`` workers (no-op for 1); supervise them in this process until they end.

    Call before any event loop or thread exists. Returns in each worker with ``exit_code`` None;
    in the supervisor only when all workers are gone, with the exit code.
    """
    if count <= 1:
        return WorkerRole(exit_code=None)
    directory = tempfile.mkdtemp(prefix="chm-exporter-metrics-")
    supervisor = _Supervisor(directory)
    os.environ[_SUPERVISOR_ENV] = str(os.getpid())
    handled = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
    for signum in handled:  # before forking: a signal meanwhile must not orphan the workers
        signal.signal(signum, supervisor.on_signal)
    try:
        for index in range(count):
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGHUP, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                selfmetrics.enable_multiprocess(directory, supervisor_pid=os.getppid())
                return WorkerRole(index=index, directory=directory)
            supervisor.workers[pid] = index
        _log.info("supervising %d workers (pids %s)", count, " ".join(map(str, supervisor.workers)))
        return WorkerRole(exit_code=supervisor.run())
    finally:
        if os.environ.get(_SUPERVISOR_ENV) == str(os.getpid()):
            shutil.rmtree(directory, ignore_errors=True)


def notify_supervisor() -> None:
    """From a worker: ask the supervisor to have every worker reload (SIGHUP); no-op alone."""
    supervisor = os.environ.get(_SUPERVISOR_ENV)
    if supervisor and os.getppid() == int(supervisor):
        os.kill(int(supervisor), signal.SIGHUP)
