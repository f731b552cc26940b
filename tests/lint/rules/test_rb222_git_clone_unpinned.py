"""RB222 git-clone-unpinned, through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding
from reprobuild.lint.rules.rb222_git_clone_unpinned import RULE

BASE = "FROM debian:12\n"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
URL = "https://github.com/ggerganov/llama.cpp"


def lint(tmp_path: Path, text: str, build_args: dict[str, str] | None = None) -> list[Finding]:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    result = lint_paths(
        [path], config=LintConfig(root=tmp_path), rules=[RULE], build_args=build_args
    )
    assert not result.errors, [str(e) for e in result.errors]
    return result.findings


@pytest.mark.parametrize(
    ("run", "lines"),
    [
        (f"RUN git clone {URL} /src\n", [2]),
        (f"RUN git clone --depth 1 --branch b3447 {URL} /src\n", [2]),
        (f"RUN git clone {URL} /src && cd /src && git checkout main\n", [2]),
        (f"RUN git clone {URL} /src && git -C /src checkout {COMMIT[:12]}\n", [2]),
        (f"RUN git clone {URL} /src && git -C /src reset {COMMIT}\n", [2]),  # not --hard
        (f"RUN git clone {URL} /src && git switch {COMMIT}\n", [2]),  # needs --detach
        (f"RUN apt-get update && \\\n    git clone {URL} /src\n", [3]),
        (f"RUN git clone {URL} a && git clone {URL} b && git -C b checkout {COMMIT}\n", [2]),
        (f"ARG REF=main\nRUN git clone {URL} /s && git -C /s checkout $REF\n", [3]),
        (f"RUN git checkout {COMMIT} && git clone {URL} /src\n", [2]),  # checkout before
        (f"RUN <<EOF\nset -e\ngit clone {URL} /src\nEOF\n", [4]),
    ],
)
def test_catches(tmp_path: Path, run: str, lines: list[int]) -> None:
    findings = lint(tmp_path, BASE + run)
    assert [f.line for f in findings] == lines
    assert all(f.code == "RB222" for f in findings)


@pytest.mark.parametrize(
    "run",
    [
        f"RUN git clone {URL} /src && cd /src && git checkout {COMMIT}\n",
        f"RUN git clone {URL} /src && git -C /src checkout -q {COMMIT}\n",
        f"RUN git clone -q {URL} /src && git -C /src reset --hard {COMMIT}\n",
        f"RUN git clone {URL} /s && cd /s && git -c advice.detachedHead=false switch --detach "
        f"{COMMIT}\n",
        f"RUN git clone --filter=blob:none {URL} /s && cd /s && "
        f"git -c protocol.version=2 fetch --depth 1 origin {COMMIT}\n",
        f"RUN git clone --revision={COMMIT} {URL} /src\n",
        f"ARG LLAMA_COMMIT={COMMIT}\n"
        f"RUN git clone {URL} /s && git -C /s checkout ${{LLAMA_COMMIT}}\n",
        f"ENV REF={COMMIT}\nRUN git clone {URL} /s && cd /s && git checkout $REF\n",
        "RUN git --version && git config --global user.name x\n",
        f"# reprobuild: ignore=RB222\nRUN git clone {URL} /src\n",
    ],
)
def test_catches_not(tmp_path: Path, run: str) -> None:
    assert lint(tmp_path, BASE + run) == []


def test_build_arg_commit(tmp_path: Path) -> None:
    text = BASE + f"ARG REF\nRUN git clone {URL} /s && git -C /s checkout $REF\n"
    assert len(lint(tmp_path, text)) == 1
    assert lint(tmp_path, text, build_args={"REF": COMMIT}) == []
