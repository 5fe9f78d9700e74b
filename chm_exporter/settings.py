"""Process settings: flags (Prometheus style) over environment variables (CHM_<FLAG>)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chm_exporter.duration import Duration
from chm_exporter.errors import ConfigError


class Settings(BaseSettings):
    """How the process runs; the config file says what it probes."""

    model_config = SettingsConfigDict(env_prefix="CHM_", extra="forbid")

    config_file: Path = Field(default=Path("chm.yml"), description="--config.file")
    web_listen_address: str = Field(default=":9840", description="--web.listen-address")
    web_config_file: Path | None = Field(default=None, description="--web.config.file")
    web_enable_lifecycle: bool = Field(default=False, description="--web.enable-lifecycle")
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    log_format: Literal["logfmt", "json"] = "logfmt"
    timeout_offset: Duration = Field(default=0.5, ge=0, description="seconds kept back per scrape")
    ssh_max_sessions: int = Field(
        default=1000, ge=1, description="--ssh.max-sessions: SSH sessions open at once"
    )
    probe_max_in_flight: int = Field(
        default=0,
        ge=0,
        description="--probe.max-in-flight: probes at once, more get 503 (0: from the fd limit)",
    )
    dns_timeout: Duration = Field(default=2.0, gt=0, le=60, description="--dns.timeout")
    dns_max_concurrency: int = Field(
        default=16, ge=1, le=1024, description="--dns.max-concurrency: lookups at once"
    )
    config_check: bool = False
    web_workers: int = Field(
        default=1, ge=1, le=64, description="--web.workers: processes serving the address"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def split_listen_address(address: str) -> tuple[str | None, int]:
    """`:9840`, `127.0.0.1:9840`, `[::1]:9840` into (host or None for all, port).

    Raises:
        ConfigError: the address has no valid port.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--web.listen-address {address!r}: expected [host]:port")
    host = host.strip("[]")
    return (host or None), int(port)
