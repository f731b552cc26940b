"""RB212 conda-install-unlocked, through the engine (suppressions and severities apply)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb212_conda_install_unlocked import RULE

CODE = "RB212"
CORPUS = Path(__file__).parents[3] / ".." / "shared" / "corpus" / "lockfiles"
EXPLICIT = CORPUS / "Cecca__repro-course-ci__conda-linux-64.lock"
CONDA_LOCK_YML = CORPUS / "conda__conda-lock__tests_test-update_conda-lock.yml"
ENVIRONMENT_YML = "name: app\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy\n"


def lint(root: Path, dockerfile: str, files: dict[str, str] | None = None) -> list[Finding]:
    for name, content in (files or {}).items():
        (root / name).write_text(content)
    path = root / "Dockerfile"
    path.write_text(textwrap.dedent(dockerfile))
    result = lint_paths([path], config=LintConfig(root=root), rules=[RULE])
    assert not result.errors, [str(e) for e in result.errors]
    assert all(f.code == CODE and f.severity is Severity.ERROR for f in result.findings)
    return result.findings


def corpus(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"corpus file {path.name} not found (../shared/corpus is absent here)")
    return path


BASE = "FROM mambaorg/micromamba:1.5\n"

# Each case: a Dockerfile and the physical lines RB212 must flag.
CATCHES = {
    "conda-install-spec": (BASE + "RUN conda install -y -c conda-forge numpy=1.26\n", [2]),
    "conda-create-spec": (BASE + "RUN conda create -n app python=3.11\n", [2]),
    "mamba-install": (BASE + "RUN mamba install -y numpy\n", [2]),
    "micromamba-create": (BASE + "RUN micromamba create -y -n app -c conda-forge python\n",
                          [2]),
    "update-all": (BASE + "RUN conda update -y --all\n", [2]),
    "env-create-file": (BASE + "RUN conda env create -f environment.yml\n", [2]),
    "env-create-no-file": (BASE + "RUN conda env create -n app\n", [2]),
    "env-update": (BASE + "RUN conda env update --file /tmp/env.yaml\n", [2]),
    "micromamba-env-yaml": (BASE + "RUN micromamba install -y -n base -f /tmp/env.yaml\n", [2]),
    "spec-file-txt": (BASE + "RUN conda install --file requirements.txt\n", [2]),
    "conda-cannot-read-conda-lock-yml": (
        BASE + "RUN conda create -n app --file conda-lock.yml\n", [2]),
    "sudo-and-chain": (BASE + "RUN apt-get update && sudo conda install -y numpy\n", [2]),
    "json-form": (BASE + 'RUN ["conda", "install", "-y", "numpy"]\n', [2]),
    "continuation": (BASE + "RUN conda install -y \\\n    numpy \\\n    scipy\n", [3, 4]),
    "heredoc": (BASE + "RUN <<EOF\nset -e\nmamba install -y numpy\nEOF\n", [4]),
    "micromamba-root-prefix": (
        BASE + "RUN micromamba -r /opt/conda install -y -n base numpy\n", [2]),
    "conda-run-nested": (BASE + "RUN conda run -n base mamba install -y numpy\n", [2]),
    "full-path": (BASE + "RUN /opt/conda/bin/conda install -y numpy\n", [2]),
}

CATCHES_NOT = {
    "explicit-lock-by-name": BASE + "RUN conda create -n app --file /tmp/conda-linux-64.lock\n",
    "explicit-txt-by-name": BASE + "RUN conda create -n app --file explicit.txt\n",
    "micromamba-conda-lock": BASE + "RUN micromamba install -y -n base -f conda-lock.yml\n",
    "micromamba-create-lock": BASE + "RUN micromamba create -y -n app -f /tmp/env.lock\n",
    "conda-lock-install": BASE + "RUN conda-lock install -n app conda-lock.yml\n",
    "conda-clean": BASE + "RUN conda clean -afy && conda list && conda env list\n",
    "suppressed": BASE + "# reprobuild: ignore=RB212\nRUN conda install -y numpy\n",
    "echo": BASE + "RUN echo 'conda install numpy'\n",
}


@pytest.mark.parametrize("name", sorted(CATCHES))
def test_catches(tmp_path: Path, name: str) -> None:
    dockerfile, lines = CATCHES[name]
    found = lint(tmp_path, dockerfile)
    assert sorted(f.line or 0 for f in found) == lines, [f.message for f in found]


@pytest.mark.parametrize("name", sorted(CATCHES_NOT))
def test_catches_not(tmp_path: Path, name: str) -> None:
    found = lint(tmp_path, CATCHES_NOT[name])
    assert found == [], [f.message for f in found]


def test_environment_yml_in_context_is_read(tmp_path: Path) -> None:
    # Named like a lock, but the content has no @EXPLICIT line.
    found = lint(
        tmp_path,
        BASE + "COPY env.lock /tmp/\nRUN conda create -n app --file /tmp/env.lock\n",
        {"env.lock": ENVIRONMENT_YML},
    )
    [finding] = found
    assert finding.line == 3 and "@EXPLICIT" in finding.message


def test_explicit_lock_in_context_passes(tmp_path: Path) -> None:
    shutil.copyfile(corpus(EXPLICIT), tmp_path / "environment.txt")
    found = lint(
        tmp_path,
        BASE + "WORKDIR /tmp\nCOPY environment.txt .\n"
        "RUN conda create -n app --file environment.txt\n",
    )
    assert found == []


def test_conda_lock_yml_in_context_passes_for_micromamba_only(tmp_path: Path) -> None:
    shutil.copyfile(corpus(CONDA_LOCK_YML), tmp_path / "locked.yml")
    dockerfile = BASE + "COPY locked.yml /tmp/\nRUN {} create -y -n app -f /tmp/locked.yml\n"
    assert lint(tmp_path, dockerfile.format("micromamba")) == []
    [finding] = lint(tmp_path, dockerfile.format("conda"))
    assert "conda-lock install" in finding.message


def test_message_names_the_spec(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, BASE + "RUN conda install -y pytorch=2.3\n")
    assert "pytorch=2.3" in finding.message


def test_docstring_has_the_documentation_sections() -> None:
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in RULE.doc
