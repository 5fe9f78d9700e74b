"""Property-based fuzzing (hypothesis): any /probe query string is a 200 or a one-line 400, never
a 500 or a dropped answer; any config file is loaded or refused in one line that quotes no
secret, never a traceback.

The HTTP cases go through a real socket to the exporter's application served on loopback, with
raw request lines, so aiohttp's own parser sees what a hostile client would send. A query that
names a target outside loopback is pointed at 127.0.0.1:9 instead (nothing leaves the host).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chm_exporter.cli import main
from chm_exporter.config import load_config, parse_config
from chm_exporter.errors import ConfigError, TargetError
from chm_exporter.server import create_app
from chm_exporter.target import parse_target

SECRET = "fuzz-secret-community-0123"
CONFIG = f"""\
auths:
  public_v2: {{version: 2c, community: {SECRET}}}
  v3: {{version: 3, username: u, security_level: authNoPriv, auth_password: {SECRET}}}
modules:
  auto:
    timeout: 0.3
    snmp: {{timeout: 0.05, retries: 0}}
  if_mib:
    timeout: 0.3
    snmp: {{profiles: [system, if_mib], timeout: 0.05, retries: 0}}
"""
_NAMES = ["target", "module", "auth", "debug", "id", "x"]
_TRICKY = [
    "",
    "%",
    "%zz",
    "%00",
    "%ff%fe",
    "[::1",
    "[::1]:0",
    "udp6://[::1]:161",
    "fe80::1%lo",
    "255.255.255.255",
    "224.0.0.1",
    "0.0.0.0",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "if_mib,,if_mib",
    "auto,if_mib",
    "1" * 5000,
    "a" * 400,
    "\u00b2",
    "\ud7ff",
]


@pytest.fixture(scope="module")
def exporter_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The exporter's application on a loopback port, served by a thread's own event loop."""
    path = tmp_path_factory.mktemp("fuzz") / "chm.yml"
    path.write_text(CONFIG)
    app = create_app(load_config(path))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port: int = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def _on_loopback(value: str) -> str:
    """A target value that parses is replaced by a closed loopback port unless it is one."""
    try:
        target = parse_target(value)
    except TargetError:
        return value
    return value if target.host in ("127.0.0.1", "::1") else "127.0.0.1:9"


def _raw_get(port: int, path: bytes, headers: bytes = b"") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers)
        sock.sendall(b"\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data, "the connection was closed without an answer"
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


_values = st.one_of(st.sampled_from(_TRICKY), st.text(max_size=60))
_params = st.lists(st.tuples(st.sampled_from(_NAMES), _values), max_size=6)
# Header values stay within what HTTP allows: a control character is a framing error that
# aiohttp's parser answers itself (400), before the exporter sees the request.
_timeouts = st.one_of(
    st.none(),
    st.sampled_from(["nan", "inf", "-1", "0", "1e309", "", "abc", "0.2", "1" * 5000]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from([b"/probe", b"/logs"]),
    params=_params,
    raw_tail=st.sampled_from([b"", b"&%", b"&target=%zz", b"&=&&", b";target=a"]),
    timeout=_timeouts,
)
def test_any_query_is_200_or_a_one_line_400(
    exporter_port: int,
    path: bytes,
    params: list[tuple[str, str]],
    raw_tail: bytes,
    timeout: str | None,
) -> None:
    safe = [(k, _on_loopback(v) if k == "target" else v) for k, v in params]
    query = urllib.parse.urlencode(safe, encoding="utf-8", errors="surrogatepass").encode()
    headers = b""
    if timeout is not None:
        headers = b"X-Prometheus-Scrape-Timeout-Seconds: " + timeout.encode() + b"\r\n"
    line = path + b"?" + query + raw_tail
    if len(line) > 8190:
        # aiohttp's parser refuses the line (400) before the exporter sees it, and closes the
        # connection while the rest is still arriving: the client may see a reset instead.
        with contextlib.suppress(ConnectionResetError):
            assert _raw_get(exporter_port, line, headers)[0] == 400
        return
    status, body = _raw_get(exporter_port, line, headers)
    assert status in (200, 400, 404), body[:300]
    if status == 400:
        assert body.endswith(b"\n")
        assert body.count(b"\n") == 1, body[:300]
        assert len(body) < 1000
    assert SECRET.encode() not in body


_keys = st.sampled_from(
    ["auths", "modules", "profile_dirs", "version", "community", "community_file", "snmp",
     "icmp", "timeout", "profiles", "<<", "username", "auth_password", "x"]
)  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=30),
    st.just(SECRET),
)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=30,
)


def _check_refusal(exc: ConfigError) -> None:
    message = str(exc)
    assert "\n" not in message
    assert SECRET not in message


@pytest.mark.parametrize("version", [SECRET, [SECRET], {SECRET: 1}])
def test_a_secret_given_as_the_auth_version_is_not_repeated(version: object) -> None:
    """pydantic's discriminated union repeats the tag it got; hypothesis found it once."""
    text = yaml.safe_dump({"auths": {"a": {"version": version}}})
    with pytest.raises(ConfigError, match="version must be one of '1', '2c', '3'") as info:
        parse_config(text, "fuzz.yml")
    _check_refusal(info.value)


@pytest.mark.parametrize(
    "document",
    [
        {"modules": {"m": {"timeout": SECRET}}},  # hypothesis found this one
        {"modules": {"m": {"snmp": {"timeout": True}}}},
        {"auths": {"a": {"community": "c", "allowed_targets": [f"{SECRET}/24"]}}},
        {"auths": {"a": {"community": "c", "allowed_targets": [f"{SECRET}:1"]}}},
    ],
)
def test_a_secret_in_a_duration_or_network_field_is_not_repeated(document: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(yaml.safe_dump(document), "fuzz.yml")
    _check_refusal(info.value)


@settings(max_examples=300, deadline=None)
@given(document=_documents)
def test_any_structured_config_loads_or_is_refused_in_one_line(document: object) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        parse_config(text, "fuzz.yml")
    except ConfigError as exc:
        _check_refusal(exc)


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(CONFIG)),
    cut=st.integers(min_value=0, max_value=5),
    insert=st.text(max_size=8),
)
def test_any_mangled_config_loads_or_is_refused_in_one_line(
    position: int, cut: int, insert: str
) -> None:
    text = CONFIG[:position] + insert + CONFIG[position + cut :]
    try:
        parse_config(text, "fuzz.yml")
    except ConfigError as exc:
        _check_refusal(exc)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_any_bytes_as_config_file_load_or_are_refused_in_one_line(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "chm.yml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as exc:
        _check_refusal(exc)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 3000 + "]" * 3000,
        f"auths:\n  a: {{version: 2c, community: '{SECRET}\n",
        f"auths:\n\ta: {SECRET}\n",
    ],
)
def test_config_check_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(text)
    assert main(["--config.file", str(path), "--config.check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("config invalid: ")
    assert SECRET not in err
