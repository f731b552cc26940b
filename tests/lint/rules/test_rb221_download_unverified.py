"""RB221 download-unverified, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding
from reprobuild.lint.rules.rb221_download_unverified import RULE

BASE = "FROM debian:12\n"
SUM = "e" * 64


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("run", "lines", "words"),
    [
        ("RUN curl -fsSL https://sh.rustup.rs | sh -s -- -y\n", [2], "| sh"),
        ("RUN wget -qO- https://get.example.com | sudo bash\n", [2], "| bash"),
        ("RUN curl -sSL https://install.python-poetry.org | python3.11 -\n", [2], "| python3.11"),
        ("RUN curl -L https://cpanmin.us | perl - App::cpanminus\n", [2], "| perl"),
        ("RUN sh -c \"$(curl -fsSL https://x/install.sh)\"\n", [2], "`sh` runs"),
        ("RUN bash <(curl -fsSL https://x/install.sh)\n", [2], "`bash` runs"),
        # piping into a shell is flagged even when something else is verified
        (f'RUN echo "{SUM}  f" | sha256sum -c - && curl -s https://x | sh\n', [2], "| sh"),
        ("RUN apt-get update && \\\n    curl -fsSLo /tmp/x.sh https://x/x.sh && \\\n"
         "    bash /tmp/x.sh\n", [3], "never verifies"),
        ("RUN wget https://x/tool.tgz && tar xzf tool.tgz\n", [2], "https://x/tool.tgz"),
        ("RUN curl -fsSL https://x/tool.tgz | tar -xz -C /usr/local\n", [2], "never verifies"),
        ("RUN curl -fsSL https://x/tool > /usr/local/bin/tool\n", [2], "never verifies"),
        ("RUN curl -fsSL https://x/key | gpg --dearmor -o /usr/share/keyrings/x.gpg\n", [2],
         "never verifies"),
        ("RUN <<EOF\nset -e\ncurl -fsSL https://x | sh\nEOF\n", [4], "| sh"),
        ('RUN ["/bin/sh", "-c", "curl -fsSL https://x | sh"]\n', [2], "| sh"),
        # shasum without -a 256 is SHA-1: not a verification
        ("RUN curl -O https://x/t.tgz && shasum -c t.tgz.sha1\n", [2], "never verifies"),
        ("RUN curl -O https://x/a.tgz && curl -O https://x/b.tgz\n", [2, 2], "never verifies"),
    ],
)
def test_catches(tmp_path: Path, run: str, lines: list[int], words: str) -> None:
    findings = lint(tmp_path, BASE + run)
    assert [f.line for f in findings] == lines
    assert all(f.code == "RB221" and words in f.message for f in findings)


@pytest.mark.parametrize(
    "run",
    [
        f'RUN curl -fsSLo /tmp/x.sh https://x/x.sh && echo "{SUM}  /tmp/x.sh" | sha256sum -c - '
        "&& bash /tmp/x.sh\n",
        "RUN wget -q https://x/t.tgz https://x/t.tgz.sha256 && sha256sum --check t.tgz.sha256\n",
        "RUN curl -fsSLO https://x/t.tgz && shasum -a 256 -c t.tgz.sha256\n",
        "RUN curl -fsSLO https://x/t.tgz && curl -fsSLO https://x/t.tgz.asc "
        "&& gpg --batch --verify t.tgz.asc t.tgz\n",
        "RUN curl -fsSLO https://x/t.tgz && gpgv --keyring k.gpg t.tgz.sig t.tgz\n",
        'RUN curl -fsSLo t https://x/t && [ "$(sha256sum t | cut -d" " -f1)" = "${SUM}" ]\n',
        "RUN curl -fsS http://localhost:8080/health\n",
        "RUN VERSION=$(curl -s https://api.github.com/repos/a/b/releases/latest | jq -r .tag_name)"
        " && echo $VERSION\n",
        "RUN curl -s https://api.example.com/v | grep -o 'v[0-9.]*'\n",
        "RUN curl --version && wget --help\n",
        "RUN wget --spider https://example.com\n",
        "RUN python3 <<EOF\nimport os  # curl https://x | sh\nEOF\n",
        "# reprobuild: ignore=RB221\nRUN curl -fsSL https://x | sh\n",
        "RUN echo 'curl https://x | sh' > /notes.txt\n",
    ],
)
def test_catches_not(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, BASE + run) == []


def test_windows_powershell(tmp_path: Path) -> None:
    text = (
        "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
        "RUN Invoke-WebRequest -Uri https://x/python.exe -OutFile C:\\python.exe ; `\n"
        "    Start-Process C:\\python.exe -Wait\n"
        "RUN iwr https://x/install.ps1 -UseBasicParsing | iex\n"
        "RUN Invoke-WebRequest https://x/y.zip -OutFile y.zip ; "
        "if ((Get-FileHash y.zip).Hash -ne 'ABC') { exit 1 }\n"
    )
    findings = lint(tmp_path, text)
    assert [f.line for f in findings] == [3, 5]
