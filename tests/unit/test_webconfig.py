"""--web.config.file: TLS (with and without client certificates) and basic auth, tested with a
real TLS client against the exporter served on loopback; certificates made with openssl."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from aiohttp import web

from chm_exporter.config import load_config
from chm_exporter.errors import ConfigError
from chm_exporter.listener import LimitedSite
from chm_exporter.server import create_app
from chm_exporter.webconfig import WebConfig, load_web_config, ssl_context

PASSWORD = "scrape-password-42"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, signed by the CA."""
    assert shutil.which("openssl"), "openssl is part of every Debian install"
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test ca", cwd=d)  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):  # fmt: skip
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return d


def _web_config(pki: Path, client_auth: str | None, users: bool) -> Path:
    lines = ["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key"]
    if client_auth:
        lines += [f"  client_auth_type: {client_auth}", "  client_ca_file: ca.crt"]
    if users:
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines += ["basic_auth_users:", f"  prometheus: '{hashed}'"]
    path = pki / f"web-{client_auth}-{users}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _serve(tmp_path: Path, web_config: WebConfig) -> AsyncIterator[int]:
    config = tmp_path / "chm.yml"
    config.write_text("modules:\n  ping:\n    icmp: {count: 1}\n")
    app = create_app(load_config(config), web_config=web_config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    assert web_config.tls_server_config is not None
    site = LimitedSite(
        runner, "127.0.0.1", 0, 100, ssl_context=ssl_context(web_config.tls_server_config)
    )
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _client_ssl(pki: Path, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if with_cert:
        ctx.load_cert_chain(pki / "client.crt", pki / "client.key")
    return ctx


async def _status(port: int, ctx: ssl.SSLContext, auth: str | None = None) -> int | str:
    headers = {"Authorization": auth} if auth else {}
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"https://127.0.0.1:{port}/metrics", ssl=ctx, headers=headers) as resp,
        ):
            return resp.status
    except aiohttp.ClientError as exc:
        return type(exc).__name__


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_tls_with_basic_auth_accepts_the_user_and_refuses_others(
    tmp_path: Path, pki: Path
) -> None:
    web_config = load_web_config(_web_config(pki, None, users=True))
    async for port in _serve(tmp_path, web_config):
        ctx = _client_ssl(pki, with_cert=False)
        assert await _status(port, ctx, _basic("prometheus", PASSWORD)) == 200
        assert await _status(port, ctx, _basic("prometheus", PASSWORD)) == 200  # cached
        assert await _status(port, ctx, _basic("prometheus", "wrong")) == 401
        assert await _status(port, ctx, _basic("nobody", PASSWORD)) == 401
        assert await _status(port, ctx, "Basic !!!") == 401
        assert await _status(port, ctx) == 401
        untrusting = ssl.create_default_context()  # does not know our CA
        assert await _status(port, untrusting, _basic("prometheus", PASSWORD)) == (
            "ClientConnectorCertificateError"
        )


async def test_client_certificate_required_and_verified(tmp_path: Path, pki: Path) -> None:
    web_config = load_web_config(_web_config(pki, "RequireAndVerifyClientCert", users=False))
    async for port in _serve(tmp_path, web_config):
        assert await _status(port, _client_ssl(pki, with_cert=True)) == 200
        refused = await _status(port, _client_ssl(pki, with_cert=False))
        assert refused in ("ClientOSError", "ServerDisconnectedError", "ClientConnectorError")


async def test_plain_http_to_the_tls_port_gets_no_metrics(tmp_path: Path, pki: Path) -> None:
    web_config = load_web_config(_web_config(pki, None, users=False))
    async for port in _serve(tmp_path, web_config):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    await resp.read()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("basic_auth_users: {u: plain-text}\n", "basic_auth_users: u: not a bcrypt hash"),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequestClientCert}\n",
            "RequestClientCert (a client certificate that is not verified) is not supported",
        ),
        ("tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n", "cannot use cert_file"),
        ("tls_config: {}\n", "line 1: a key that is not a field here"),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "needs client_ca_file",
        ),
    ],
)
def test_invalid_web_config_is_refused_in_one_line(pki: Path, text: str, message: str) -> None:
    path = pki / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
