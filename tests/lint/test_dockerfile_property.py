"""Property: linting any Dockerfile text never crashes.

Whatever the text (random instructions, continuations, heredocs, quotes, garbage), the
Dockerfile rules either report findings or the file is refused with a
:class:`LockParseError`; no other exception escapes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprobuild.errors import LockParseError
from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Target
from reprobuild.lint.rules import rules_for

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)

KEYWORDS = ["FROM", "RUN", "COPY", "ADD", "ARG", "ENV", "LABEL", "CMD", "ENTRYPOINT", "USER",
            "WORKDIR", "SHELL", "HEALTHCHECK", "ONBUILD", "from", "run", "Bogus"]
PIECES = [
    "python:3.11", "ubuntu", "node:latest", "img@sha256:" + "a" * 64, "scratch", "AS build",
    "--platform=$BUILDPLATFORM", "--from=build", "--from=alpine:3", "--mount=type=bind,from=x",
    "--checksum=sha256:", "https://x/y.tgz", "git@github.com:a/b.git#main", "$A", "${A:-b}",
    "${A:+", "${", "$(", "`", "'", '"', "\\", "&&", "||", "|", ";", "&", ">", "2>&1", "<<EOF",
    "<<-EOT", "<<'Q'", "<<<", "curl -fsSL https://x", "| sh", "wget -O- u", "sha256sum -c",
    "git clone u", "git checkout " + "0" * 40, "apt-get install -y", "apk add", "dnf install",
    "pkg=1.0", "pkg", "GITHUB_TOKEN=x", "A=1", '["sh", "-c", "curl u | sh"]', "[", "]", "#",
    "$((1+", "))", "(", ")", "{", "}", "if", "then", "fi", "EOF", "EOT", "Q", "sudo", "env -i",
]
word = st.one_of(st.sampled_from(PIECES), st.text(max_size=6))
args = st.lists(word, max_size=8).map(" ".join)
instruction = st.builds(lambda k, a: f"{k} {a}", st.sampled_from(KEYWORDS), args)
line = st.one_of(
    instruction,
    instruction.map(lambda s: s + " \\"),  # a continuation
    instruction.map(lambda s: s + " `"),
    st.sampled_from(["", "# comment", "# escape=`", "# escape=\\", "# syntax=x", "EOF", "\tEOT",
                     "  \\", "Q"]),
    st.text(max_size=20),
)
dockerfile_text = st.lists(line, max_size=25).map("\n".join)


def _lint(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = lint_paths(
            [path], config=LintConfig(root=Path(tmp)), rules=rules_for(Target.DOCKERFILE)
        )
    assert all(isinstance(e, LockParseError) for e in result.errors), result.errors
    for finding in result.findings:
        assert finding.line is None or 1 <= finding.line <= max(1, len(text.splitlines()))


@SETTINGS
@given(dockerfile_text)
def test_linting_generated_dockerfiles_never_crashes(text: str) -> None:
    _lint(text)


@SETTINGS
@given(st.text(max_size=300))
def test_linting_garbage_never_crashes(text: str) -> None:
    _lint(text)
