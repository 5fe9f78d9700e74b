"""The log watermark of a device, shared by the ``--web.workers``.

The log counters (chm_ssh.logs) are the exporter's own: each scrape adds the buffer's new
messages to totals it keeps. With several workers a device's scrapes land on any of them, and
totals kept per worker would make one counter series jump between two histories (a counter
reset at every switch). So with workers the state lives in one file per device in the workers'
private directory, read and written back by whichever worker scrapes, under an exclusive lock
(``flock``); a single process keeps it in memory (the device's session record).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from chm_exporter.atomicfile import write_atomically
from chm_exporter.ssh.logs import LogState

DIRECTORY = "ssh-logs"
_log = logging.getLogger(__name__)


@contextlib.contextmanager
def shared_state(directory: Path, *key: str) -> Iterator[LogState]:
    """The device `key`'s log state from `directory`, written back when the block ends without
    an error; other workers wait for it meanwhile.

    Raises:
        OSError: the directory or the file cannot be used.
    """
    directory = directory / DIRECTORY
    directory.mkdir(exist_ok=True)
    name = hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]
    path = directory / f"{name}.json"
    with open(directory / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _read(path)
        yield state
        try:
            _write(path, state)
        except OSError as exc:  # this scrape's counts stand; the next one counts them again
            _log.error("ssh: cannot save the log state to %s: %s", path, exc)


def _read(path: Path) -> LogState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LogState()
    seen = data["seen"]
    return LogState(
        seen=None if seen is None else Counter(seen),
        totals={(s, f, m): n for s, f, m, n in data["totals"]},
    )


def _write(path: Path, state: LogState) -> None:
    data = {
        "seen": None if state.seen is None else dict(state.seen),
        "totals": [[*key, n] for key, n in state.totals.items()],
    }
    write_atomically(path, json.dumps(data), mode=0o600)
