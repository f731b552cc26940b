"""RB204 external-image-not-pinned, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding
from reprobuild.lint.rules.rb204_external_image_not_pinned import RULE

BASE = "FROM python:3.11@sha256:" + "c" * 64 + " AS Build\n"
DIGEST = "@sha256:" + "d" * 64


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("text", "line", "image"),
    [
        (BASE + "COPY --from=ghcr.io/astral-sh/uv:0.4.20 /uv /bin/uv\n", 2, "uv:0.4.20"),
        (BASE + "COPY --chown=1:1 --from=nginx /etc/nginx /x\n", 2, "nginx"),
        (BASE + "RUN --mount=type=bind,from=busybox:1.36,target=/b /b/busybox true\n", 2,
         "busybox:1.36"),
        (BASE + "RUN --mount=type=cache,target=/c \\\n"
         "    --mount=type=bind,from=alpine:3,target=/a ls\n", 3, "alpine:3"),
        (BASE + "ARG UV=ghcr.io/astral-sh/uv:0.4\nCOPY --from=$UV /uv /uv\n", 3, "uv:0.4"),
        (BASE + "COPY --from=$UNKNOWN /uv /uv\n", 2, "cannot be resolved"),
        (BASE + "COPY --from=5 /x /x\n", 2, "=5"),  # no such stage index
    ],
)
def test_catches(tmp_path: Path, text: str, line: int, image: str) -> None:
    [finding] = lint(tmp_path, text)
    assert finding.code == "RB204"
    assert finding.line == line
    assert image in finding.message


@pytest.mark.parametrize(
    "text",
    [
        BASE + "COPY --from=build /a /b\n",
        BASE + "COPY --from=BUILD /a /b\n",
        BASE + "COPY --from=0 /a /b\n",
        BASE + "COPY --from=ghcr.io/astral-sh/uv:0.4.20" + DIGEST + " /uv /bin/uv\n",
        BASE + "RUN --mount=type=bind,from=build,target=/s ls /s\n",
        BASE + "RUN --mount=type=cache,target=/root/.cache pip --version\n",
        BASE + "COPY . /app\n",
        BASE + "# reprobuild: ignore=RB204\nCOPY --from=nginx /a /b\n",
    ],
)
def test_catches_not(tmp_path: Path, text: str) -> None:
    assert lint(tmp_path, text) == []
