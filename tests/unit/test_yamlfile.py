"""Hostile config, profile and secret files: each is a one-line refusal that names the file and
the line, never the text of the line, and none can hang, exhaust memory or recurse."""

import os
import time
from pathlib import Path

import pytest

from chm_exporter.config import load_config
from chm_exporter.errors import ConfigError
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.yamlfile import MAX_SECRET_BYTES, MAX_YAML_BYTES, load_yaml

SECRET = "hunter2-very-secret"

# The 900-byte merge-key bomb of issue 10: each level merges the previous one nine times.
MERGE_BOMB = "a0: &a0 {x: 1, y: 2}\n" + "".join(
    f"a{i}: &a{i} {{<<: [{', '.join(f'*a{i - 1}' for _ in range(9))}], k{i}: 1}}\n"
    for i in range(1, 12)
)
LIST_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]\n" for i in range(1, 12)
)


def _refusal(path: Path) -> str:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - started < 5, "a refusal must come quickly"
    message = str(info.value)
    assert "\n" not in message
    assert SECRET not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(MERGE_BOMB, "values once aliases are expanded", id="merge_key_bomb"),
        pytest.param(LIST_BOMB, "values once aliases are expanded", id="billion_laughs"),
        pytest.param("a: " + "[" * 3000 + "]" * 3000, "nested deeper than 64", id="deep_brackets"),
        pytest.param("a: " + "{b: " * 100 + "1" + "}" * 100, "nested deeper", id="deep_maps"),
        pytest.param("a: &a [*a]\n", "refers to a node that contains it", id="recursive_alias"),
        pytest.param(
            f"auths:\n  a: {{version: 2c, community: {SECRET}}}\n  a: {{version: 1}}\n",
            ":3:3: not valid YAML: a key given twice in one mapping",
            id="duplicate_key",
        ),
        pytest.param(
            f'auths:\n  a: {{version: 2c, community: "{SECRET}\\q"}}\n',
            ":2:",
            id="unknown_escape_on_secret_line",
        ),
        pytest.param(f"auths:\n  a:\n\tcommunity: {SECRET}\n", ":3:", id="tab_on_secret_line"),
        pytest.param(
            f"auths:\n  a: {{version: 2c, community: '{SECRET}}}\n",
            "not valid YAML",
            id="open_quote",
        ),
        pytest.param(
            f"auths:\n  a: {{version: 2c, commu {SECRET}}}\n",
            "line 2: auths.a.2c: a key that is not a field here",
            id="secret_in_a_key_by_typo",
        ),
        pytest.param(
            f"auths:\n  a: {{version: 2c, community:{SECRET}}}\n",
            "line 2: auths.a.2c: a key that is not a field here",
            id="secret_glued_to_its_key",
        ),
        pytest.param(  # found by test_fuzz.py: a cut removed "ity: " between key and secret
            f"auths:\n  a: {{version: 2c, commun{SECRET}}}\n",
            "line 2: auths.a.2c: a key that is not a field here",
            id="secret_merged_into_its_key",
        ),
        pytest.param(
            f"auths:\n  public {SECRET}: {{version: 3}}\n",
            "line 2: auths.(a key that is not a plain name).3.username: Field required",
            id="secret_in_an_auth_name",
        ),
        pytest.param("timeout: " + "9" * 5000 + "\n", "cannot be read", id="int_of_5000_digits"),
        pytest.param("when: 2001-13-45\n", "cannot be read", id="impossible_date"),
        pytest.param("- 1\n", "the top level must be a mapping", id="top_level_list"),
        pytest.param("x: !!python/object:os.system {}\n", "not valid YAML", id="python_tag"),
    ],
)
def test_hostile_yaml_is_refused_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(text)
    message = _refusal(path)
    assert str(path) in message
    assert expected in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"auths: {}\x00\x01\x02", ":1: the config file holds binary data", id="nul"),
        pytest.param(
            "auths: {}\n".encode("utf-16"), "byte-order mark; save it as UTF-8", id="utf16"
        ),
        pytest.param(b"a: 1\nb: caf\xe9\n", ":2: the config file is not UTF-8 text", id="latin1"),
        pytest.param(b"a: 1\nb: \x1b[31m\n", ":2: the config file holds a control", id="escape"),
    ],
)
def test_binary_and_foreign_encodings_are_refused(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    path = tmp_path / "chm.yml"
    path.write_bytes(data)
    assert expected in _refusal(path)


def test_oversized_config_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "chm.yml"
    path.write_bytes(b"#" * (MAX_YAML_BYTES + 1))
    assert f"larger than {MAX_YAML_BYTES} bytes" in _refusal(path)


def test_validation_error_names_line_and_field_not_value(tmp_path: Path) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(
        f"auths:\n  a:\n    version: 2c\n    community: {SECRET}\n    extra: {SECRET}\n"
    )
    message = _refusal(path)
    assert "line 5: auths.a.2c: a key that is not a field here" in message


def _secret_config(tmp_path: Path, secret_path: Path | str) -> Path:
    path = tmp_path / "chm.yml"
    path.write_text(f"auths:\n  a: {{version: 2c, community_file: {secret_path}}}\n")
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda p: os.mkfifo(p), "is a FIFO, not a regular file", id="fifo"),
        pytest.param(lambda p: p.mkdir(), "is a folder, not a regular file", id="folder"),
        pytest.param(
            lambda p: p.write_bytes(b"x" * (MAX_SECRET_BYTES + 1)),
            f"larger than {MAX_SECRET_BYTES} bytes",
            id="too_large",
        ),
        pytest.param(
            lambda p: p.write_bytes(SECRET.encode() + b"\xfe\x00"), "binary data", id="binary"
        ),
        pytest.param(
            lambda p: p.write_bytes(SECRET.encode() + b"\xfe"), "not UTF-8 text", id="not_utf8"
        ),
    ],
)
def test_secret_file_must_be_small_regular_text(
    tmp_path: Path, make: object, expected: str
) -> None:
    secret = tmp_path / "secret"
    make(secret)  # type: ignore[operator]
    message = _refusal(_secret_config(tmp_path, secret))
    assert expected in message
    assert "community_file" in message
    assert "\\xfe" not in message
    assert "position" not in message


