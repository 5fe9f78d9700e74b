"""Trust on first use with several workers: each has its own store on the same file."""

from __future__ import annotations

from pathlib import Path

import asyncssh

from chm_exporter.ssh.hostkeys import TofuStore


def _key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def test_a_key_pinned_by_one_worker_binds_every_worker(tmp_path: Path) -> None:
    path = tmp_path / "chm_ssh_known_hosts"
    one, two = TofuStore(path), TofuStore(path)
    first, other, third = _key(), _key(), _key()
    assert two.check("192.0.2.9", 22, third)  # two has read the file (then empty) already
    assert one.check("192.0.2.1", 22, first)  # one pins .1
    assert not two.check("192.0.2.1", 22, other)  # another key for .1 is refused by two too
    assert two.check("192.0.2.1", 22, first)
    pinned = path.read_text()
    assert "[192.0.2.1]:22 ssh-ed25519" in pinned  # two's save kept one's pin ...
    assert "[192.0.2.9]:22 ssh-ed25519" in pinned  # ... and one's kept two's
    assert not TofuStore(path).check("192.0.2.9", 22, first)  # after a restart, still pinned
