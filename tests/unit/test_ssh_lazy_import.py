"""An exporter that never probes over SSH does not load the SSH libraries (~17 MiB per process):
scrapli, asyncssh and TextFSM are imported by the first SSH probe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("scrapli", "asyncssh", "textfsm")
CONFIG = """
auths:
  public_v2: {version: 2c, community: public}
ssh_auths:
  lab: {username: netops, password: secret}
modules:
  ios_ssh:
    ssh: {auth: lab, platform: cisco_iosxe}
"""

_PROGRAM = """
import sys
from chm_exporter.config import load_config
from chm_exporter.server import create_app
import chm_exporter.cli  # everything the command imports

create_app(load_config(sys.argv[1]))
{then}
print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set(sys.argv[2:]))))
"""


def _loaded(config: Path, then: str = "") -> set[str]:
    """Which of HEAVY a fresh interpreter holds after building the app (and `then`)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(then=then), str(config), *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split())


def test_the_ssh_libraries_load_on_first_ssh_use_only(tmp_path: Path) -> None:
    config = tmp_path / "chm.yml"
    config.write_text(CONFIG)
    assert _loaded(config) == set()  # an SSH module configured is not an SSH module used
    then = "import chm_exporter.ssh.driver, chm_exporter.ssh.parse"
    assert _loaded(config, then) == set(HEAVY)  # the guard sees them when they are there
