"""Docker config credentials, credential helpers, challenges, token cache, settings."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from reprobuild.errors import ConfigError
from reprobuild.registry.auth import (
    Credentials,
    DockerConfig,
    TokenCache,
    parse_www_authenticate,
)
from reprobuild.registry.errors import CredentialHelperError, InsecureRegistryError
from reprobuild.registry.mirrors import RegistrySettings


def write_config(directory: Path, data: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(data))
    return directory


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_auths_base64_and_username_password(tmp_path: Path) -> None:
    config = DockerConfig.load(
        write_config(
            tmp_path,
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
                    "127.0.0.1:5000": {"username": "bob", "password": "pw:with:colons"},
                    "http://registry.lan:5000/v2/": {"auth": b64("carol:x:y")},
                    "broken.example": {"auth": "%%%"},
                }
            },
        )
    )
    assert config.credentials_for("docker.io") == Credentials("hubuser", "hubpass")
    assert config.credentials_for("registry-1.docker.io") == Credentials("hubuser", "hubpass")
    assert config.credentials_for("127.0.0.1:5000") == Credentials("bob", "pw:with:colons")
    assert config.credentials_for("registry.lan:5000") == Credentials("carol", "x:y")
    assert config.credentials_for("broken.example") is None
    assert config.credentials_for("other.example") is None


def test_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "dc", {"auths": {"ghcr.io": {"auth": b64("u:p")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert DockerConfig.load().credentials_for("ghcr.io") == Credentials("u", "p")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "missing"))
    assert DockerConfig.load().credentials_for("ghcr.io") is None


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    tmp_path.joinpath("config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json"):
        DockerConfig.load(tmp_path)


def install_helper(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def helper_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_credential_helpers(tmp_path: Path, helper_path: Path) -> None:
    # The helper answers for the server URL it reads on stdin, like the real ones do.
    install_helper(
        helper_path,
        "fake",
        """
read server
case "$1:$server" in
  get:127.0.0.1:5000)
    echo '{"ServerURL":"127.0.0.1:5000","Username":"helperuser","Secret":"helper-secret"}' ;;
  get:https://index.docker.io/v1/)
    echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh-tok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
""",
    )
    install_helper(
        helper_path,
        "store",
        """
read server
echo '{"Username":"storeuser","Secret":"store-secret"}'
""",
    )
    config = DockerConfig.load(
        write_config(
            tmp_path / "c1",
            {
                "credHelpers": {
                    "127.0.0.1:5000": "fake",
                    "docker.io": "fake",
                    "nowhere.io": "fake",
                },
                "credsStore": "store",
                "auths": {"nowhere.io": {"auth": b64("fileuser:filepass")}},
            },
        )
    )
    assert config.credentials_for("127.0.0.1:5000") == Credentials("helperuser", "helper-secret")
    hub = config.credentials_for("docker.io")
    assert hub is not None and hub.identity_token == "refresh-tok"
    # helper says "not found": fall back to the auths entry
    assert config.credentials_for("nowhere.io") == Credentials("fileuser", "filepass")
    # everything else goes to credsStore
    assert config.credentials_for("ghcr.io") == Credentials("storeuser", "store-secret")


def test_broken_and_missing_helpers(tmp_path: Path, helper_path: Path) -> None:
    install_helper(helper_path, "broken", "echo 'boom secret-ish output' >&2; exit 3\n")
    install_helper(helper_path, "garbage", "echo not-json\n")
    config = DockerConfig.load(
        write_config(
            tmp_path / "c2",
            {"credHelpers": {"a.io": "broken", "b.io": "garbage", "c.io": "absent"}},
        )
    )
    with pytest.raises(CredentialHelperError, match="status 3") as info:
        config.credentials_for("a.io")
    assert "secret-ish" not in str(info.value)
    with pytest.raises(CredentialHelperError, match="not its JSON"):
        config.credentials_for("b.io")
    with pytest.raises(CredentialHelperError, match="docker-credential-absent is not on PATH"):
        config.credentials_for("c.io")


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials("alice", "p4ss-w0rd", identity_token="id-t0ken")
    assert "p4ss-w0rd" not in repr(creds) and "id-t0ken" not in repr(creds)
    assert "alice" in repr(creds)


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/python:pull,push"',
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/python:pull,push",
            },
        ),
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        (
            'Bearer realm=https://h/t, service=svc, error="insufficient_scope"',
            "bearer",
            {"realm": "https://h/t", "service": "svc", "error": "insufficient_scope"},
        ),
        ('Bearer realm="a \\"quoted\\" realm"', "bearer", {"realm": 'a "quoted" realm'}),
        ("Basic", "basic", {}),
    ],
)
def test_parse_www_authenticate(header: str, scheme: str, params: dict[str, str]) -> None:
    challenge = parse_www_authenticate(header)
    assert challenge is not None
    assert challenge.scheme == scheme and dict(challenge.params) == params


def test_parse_www_authenticate_empty() -> None:
    assert parse_www_authenticate("  ") is None


def test_token_cache_expiry() -> None:
    now = [100.0]
    cache = TokenCache(clock=lambda: now[0])
    cache.put(("h", "scope"), "xyz-secret", expires_in=60)
    assert "xyz-secret" not in repr(cache)
    assert cache.get(("h", "scope")) == "xyz-secret"
    assert cache.get(("h", "other")) is None
    now[0] += 50
    assert cache.get(("h", "scope")) == "xyz-secret"
    now[0] += 5  # within the safety margin before expiry
    assert cache.get(("h", "scope")) is None


def test_settings_from_table(tmp_path: Path) -> None:
    settings = RegistrySettings.from_table(
        {
            "registry-mirrors": {
                "index.docker.io": "127.0.0.1:5000",
                "ghcr.io": ["https://m1.lan", "m2.lan:5000"],
            },
            "insecure-registries": ["m2.lan:5000"],
            "registry-ca-files": {"m1.lan": "ca.pem"},
        },
        where="pyproject.toml: tool.reprobuild.",
        root=tmp_path,
    )
    hub = settings.endpoints("docker.io")
    assert [(e.host, e.scheme, e.mirror_of) for e in hub] == [
        ("127.0.0.1:5000", "http", "docker.io")
    ]
    ghcr = settings.endpoints("ghcr.io")
    assert [(e.base_url, e.ca_file) for e in ghcr] == [
        ("https://m1.lan", tmp_path / "ca.pem"),
        ("http://m2.lan:5000", None),
    ]
    pushes = settings.endpoints("docker.io", for_push=True)
    assert [(e.base_url, e.mirror_of) for e in pushes] == [("https://registry-1.docker.io", None)]
    assert settings.endpoints("localhost:5000")[0].scheme == "http"
    assert settings.endpoints("quay.io")[0].scheme == "https"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"registry-mirrors": "x"}, "registry-mirrors must be a table"),
        ({"registry-mirrors": {"docker.io": 5}}, "registry-mirrors.docker.io"),
        ({"insecure-registries": "x"}, "insecure-registries must be a list"),
        ({"registry-ca-files": {"a": 1}}, "registry-ca-files"),
    ],
)
def test_settings_errors(table: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        RegistrySettings.from_table(table, where="cfg: ", root=tmp_path)


def test_plain_http_refused_for_remote_registries(tmp_path: Path) -> None:
    settings = RegistrySettings.from_table(
        {"registry-mirrors": {"docker.io": "http://mirror.example.com"}}, where="", root=tmp_path
    )
    with pytest.raises(InsecureRegistryError, match="insecure-registries"):
        settings.endpoints("docker.io")
