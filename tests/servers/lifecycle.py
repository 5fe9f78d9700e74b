"""The lifecycle every test server shares: start, wait until it answers, stop; a context manager.

::

    Server                start(): prepare once; then per attempt pick a port (unless one was
     │                    given), launch, poll answers() until start_timeout; a start that
     │                    lost the race for its picked port is retried with another (3 attempts);
     │                    any failure stops everything and raises ServerStartError. stop() is
     │                    idempotent. `with server:` = start() ... stop().
     ├── ProcessServer    a child process with a private work directory and an output log
     │    ├── Snmpd       (tests.servers.snmpd)
     │    └── Snmpsim     (tests.servers.snmpsim)
     └── UdpDelayProxy    an asyncio proxy on a thread of its own (tests.servers.udpdelay)

A subclass says how to launch (`_launch`), how to tell it answers (`answers`), how to tell it
ended (`_ended`), how to halt one attempt (`_halt`), and optionally how to prepare and clean up
around all attempts (`_prepare`, `_cleanup`) and how to recognise a lost port race.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from tests.servers.process import stop_process

__all__ = ["ProcessServer", "Server", "ServerStartError"]


class ServerStartError(RuntimeError):
    """A server is missing, exited, or did not answer in time; the message carries its log."""


class Server(ABC):
    """Start with retries on a lost port race, wait until answering, stop; a context manager.

    Attributes: ``port`` (the one given, else the one picked by the last start; 0 before),
    ``start_timeout`` (seconds one attempt may take to answer).
    """

    #: how the server is called in error messages
    name: ClassVar[str]
    #: the error a failed start raises (a subclass of ServerStartError per server)
    start_error: ClassVar[type[ServerStartError]] = ServerStartError
    #: text in the failure message that means another process took the picked port first
    port_taken_text: ClassVar[str | None] = None
    start_attempts: ClassVar[int] = 3
    poll_interval: ClassVar[float] = 0.1

    def __init__(self, *, port: int | None, start_timeout: float) -> None:
        """Configure; nothing runs until :meth:`start` (or ``with``).

        Args:
            port: the port to serve on; None picks a free one per attempt.
            start_timeout: seconds one attempt may take until the server answers.
        """
        self.port = port or 0
        self.start_timeout = start_timeout
        self._fixed_port = port is not None

    def start(self) -> Self:
        """Start and wait until the server answers; on any failure stop it and raise."""
        try:
            self._prepare()
            self._start_with_retries()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and remove what it left; safe to call twice or before a start."""
        self._halt()
        self._cleanup()

    def _start_with_retries(self) -> None:
        """Launch; when another process took the picked port first, try again with another."""
        for attempt in range(1, self.start_attempts + 1):
            if not self._fixed_port:
                self.port = self._pick_port()
            try:
                self._launch()
                self._wait_until_answering()
                return
            except ServerStartError as exc:
                self._halt()
                if self._fixed_port or attempt == self.start_attempts:
                    raise
                if self.port_taken_text is None or self.port_taken_text not in str(exc):
                    raise

    def _wait_until_answering(self) -> None:
        """Poll :meth:`answers` until it is true, the server ended, or ``start_timeout``."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            ended = self._ended()
            if ended is not None:
                raise self.start_error(f"{self.name} {ended}:\n{self.log_text()}")
            if self.answers():
                return
            time.sleep(self.poll_interval)
        raise self.start_error(
            f"{self.name} did not answer within {self.start_timeout} s:\n{self.log_text()[-5000:]}"
        )

    def log_text(self) -> str:
        """What the server logged so far (for error messages); empty when it keeps no log."""
        return ""

    def _prepare(self) -> None:  # noqa: B027 (an optional hook, empty on purpose)
        """Once before the attempts (check the binary, write data); nothing by default."""

    def _cleanup(self) -> None:  # noqa: B027 (an optional hook, empty on purpose)
        """Once after stopping (remove what :meth:`_prepare` made); nothing by default."""

    @abstractmethod
    def _pick_port(self) -> int:
        """A port for the next attempt (0: the kernel picks one at bind, no race to lose)."""

    @abstractmethod
    def _launch(self) -> None:
        """Start serving on ``port``; do not wait for it."""

    @abstractmethod
    def answers(self) -> bool:
        """True when the server answers."""

    @abstractmethod
    def _ended(self) -> str | None:
        """Why the launched server is gone (`"exited with 1"`), or None while it runs."""

    @abstractmethod
    def _halt(self) -> None:
        """Stop what :meth:`_launch` started; safe when nothing runs."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ProcessServer(Server):
    """A server run as a child process, with a private work directory that stop() removes.

    The child's stdout and stderr go to ``workdir / output_name``; it runs in ``workdir``.
    """

    #: prefix of the temporary work directory
    workdir_prefix: ClassVar[str]
    #: file in the work directory that takes the child's stdout and stderr
    output_name: ClassVar[str]
    #: seconds to wait for the child after SIGTERM before SIGKILL
    stop_timeout: ClassVar[float] = 5.0

    def __init__(self, *, port: int | None, start_timeout: float) -> None:
        super().__init__(port=port, start_timeout=start_timeout)
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def workdir(self) -> Path:
        """The private directory of this run (config, data, logs)."""
        if self._workdir is None:
            raise RuntimeError(f"{self.name} is not started")
        return Path(self._workdir.name)

    @property
    def output_path(self) -> Path:
        """The child's stdout and stderr."""
        return self.workdir / self.output_name

    def log_text(self) -> str:
        """The child's output so far."""
        path = self.output_path
        return path.read_text(errors="replace") if path.exists() else ""

    @abstractmethod
    def _argv(self) -> list[str]:
        """The child's command line."""

    def _env(self) -> dict[str, str] | None:
        """The child's environment; None inherits ours."""
        return None

    def _prepare(self) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix=self.workdir_prefix)

    def _cleanup(self) -> None:
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            workdir.cleanup()

    def _launch(self) -> None:
        with self.output_path.open("wb") as output:
            self._process = subprocess.Popen(
                self._argv(),
                env=self._env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def _ended(self) -> str | None:
        if self._process is None or self._process.poll() is None:
            return None
        return f"exited with {self._process.returncode}"

    def _halt(self) -> None:
        process, self._process = self._process, None
        stop_process(process, timeout=self.stop_timeout)
