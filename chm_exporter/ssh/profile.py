"""CLI profiles: per platform, how to talk to it, which commands to run, how output becomes metrics.

A profile is YAML data in ``chm_exporter/profiles/cli/<platform>.yaml`` (see docs/ssh.md):

```yaml
platform: cisco_iosxe
prompt: '^[\\w.\\-@/:]{1,63}#\\s*$'     # the prompt where commands run
user_prompt: '^[\\w.\\-@/:]{1,63}>\\s*$' # before the enable step (optional)
on_open: [terminal length 0]           # paging off
failed_when_contains: ['% Invalid input']
commands:
  - command: show version
    template: ntc:cisco_ios_show_version    # ntc-templates, or chm:<name> (ours)
    metrics:
      - name: chm_device_info
        labels: {model: '{hardware[0]}', serial: '{serial[0]}'}
```
Every record the template parses gives one sample per metric rule; label values are format
strings over the record's fields (lower-case, as ntc-templates' own tests name them).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from chm_exporter.catalogue import CATALOGUE_PATH, catalogue
from chm_exporter.configbase import StrictModel
from chm_exporter.errors import ConfigError
from chm_exporter.validation import format_validation_error

PROFILE_DIR = Path(__file__).resolve().parent.parent / "profiles" / "cli"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_NTC = "ntc:"
_OURS = "chm:"


class ValueRule(StrictModel):
    """A sample's value from a record field: number times scale plus offset, or a mapped word."""

    field: str = Field(description="a field name, or a format string over the fields")
    parse: Literal["number", "duration"] = Field(
        default="number", description="duration: '2 years, 31 weeks, 9 hours' as seconds"
    )
    subtract: str | None = Field(default=None, description="a field taken away first")
    scale: float = 1.0
    offset: float = Field(default=0.0, description="added after scaling (1 - idle: -0.01, 1)")
    map: dict[str, float] | None = Field(
        default=None, description="field value (case-insensitive) -> sample value"
    )
    default: float | None = Field(default=None, description="value when map has no entry")


class MetricRule(StrictModel):
    """One metric family filled from every matching record of a command's parse."""

    name: str = Field(description="a metric of the catalogue (its HELP, type and labels)")
    labels: dict[str, str] = Field(default_factory=dict)
    value: float | ValueRule = 1.0
    when: dict[str, str] = Field(
        default_factory=dict, description="field -> regex that must match (search)"
    )
    extract: dict[str, str] = Field(
        default_factory=dict, description="field -> regex whose named groups become fields"
    )

    @model_validator(mode="after")
    def _as_the_catalogue_says(self) -> MetricRule:
        known = catalogue().get(self.name)
        if known is None:
            raise ValueError(f"{self.name} is not in the metric catalogue ({CATALOGUE_PATH})")
        if tuple(self.labels) != known.labels:
            raise ValueError(
                f"{self.name}: labels {list(self.labels)} are not the catalogue's "
                f"{list(known.labels)} (in that order)"
            )
        return self

    @field_validator("when", "extract")
    @classmethod
    def _regexes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            _compiles(name, pattern)
        return value


class LogRule(StrictModel):
    """How a parsed log buffer names each message's parts (see chm_exporter.ssh.logs)."""

    severity: str = "{severity}"
    facility: str = "{facility}"
    mnemonic: str = "{mnemonic}"
    timestamp: str = Field(description="format string of the message's time text")
    sequence: str = Field(default="", description="the message's sequence number, if printed")
    text: str = "{message}"


class Command(StrictModel):
    """One command, the template that parses it and what its records become."""

    command: str = Field(min_length=1)
    template: str | list[str] = Field(
        description="a template, or several tried in order (the first that accepts the text)"
    )
    metrics: list[MetricRule] = Field(default_factory=list)
    logs: LogRule | None = None

    @field_validator("template")
    @classmethod
    def _template_exists(cls, value: str | list[str]) -> str | list[str]:
        for name in [value] if isinstance(value, str) else value:
            template_path(name)
        return value

    @property
    def templates(self) -> list[str]:
        """The templates to try, in order."""
        return [self.template] if isinstance(self.template, str) else self.template


class CliProfile(StrictModel):
    """What the SSH prober knows about one platform.

    ``extends: <platform>`` starts from another profile: its fields unless given here, its
    commands less those named in ``drop``, then this profile's commands (a command with the same
    text replaces the other's).
    """

    platform: str
    description: str = ""
    prompt: str = Field(description="regex of the prompt commands run at")
    user_prompt: str | None = Field(default=None, description="regex before the enable step")
    enable: str = "enable"
    enable_prompt: str = r"^[Pp]assword:\s?$"
    on_open: list[str] = Field(default_factory=list)
    failed_when_contains: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(
        default_factory=dict, description="fields every record of this platform has (vendor...)"
    )
    commands: list[Command] = Field(min_length=1)

    @field_validator("prompt", "user_prompt", "enable_prompt")
    @classmethod
    def _prompt_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compiles("pattern", value)
        return value


def _compiles(name: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{name}: not a valid regular expression: {exc}") from None


def template_path(name: str) -> Path:
    """The file of template `name` (``ntc:<file stem>`` or ``chm:<file stem>``).

    Raises:
        ValueError: unknown scheme or no such template.
    """
    if name.startswith(_NTC):
        base = Path(str(resources.files("ntc_templates") / "templates"))
        stem = name.removeprefix(_NTC)
    elif name.startswith(_OURS):
        base = TEMPLATE_DIR
        stem = name.removeprefix(_OURS)
    else:
        raise ValueError(f"template {name!r}: expected ntc:<name> or chm:<name>")
    path = base / f"{stem}.textfsm"
    if not path.is_file():
        raise ValueError(f"template {name!r}: no file {path.name}")
    return path


def parse_profile(data: Any, source: str) -> CliProfile:
    """Validate one profile's YAML data.

    Raises:
        ConfigError: naming the file and field.
    """
    try:
        return CliProfile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc)}") from exc


def _read(platform: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load((PROFILE_DIR / f"{platform}.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"CLI profile {platform}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"CLI profile {platform}: the top level must be a mapping")
    base_name = data.pop("extends", None)
    drop = set(data.pop("drop", []))
    if base_name is None:
        return data
    base = _read(str(base_name))
    own = {c["command"] for c in data.get("commands", [])}
    commands = [c for c in base["commands"] if c["command"] not in drop | own]
    return {**base, **data, "commands": commands + data.get("commands", [])}


@cache
def load_cli_profile(platform: str) -> CliProfile:
    """The shipped profile of `platform` (read and validated once per process).

    Raises:
        ConfigError: the profile is missing or invalid (a packaging bug).
    """
    return parse_profile(_read(platform), f"CLI profile {platform}")
