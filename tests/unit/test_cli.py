"""Flags over CHM_* environment variables over defaults; --config.check's exit codes."""

from pathlib import Path

import pytest

from chm_exporter.cli import main, parse_args
from chm_exporter.errors import ConfigError
from chm_exporter.settings import split_listen_address


def test_defaults() -> None:
    s = parse_args([])
    assert (s.config_file, s.web_listen_address, s.log_level, s.log_format, s.timeout_offset) == (
        Path("chm.yml"),
        ":9840",
        "info",
        "logfmt",
        0.5,
    )


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHM_WEB_LISTEN_ADDRESS", "127.0.0.1:1234")
    monkeypatch.setenv("CHM_TIMEOUT_OFFSET", "0.25")
    monkeypatch.setenv("CHM_LOG_FORMAT", "json")
    s = parse_args(["--web.listen-address", "[::1]:9999"])
    assert s.web_listen_address == "[::1]:9999"
    assert s.timeout_offset == 0.25
    assert s.log_format == "json"


def test_invalid_flag_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match="log_format"):
        parse_args(["--log.format", "xml"])


@pytest.mark.parametrize(
    ("address", "expected"),
    [(":9840", (None, 9840)), ("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:9840", ("::1", 9840))],
)
def test_listen_address(address: str, expected: tuple[str | None, int]) -> None:
    assert split_listen_address(address) == expected


def test_config_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yml"
    good.write_text("modules: {m: {icmp: {}}}\n")
    assert main(["--config.file", str(good), "--config.check"]) == 0
    assert "config valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text("modules: {m: {icmp: {count: -1}}}\n")
    assert main(["--config.file", str(bad), "--config.check"]) == 1
    assert "modules.m.icmp.count" in capsys.readouterr().err
