"""The configuration file: credentials (`auths`), probe modules (`modules`), profile folders.

Models copy their defaults in, parse over them, validate, and reject unknown keys; every error
names the field it is about (and its line, never the line's text). Secrets may be written
inline, as ``<name>_file: /path`` (a regular file of bounded size) or as ``${ENV_VAR}`` /
``${ENV_VAR:-default}``; they are held as :class:`pydantic.SecretStr` and dump as ``<secret>``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from chm_exporter.allowlist import AllowedTargets, TargetRules
from chm_exporter.configbase import Secret
from chm_exporter.configbase import StrictModel as _Model
from chm_exporter.configbase import expand_secrets as _expand_secrets
from chm_exporter.discovery.model import DiscoveryConfig
from chm_exporter.duration import Duration
from chm_exporter.errors import ConfigError
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.profiles.model import Profile
from chm_exporter.ssh.config import SshAuth, SshSettings
from chm_exporter.validation import format_validation_error as format_validation_error
from chm_exporter.walk import WalkPlan
from chm_exporter.yamlfile import MAX_YAML_BYTES, decode_text, load_yaml, read_bounded

AUTO_MODULE = "auto"
AUTO_PROFILES = "auto"


class CommunityAuth(_Model):
    """SNMP v1 or v2c community credentials."""

    version: Literal["1", "2c"]
    community: Secret = SecretStr("public")
    allowed_targets: AllowedTargets = Field(
        default_factory=TargetRules, description="where this community may be sent (CIDRs, names)"
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        return _expand_secrets(data, ("community",))


AuthProtocol = Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["DES", "AES", "AES192", "AES256"]


class UsmAuth(_Model):
    """SNMPv3 user-based security credentials."""

    version: Literal["3"]
    username: str = Field(min_length=1)
    security_level: Literal["noAuthNoPriv", "authNoPriv", "authPriv"] = "noAuthNoPriv"
    auth_protocol: AuthProtocol = "SHA"
    auth_password: Secret | None = None
    priv_protocol: PrivProtocol = "AES"
    priv_password: Secret | None = None
    priv_key_expansion: Literal["blumenthal", "cisco"] = Field(
        default="blumenthal",
        description="How AES-192/256 keys are lengthened from a short auth hash "
        "(net-snmp: blumenthal; Cisco IOS: cisco).",
    )
    allowed_targets: AllowedTargets = Field(
        default_factory=TargetRules, description="where this user may be sent (CIDRs, names)"
    )

    @model_validator(mode="before")
    @classmethod
    def _secrets(cls, data: Any) -> Any:
        return _expand_secrets(data, ("auth_password", "priv_password"))

    @model_validator(mode="after")
    def _level_needs_passwords(self) -> UsmAuth:
        if self.security_level != "noAuthNoPriv" and not self.auth_password:
            raise ValueError(f"auth_password is required for security_level {self.security_level}")
        if self.security_level == "authPriv" and not self.priv_password:
            raise ValueError("priv_password is required for security_level authPriv")
        for name in ("auth_password", "priv_password"):
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) < 8:
                raise ValueError(f"{name} must be at least 8 characters (RFC 3414)")
        return self


Auth = Annotated[CommunityAuth | UsmAuth, Field(discriminator="version")]


class SnmpSettings(_Model):
    """How the SNMP prober talks to a device."""

    profiles: list[str] = Field(default_factory=lambda: [AUTO_PROFILES], min_length=1)
    max_repetitions: int = Field(default=60, ge=1, le=200)
    timeout: Duration = Field(default=2.0, gt=0, le=60, description="seconds per request")
    retries: int = Field(default=2, ge=0, le=10)
    walk_concurrency: int = Field(default=8, ge=1, le=64, description="parallel walks per device")
    walk: Literal["bulk", "getnext"] = "bulk"
    allow_nonincreasing_oids: bool = False
    lookup_cache_seconds: Duration = Field(
        default=900, ge=0, description="keep label-only columns (names, aliases); 0: walk always"
    )
    max_varbinds: int = Field(
        default=1_000_000, ge=1, description="per probe: more varbinds fail the probe"
    )
    max_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1, description="per probe: OIDs and values held, in bytes"
    )


class IcmpSettings(_Model):
    """How the ICMP prober pings a device."""

    count: int = Field(default=3, ge=1, le=100)
    interval: Duration = Field(default=0.1, ge=0, le=10, description="seconds between pings")
    payload_size: int = Field(default=56, ge=0, le=65000)
    ttl: int = Field(default=64, ge=1, le=255)
    dont_fragment: bool = False
    preferred_ip_protocol: Literal["ip4", "ip6"] = "ip6"
    ip_protocol_fallback: bool = True


class Module(_Model):
    """A named set of probers with their settings; /probe?module= selects one or more."""

    timeout: Duration = Field(default=10.0, gt=0, le=300, description="seconds for the whole probe")
    compat: list[Literal["snmp_exporter"]] = Field(default_factory=list)
    snmp: SnmpSettings | None = None
    icmp: IcmpSettings | None = None
    ssh: SshSettings | None = None

    @field_validator("compat", mode="before")
    @classmethod
    def _one_or_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _has_prober(self) -> Module:
        if self.snmp is None and self.icmp is None and self.ssh is None:
            raise ValueError("a module needs at least one prober (snmp, icmp, ssh)")
        return self


def _default_auths() -> dict[str, CommunityAuth | UsmAuth]:
    return {"public_v2": CommunityAuth(version="2c", community=SecretStr("public"))}


class Config(_Model):
    """The whole configuration file."""

    auths: dict[str, Auth] = Field(default_factory=_default_auths)
    ssh_auths: dict[str, SshAuth] = Field(default_factory=dict)
    modules: dict[str, Module] = Field(default_factory=dict)
    profile_dirs: list[Path] = Field(default_factory=list)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    allowed_targets: AllowedTargets = Field(
        default_factory=TargetRules, description="where any probe may be sent (CIDRs, names)"
    )

    @field_validator("auths", mode="before")
    @classmethod
    def _versions_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: {**v, "version": str(v["version"])}
                if isinstance(v, dict) and "version" in v
                else v
                for k, v in value.items()
            }
        return value

    @field_validator("auths")
    @classmethod
    def _some_auth(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("at least one auth is needed")
        return value

    @model_validator(mode="after")
    def _ssh_auths_exist(self) -> Config:
        for name, module in self.modules.items():
            if module.ssh is not None and module.ssh.auth not in self.ssh_auths:
                known = ", ".join(sorted(self.ssh_auths)) or "none"
                raise ValueError(
                    f"modules.{name}.ssh.auth: unknown ssh auth {module.ssh.auth!r} "
                    f"(known: {known})"
                )
        return self

    @model_validator(mode="after")
    def _discovery_names_exist(self) -> Config:
        for i, job in enumerate(self.discovery.jobs):
            for j, auth in enumerate(job.auths):
                if auth not in self.auths:
                    known = ", ".join(self.auths)
                    raise ValueError(
                        f"discovery.jobs.{i}.auths.{j}: unknown auth {auth!r} (known: {known})"
                    )
            if self.module(job.module) is None:
                known = ", ".join(self.module_names)
                raise ValueError(
                    f"discovery.jobs.{i}.module: unknown module {job.module!r} (known: {known})"
                )
        return self

    @model_validator(mode="after")
    def _discovery_within_allowed_targets(self) -> Config:
        """A discovery job sends its auths to every address it sweeps or crawls: each network
        it may reach must lie in the networks of `allowed_targets` and of each of its auths."""
        for i, job in enumerate(self.discovery.jobs):
            rules = [("allowed_targets", self.allowed_targets)] + [
                (f"auths.{a}.allowed_targets", self.auths[a].allowed_targets) for a in job.auths
            ]
            stay = job.crawl.stay_within
            reach = [*job.networks, *(stay if isinstance(stay, list) else [])]
            for where, rule in rules:
                if not rule.restricts:
                    continue
                if job.crawl.max_depth and stay == "anywhere":
                    raise ValueError(
                        f"discovery.jobs.{i}.crawl.stay_within: anywhere, but {where} "
                        "restricts where its credentials go"
                    )
                for net in reach:
                    if not rule.covers(net):
                        raise ValueError(f"discovery.jobs.{i}: network {net} is not within {where}")
        return self

    def seed_allowed(self, job_auths: list[str], address: str) -> bool:
        """Whether a discovery seed's resolved `address` may receive each of `job_auths`."""
        rules = [self.allowed_targets] + [self.auths[a].allowed_targets for a in job_auths]
        return all(rule.allows(None, address) for rule in rules)

    def module(self, name: str) -> Module | None:
        """The module `name`; `auto` exists even when the file does not define it."""
        found = self.modules.get(name)
        if found is None and name == AUTO_MODULE:
            return _default_auto()
        return found

    @property
    def module_names(self) -> list[str]:
        """Every module a request may name."""
        return sorted({*self.modules, AUTO_MODULE})

    @property
    def default_auth(self) -> str:
        """The first auth of the file: used when a request names none."""
        return next(iter(self.auths))


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config together with where it came from and the profiles it can use."""

    config: Config
    path: Path | None
    profiles: dict[str, Profile] = field(default_factory=dict)
    plans: dict[tuple[str, ...], tuple[list[Profile], WalkPlan]] = field(
        default_factory=dict, compare=False
    )
    """Profiles and walk plan per set of profile names, computed on first use."""


def parse_config(text: str, source: str = "<config>") -> Config:
    """Parse YAML text into a validated :class:`Config`.

    Raises:
        ConfigError: the YAML is malformed or a field is invalid; the message names the field.
    """
    data = load_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc, text)}") from None


def load_config(path: Path | str) -> LoadedConfig:
    """Read, validate and prepare the config file at `path`, with the profiles it names.

    Raises:
        ConfigError: the file is unreadable or invalid, or names a profile that does not exist.
    """
    path = Path(path)
    text = decode_text(read_bounded(path, MAX_YAML_BYTES, "config file"), str(path), "config file")
    config = parse_config(text, str(path))
    dirs = [d if d.is_absolute() else path.parent / d for d in config.profile_dirs]
    profiles = load_profiles(dirs)
    check_profile_names(config, profiles)
    return LoadedConfig(config=config, path=path, profiles=profiles)


def check_profile_names(config: Config, profiles: Mapping[str, Profile]) -> None:
    """Every profile a module names must exist.

    Raises:
        ConfigError: naming the module field and the unknown profile.
    """
    for name, module in config.modules.items():
        if module.snmp is None:
            continue
        for i, prof in enumerate(module.snmp.profiles):
            if prof != AUTO_PROFILES and prof not in profiles:
                known = ", ".join(sorted(profiles))
                raise ConfigError(
                    f"modules.{name}.snmp.profiles.{i}: unknown profile {prof!r} (known: {known})"
                )


@functools.cache
def _default_auto() -> Module:
    """`auto` when the file does not define it (one frozen instance, not one per request)."""
    return Module(snmp=SnmpSettings())
