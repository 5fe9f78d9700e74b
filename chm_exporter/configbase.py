"""What every config model shares: strict frozen models and secrets (inline, file or env).

Secrets may be written inline, as ``<name>_file: /path`` or as ``${ENV_VAR}``; they are held as
:class:`pydantic.SecretStr` and dump as ``<secret>``.
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, SecretStr

Secret = Annotated[SecretStr, PlainSerializer(lambda _s: "<secret>", when_used="always")]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
            path = Path(str(out.pop(file_key)))
            try:
                out[name] = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
        value = out.get(name)
        if isinstance(value, str):
            out[name] = _ENV_REF.sub(partial(_env_match, name), value)
    return out


def _env_match(field_name: str, match: re.Match[str]) -> str:
    value = os.environ.get(match.group(1))
    if value is None:
        raise ValueError(f"{field_name}: environment variable {match.group(1)} is not set")
    return value
