"""The pre-commit hook, exercised with the real `pre-commit try-repo` on a throwaway repo.

pre-commit installs the hook's environment from this checkout (pip, from PyPI for the
dependencies), exactly as a user's `pre-commit install` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.fixture(scope="module")
def precommit_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not PRE_COMMIT.exists():
        pytest.fail(f"pre-commit is not installed next to {sys.executable}: run `make dev`")
    env = dict(os.environ)
    env.update(
        PRE_COMMIT_HOME=str(tmp_path_factory.mktemp("pre-commit-home")),
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return env


def _repo(tmp_path: Path, files: dict[str, str], env: dict[str, str]) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    return repo


def _try_repo(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "reprobuild-lint", "--all-files"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )


def test_hook_fails_on_unhashed_lock_and_mutable_base(
    tmp_path: Path, precommit_env: dict[str, str]
) -> None:
    repo = _repo(
        tmp_path,
        {
            "requirements.txt": "requests==2.32.3\n",
            "docker/Dockerfile": "FROM python:3.12-slim\n",
            "notes.txt": "not a lockfile\n",
        },
        precommit_env,
    )
    proc = _try_repo(repo, precommit_env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "requirements.txt:1" in out and "RB101" in out
    assert "docker/Dockerfile:1" in out and "RB201" in out
    assert "notes.txt" not in out.split("reprobuild lint")[-1]


def test_hook_passes_on_clean_files(tmp_path: Path, precommit_env: dict[str, str]) -> None:
    clean = ROOT / "examples" / "pip-requirements"
    repo = _repo(
        tmp_path,
        {name: (clean / name).read_text() for name in ("requirements.txt", "Dockerfile")},
        precommit_env,
    )
    proc = _try_repo(repo, precommit_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_hook_manifest_is_valid() -> None:
    if shutil.which("git") is None:
        pytest.fail("git is required")
    proc = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
