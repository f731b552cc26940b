"""RB240 secret-in-arg-env, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb240_secret_in_arg_env import RULE, is_secret_name

BASE = "FROM debian:12\n"


def lint(tmp_path: Path, text: str) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths([path], config=LintConfig(root=tmp_path), rules=[RULE])
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    "name",
    ["GITHUB_TOKEN", "HF_TOKEN", "npm_token", "DB_PASSWORD", "MYSQL_ROOT_PASSWD", "DB_PASS",
     "SECRET", "DJANGO_SECRET_KEY", "OPENAI_API_KEY", "APIKEY", "AWS_SECRET_ACCESS_KEY",
     "AWS_ACCESS_KEY_ID", "SSH_PRIVATE_KEY", "GOOGLE_APPLICATION_CREDENTIALS_JSON",
     "OAUTH_CLIENT_SECRET", "GPG_PASSPHRASE", "registry-password"],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["PASSWORD_FILE", "TOKEN_URL", "SECRET_NAME", "KEYRING_PATH", "GPG_KEY", "PYTHON_VERSION",
     "TOKENIZERS_PARALLELISM", "PASSTHROUGH", "PWD", "PASSWORD_LENGTH", "CLIENT_ID",
     "SECRETS_DIR", "HF_TOKEN_PATH", "KEY", ""],
)
def test_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ARG GITHUB_TOKEN\n", [(2, "ARG GITHUB_TOKEN")]),
        ("ARG VERSION=1 NPM_TOKEN\n", [(2, "ARG NPM_TOKEN")]),
        ("ENV AWS_REGION=eu-west-1 \\\n    AWS_SECRET_ACCESS_KEY=x\n",
         [(3, "ENV AWS_SECRET_ACCESS_KEY")]),
        ("ENV DB_PASSWORD hunter2\n", [(2, "ENV DB_PASSWORD")]),
    ],
)
def test_catches(tmp_path: Path, text: str, expected: list[tuple[int, str]]) -> None:
    findings = lint(tmp_path, BASE + text)
    assert all(f.code == "RB240" and f.severity is Severity.WARNING for f in findings)
    assert [(f.line, " ".join(f.message.split()[:2])) for f in findings] == expected
    assert all("--mount=type=secret" in f.message for f in findings)
    assert all("hunter2" not in f.message for f in findings)


def test_global_arg_is_checked(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, "ARG HF_TOKEN\n" + BASE)
    assert finding.line == 1


@pytest.mark.parametrize(
    "text",
    [
        "ARG PASSWORD_FILE=/run/secrets/db\n",
        "ENV GPG_KEY A035C8C19219BA821ECEA86B64E628F8D684696D\n",
        "RUN --mount=type=secret,id=token cat /run/secrets/token\n",
        "LABEL password=none\n",
        "# reprobuild: ignore=RB240\nARG GITHUB_TOKEN\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, BASE + text) == []
