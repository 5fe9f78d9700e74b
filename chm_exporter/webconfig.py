"""``--web.config.file``: TLS and basic authentication in the Prometheus exporter-toolkit format.

The same file a Go exporter reads (``tls_server_config``, ``basic_auth_users``) works here, so
one hardening guide serves the whole fleet. What Python's :mod:`ssl` cannot do is refused by
name rather than half-done: ``RequestClientCert`` and ``RequireAnyClientCert`` (a client
certificate asked for but not verified), cipher suites and curve preferences. The file is read
at start; unlike exporter-toolkit, a change needs a restart.

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
      client_ca_file: ca.crt
      min_version: TLS12                             # TLS10 .. TLS13
    basic_auth_users:
      prometheus: $2y$10$...                         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chm_exporter.errors import ConfigError
from chm_exporter.validation import format_validation_error
from chm_exporter.yamlfile import MAX_YAML_BYTES, decode_text, load_yaml, read_bounded

TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_VERIFY_MODES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_CACHE_SIZE = 1024
_BCRYPT_CONCURRENCY = 2
"""bcrypt costs ~0.1-0.3 s of CPU per check: a flood of wrong passwords must not take every
thread; checks wait for one of these slots, and a right password is remembered."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsServerConfig(_Model):
    """``tls_server_config`` of exporter-toolkit."""

    cert_file: Path
    key_file: Path
    client_auth_type: Literal[
        "NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"
    ] = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"

    @field_validator("client_auth_type", mode="before")
    @classmethod
    def _unverified_client_certs(cls, value: object) -> object:
        if value in ("RequestClientCert", "RequireAnyClientCert"):
            raise ValueError(
                f"{value} (a client certificate that is not verified) is not supported; "
                "use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            )
        return value


class WebConfig(_Model):
    """The whole web config file."""

    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for user, hashed in value.items():
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
                raise ValueError(f"{user}: not a bcrypt hash (expected $2y$<cost>$ and 53 more)")
        return value


def load_web_config(path: Path | str) -> WebConfig:
    """Read and validate a web config file; relative paths in it are relative to the file.

    Raises:
        ConfigError: one line naming the file, the line and the field.
    """
    path = Path(path)
    text = decode_text(read_bounded(path, MAX_YAML_BYTES, "web config file"), str(path), "file")
    data = load_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        config = WebConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {format_validation_error(exc, text)}") from None
    tls = config.tls_server_config
    if tls is not None:
        tls = tls.model_copy(
            update={
                name: path.parent / value
                for name in ("cert_file", "key_file", "client_ca_file")
                if (value := getattr(tls, name)) is not None and not value.is_absolute()
            }
        )
        config = config.model_copy(update={"tls_server_config": tls})
    if config.tls_server_config is not None:
        ssl_context(config.tls_server_config)  # refuse unreadable certificates at start
    return config


def ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """The server's TLS context.

    Raises:
        ConfigError: a certificate, key or CA file cannot be used.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = _TLS_VERSIONS[tls.max_version]
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"tls_server_config: cannot use cert_file/key_file: {_ssl_reason(exc)}"
        ) from None
    ctx.verify_mode = _VERIFY_MODES[tls.client_auth_type]
    if tls.client_auth_type != "NoClientCert":
        if tls.client_ca_file is None:
            raise ConfigError(
                f"tls_server_config: client_auth_type {tls.client_auth_type} needs client_ca_file"
            )
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"tls_server_config: cannot use client_ca_file: {_ssl_reason(exc)}"
            ) from None
    return ctx


def _ssl_reason(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or "not a certificate or key in PEM format"
    return exc.strerror or type(exc).__name__


class BasicAuth:
    """Checks ``Authorization: Basic`` against the bcrypt hashes of ``basic_auth_users``."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = {u: h.encode() for u, h in users.items()}
        self._good: set[bytes] = set()
        self._slots = asyncio.Semaphore(_BCRYPT_CONCURRENCY)
        # An unknown user costs a bcrypt check as a known one does: no user-name oracle.
        rounds = int(next(iter(users.values()))[4:6]) if users else 4
        self._dummy = bcrypt.hashpw(b"unused", bcrypt.gensalt(rounds=max(4, min(rounds, 31))))

    async def allowed(self, header: str | None) -> bool:
        """Whether the Authorization header names a user with the right password."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, sep, password = base64.b64decode(header[6:], validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        if not sep:
            return False
        hashed = self._users.get(user.decode("utf-8", "replace"))
        key = hashlib.sha256(b"\0".join((user, password, hashed or b""))).digest()
        if hashed is not None and key in self._good:
            return True
        async with self._slots:
            ok = await asyncio.to_thread(bcrypt.checkpw, password, hashed or self._dummy)
        if ok and hashed is not None:
            if len(self._good) >= _CACHE_SIZE:
                self._good.clear()
            self._good.add(key)
            return True
        return False

    def middleware(self) -> Middleware:
        """An aiohttp middleware that answers 401 to every request without valid credentials."""

        @web.middleware
        async def basic_auth(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if await self.allowed(request.headers.get("Authorization")):
                return await handler(request)
            return web.Response(
                status=401,
                text="unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="chm-exporter", charset="UTF-8"'},
            )

        return basic_auth
