"""The config file: the documented example loads, secrets never show, errors name the field."""

from pathlib import Path

import pytest
import yaml

from chm_exporter.config import UsmAuth, load_config, parse_config
from chm_exporter.errors import ConfigError

ISSUE_EXAMPLE = """\
auths:
  public_v2: {version: 2c, community: public}
  v3_priv:
    version: 3
    username: chm
    security_level: authPriv        # noAuthNoPriv | authNoPriv | authPriv
    auth_protocol: SHA              # MD5 SHA SHA224 SHA256 SHA384 SHA512
    auth_password_file: /run/secrets/snmp_auth
    priv_protocol: AES              # DES AES AES192 AES256
    priv_password: ${SNMP_PRIV}
modules:
  if_mib:
    snmp: {profiles: [system, if_mib]}
  icmp:
    icmp: {count: 3}
  ios_ssh:
    ssh: {auth: lab, platform: cisco_iosxe, port: 22}
ssh_auths:
  lab:
    username: netops
    password_file: /run/secrets/ssh_password
    enable_password: ${SSH_ENABLE}
  keyed:
    username: netops
    private_key_file: /run/secrets/id_ed25519
    passphrase: key-passphrase-4
"""


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's example, with the secret file placed in a temp dir instead of /run/secrets."""
    secret = tmp_path / "snmp_auth"
    secret.write_text("auth-secret-1\n")
    monkeypatch.setenv("SNMP_PRIV", "priv-secret-2")
    monkeypatch.setenv("SSH_ENABLE", "enable-secret-3")
    (tmp_path / "ssh_password").write_text("ssh-secret-5\n")
    path = tmp_path / "chm.yml"
    path.write_text(
        ISSUE_EXAMPLE.replace("/run/secrets/snmp_auth", str(secret)).replace(
            "/run/secrets/ssh_password", str(tmp_path / "ssh_password")
        )
    )
    return path


def test_issue_example_loads(example: Path) -> None:
    loaded = load_config(example)
    auth = loaded.config.auths["v3_priv"]
    assert isinstance(auth, UsmAuth)
    assert auth.auth_password is not None
    assert auth.priv_password is not None
    assert auth.auth_password.get_secret_value() == "auth-secret-1"
    assert auth.priv_password.get_secret_value() == "priv-secret-2"
    assert loaded.config.default_auth == "public_v2"
    assert loaded.config.module_names == ["auto", "icmp", "if_mib", "ios_ssh"]
    lab = loaded.config.ssh_auths["lab"]
    assert lab.password is not None
    assert lab.password.get_secret_value() == "ssh-secret-5"
    assert lab.enable_password is not None
    assert lab.enable_password.get_secret_value() == "enable-secret-3"
    assert {"system", "if_mib"} <= set(loaded.profiles)


def test_secrets_dump_as_secret(example: Path) -> None:
    dumped = yaml.safe_dump(load_config(example).config.model_dump(mode="json"))
    for secret in (
        "auth-secret-1",
        "priv-secret-2",
        "community: public",
        "ssh-secret-5",
        "enable-secret-3",
        "key-passphrase-4",
    ):
        assert secret not in dumped
    assert dumped.count("<secret>") == 6


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modules: {m: {snmp: {}, bogus: 1}}", "modules.m: a key that is not a field here"),
        ("modules: {m: {}}", "modules.m: a module needs at least one prober"),
        ("modules: {m: {snmp: {max_repetitions: 0}}}", "modules.m.snmp.max_repetitions"),
        ("modules: {m: {icmp: {count: 0}}}", "modules.m.icmp.count"),
        ("auths: {a: {version: 4}}", "auths.a: version must be one of '1', '2c', '3'"),
        ("auths: {a: {version: 3}}", "auths.a.3.username: Field required"),
        (
            "auths: {a: {version: 3, username: u, security_level: authNoPriv}}",
            "auths.a.3: auth_password is required",
        ),
        (
            "auths: {a: {version: 3, username: u, security_level: authPriv, auth_password: abcdefgh}}",
            "priv_password is required",
        ),
        (
            "auths: {a: {version: 3, username: u, security_level: authNoPriv, auth_password: short}}",
            "at least 8 characters",
        ),
        (
            "auths: {a: {version: 3, username: u, auth_protocol: SHA1}}",
            "auths.a.3.auth_protocol",
        ),
        (
            "auths: {a: {version: 2c, community_file: /nonexistent/x}}",
            "community_file: cannot read",
        ),
        ("auths: {a: {version: 2c, community: '${CHM_TEST_UNSET_VAR}'}}", "CHM_TEST_UNSET_VAR"),
        ("auths: {}", "auths: Value error, at least one auth"),
        ("ssh_auths: {a: {username: u}}", "ssh_auths.a: give a password"),
        (
            "ssh_auths: {a: {username: u, password: p, passphrase: x}}",
            "passphrase needs a private_key",
        ),
        (
            "modules: {m: {ssh: {auth: nope, platform: cisco_ios}}}",
            "modules.m.ssh.auth: unknown ssh auth 'nope'",
        ),
        (
            "ssh_auths: {a: {username: u, password: p}}\n"
            "modules: {m: {ssh: {auth: a, platform: cisco_ios, host_key: known_hosts}}}",
            "host_key known_hosts needs known_hosts_file",
        ),
        (
            "ssh_auths: {a: {username: u, password: p}}\n"
            "modules: {m: {ssh: {auth: a, platform: vyos}}}",
            "modules.m.ssh.platform",
        ),
        ("[1, 2]", "top level must be a mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_invalid_config_names_the_field(text: str, message: str) -> None:
    assert message.replace("Value error, ", "") in _error(text)


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chm.yml"
    path.write_text("modules: {m: {snmp: {profiles: [system, nope]}}}")
    with pytest.raises(ConfigError, match=r"modules\.m\.snmp\.profiles\.1: unknown profile 'nope'"):
        load_config(path)


def test_empty_file_gives_defaults() -> None:
    config = parse_config("")
    assert config.default_auth == "public_v2"
    assert config.module("auto") is not None
    assert config.module("nope") is None


def test_user_profile_dir_adds_profiles(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "mine.yaml").write_text(
        "name: mine\ntables:\n  - name: t\n    scalar: true\n    metrics:\n"
        "      - {name: my_metric, help: h 1.3.6.1.2.1.1.7.0, oid: 1.3.6.1.2.1.1.7.0}\n"
    )
    path = tmp_path / "chm.yml"
    path.write_text("profile_dirs: [profiles]\nmodules: {m: {snmp: {profiles: [mine]}}}")
    assert "mine" in load_config(path).profiles
