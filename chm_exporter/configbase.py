"""What every config model shares: strict frozen models and secrets (inline, file or env).

Secrets may be written inline, as ``<name>_file: /path`` (a regular file of bounded size, see
:func:`chm_exporter.yamlfile.read_secret_file`) or as ``${ENV_VAR}`` / ``${ENV_VAR:-default}``;
they are held as :class:`pydantic.SecretStr` and dump as ``<secret>``.
"""

from __future__ import annotations

import os
import re
from functools import partial
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, SecretStr

from chm_exporter.errors import ConfigError
from chm_exporter.yamlfile import read_secret_file

Secret = Annotated[SecretStr, PlainSerializer(lambda _s: "<secret>", when_used="always")]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class StrictModel(BaseModel):
    """Unknown keys are refused; instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_secrets(data: Any, secret_fields: tuple[str, ...]) -> Any:
    """Resolve `<name>_file` and `${ENV}` for the named secret fields of a mapping."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name in secret_fields:
        file_key = f"{name}_file"
        if file_key in out:
            if name in out:
                raise ValueError(f"give either {name} or {file_key}, not both")
            try:
                out[name] = read_secret_file(str(out.pop(file_key)))
            except ConfigError as exc:
                raise ValueError(f"{file_key}: {exc}") from None
        value = out.get(name)
        if isinstance(value, str):
            out[name] = _ENV_REF.sub(partial(_env_match, name), value)
    return out


def _env_match(field_name: str, match: re.Match[str]) -> str:
    var, default = match.group(1), match.group(2)
    value = os.environ.get(var)
    if value is None or (default is not None and not value):  # as the shell's ${VAR:-default}
        if default is None:
            raise ValueError(f"{field_name}: environment variable {var} is not set")
        return default
    return value
