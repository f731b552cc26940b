"""RB220 add-url-unverified, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding
from reprobuild.lint.rules.rb220_add_url_unverified import RULE

BASE = "FROM alpine:3.20\n"
SHA256 = "sha256:" + "e" * 64
COMMIT = "f" * 40


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("text", "lines", "words"),
    [
        (BASE + "ADD https://example.com/tool.tgz /opt/\n", [2], "--checksum"),
        (BASE + "ADD --chmod=755 http://example.com/a https://example.com/b /bin/\n", [2, 2],
         "--checksum"),
        (BASE + "ADD --checksum=md5:abc https://example.com/tool.tgz /opt/\n", [2], "--checksum"),
        (BASE + "ADD \\\n  https://example.com/tool.tgz \\\n  /opt/\n", [3], "--checksum"),
        (BASE + "ADD https://github.com/moby/buildkit.git#v0.14.1 /src\n", [2], "v0.14.1"),
        (BASE + "ADD https://github.com/moby/buildkit.git /src\n", [2], "no commit"),
        (BASE + "ADD git@github.com:moby/buildkit.git#main /src\n", [2], "main"),
        (BASE + "ADD --keep-git-dir=true ssh://git@example.com/repo.git#abc123 /src\n", [2],
         "abc123"),
        (BASE + "ARG V=v1\nADD https://github.com/a/b.git#${V} /src\n", [3], "v1"),
        (BASE + 'ADD ["https://example.com/x.tgz", "/opt/"]\n', [2], "--checksum"),
    ],
)
def test_catches(tmp_path: Path, text: str, lines: list[int], words: str) -> None:
    findings = lint(tmp_path, text)
    assert [f.line for f in findings] == lines
    assert all(f.code == "RB220" and words in f.message for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        BASE + f"ADD --checksum={SHA256} https://example.com/tool.tgz /opt/\n",
        BASE + "ADD --checksum=sha512:" + "0" * 128 + " https://example.com/x /x\n",
        BASE + f"ADD https://github.com/moby/buildkit.git#{COMMIT} /src\n",
        BASE + f"ADD https://github.com/moby/buildkit.git#{COMMIT}:frontend /src\n",
        BASE + f"ADD --checksum={COMMIT} https://github.com/moby/buildkit.git#v0.14.1 /src\n",
        BASE + "ADD ./vendor.tar.gz /opt/\n",
        BASE + "ADD requirements.txt https.txt /app/\n",
        BASE + "COPY https://example.com/not-a-url-for-copy /x\n",
        BASE + "# reprobuild: ignore=RB220\nADD https://example.com/tool.tgz /opt/\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, text) == []
