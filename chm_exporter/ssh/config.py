"""The SSH parts of the config file: credentials (`ssh_auths`) and a module's `ssh:` settings.

```yaml
ssh_auths:
  lab:
    username: netops
    password_file: /run/secrets/ssh_password   # or password: ..., or ${ENV}
    # private_key_file: /run/secrets/id_ed25519  (key authentication)
    # passphrase: ...                            (for an encrypted key)
    # enable_password: ...                       (platforms with an enable step)
modules:
  ios_ssh:
    ssh: {auth: lab, platform: cisco_iosxe, port: 22}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from chm_exporter.allowlist import AllowedTargets, TargetRules
from chm_exporter.configbase import Secret, StrictModel, expand_secrets
from chm_exporter.duration import Duration

Platform = Literal[
    "cisco_ios",
    "cisco_iosxe",
    "cisco_nxos",
    "juniper_junos",
    "arista_eos",
    "aruba_aoscx",
    "hp_procurve",
    "ruckus_fastiron",
    "linux",
]
HostKeyPolicy = Literal["known_hosts", "tofu", "off"]
DEFAULT_TOFU_FILE = "chm_ssh_known_hosts"


class SshAuth(StrictModel):
    """SSH credentials: a password, a private key (optionally encrypted), or both."""

    username: str = Field(min_length=1)
    password: Secret | None = None
    private_key_file: Path | None = None
    passphrase: Secret | None = None
    enable_password: Secret | None = None
    allowed_targets: AllowedTargets = Field(
        default_factory=TargetRules, description="where these credentials may be sent"
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        return expand_secrets(data, ("password", "passphrase", "enable_password"))

    @model_validator(mode="after")
    def _some_credential(self) -> SshAuth:
        if self.password is None and self.private_key_file is None:
            raise ValueError("give a password (or password_file) or a private_key_file")
        if self.passphrase is not None and self.private_key_file is None:
            raise ValueError("passphrase needs a private_key_file")
        return self


class SshSettings(StrictModel):
    """How the SSH prober logs in to a device and what it runs there."""

    auth: str = Field(min_length=1, description="a name under ssh_auths")
    platform: Platform
    port: int = Field(default=22, ge=1, le=65535)
    host_key: HostKeyPolicy = Field(
        default="tofu",
        description="known_hosts: only keys in known_hosts_file; tofu: pin the first key seen "
        "(in known_hosts_file, default chm_ssh_known_hosts beside the config); off: no check",
    )
    known_hosts_file: Path | None = None
    logs: bool = Field(default=True, description="read the log buffer (chm_log_* metrics)")
    command_timeout: Duration = Field(default=10.0, gt=0, le=300, description="per command")
    login_timeout: Duration = Field(default=10.0, gt=0, le=120, description="to connect and log in")
    max_output_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="a command printing more fails the probe (a device in an endless output)",
    )
    keepalive_interval: Duration = Field(default=30.0, ge=0, le=3600, description="0: none")
    reuse: bool = Field(
        default=True, description="keep the session for the next scrape; false: log out after each"
    )
    idle_close: Duration = Field(
        default=600.0, gt=0, description="close a session unused this many seconds"
    )

    @model_validator(mode="after")
    def _known_hosts_needs_file(self) -> SshSettings:
        if self.host_key == "known_hosts" and self.known_hosts_file is None:
            raise ValueError("host_key known_hosts needs known_hosts_file")
        return self