def test_dev_zero_as_secret_file_is_refused(tmp_path: Path) -> None:
    assert "is a device, not a regular file" in _refusal(_secret_config(tmp_path, "/dev/zero"))


def test_env_default_is_used_when_the_variable_is_unset_or_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chm.yml"
    path.write_text("auths:\n  a: {version: 2c, community: '${CHM_TEST_COMMUNITY:-fallback}'}\n")
    monkeypatch.delenv("CHM_TEST_COMMUNITY", raising=False)
    community = load_config(path).config.auths["a"].community  # type: ignore[union-attr]
    assert community.get_secret_value() == "fallback"
    monkeypatch.setenv("CHM_TEST_COMMUNITY", "")
    community = load_config(path).config.auths["a"].community  # type: ignore[union-attr]
    assert community.get_secret_value() == "fallback"
    monkeypatch.setenv("CHM_TEST_COMMUNITY", "from-env")
    community = load_config(path).config.auths["a"].community  # type: ignore[union-attr]
    assert community.get_secret_value() == "from-env"


def test_plain_anchors_and_merge_keys_still_work() -> None:
    text = "base: &base {timeout: 5, retries: 1}\nm: {<<: *base, retries: 2}\nl: [*base]\n"
    assert load_yaml(text, "x") == {
        "base": {"timeout": 5, "retries": 1},
        "m": {"timeout": 5, "retries": 2},
        "l": [{"timeout": 5, "retries": 1}],
    }


def test_profile_files_get_the_same_limits(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(MERGE_BOMB)
    with pytest.raises(ConfigError, match=r"bomb\.yaml:\d+: more than \d+ values"):
        load_profiles([tmp_path])
    (tmp_path / "bomb.yaml").write_text("name: x\nname: y\n")
    with pytest.raises(
        ConfigError, match=r"bomb\.yaml:2:1: not valid YAML: a key given twice in one mapping"
    ):
        load_profiles([tmp_path])
