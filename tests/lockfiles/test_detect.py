"""detect_format / read_lock on every corpus file, under its corpus name and its real name."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from reprobuild.errors import LockParseError, UnknownFormatError
from reprobuild.lockfiles import READERS, detect_format, read_lock
from reprobuild.models import LockFormat

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / ".." / "shared" / "corpus"
LOCKFILES = CORPUS / "lockfiles"

# What each corpus file is, stated independently of the detector (from INDEX.md).
EXPECTED: dict[str, LockFormat | None] = {
    "Cecca__repro-course-ci__conda-linux-64.lock": LockFormat.CONDA_EXPLICIT,
    "EmDash00__ArduinoSliderMouse__pylock.toml": LockFormat.PYLOCK,
    "astral-sh__setup-uv____tests___fixtures_uv-project_uv.lock": LockFormat.UV,
    "astral-sh__uv__a_uv.lock": LockFormat.UV,
    "astral-sh__uv__agents_scripts_issue-triage-preview.py.lock": LockFormat.UV,
    "aws__aws-cli__requirements-base-lock.txt": LockFormat.REQUIREMENTS,
    "conda__conda-lock__tests_test-install-with-pip-deps_conda-lock.yml": LockFormat.CONDA_LOCK,
    "conda__conda-lock__tests_test-pypi-resolve-gh155_conda-lock.yml": LockFormat.CONDA_LOCK,
    "conda__conda-lock__tests_test-update_conda-lock.yml": LockFormat.CONDA_LOCK,
    "mamba-org__micromamba-docker__examples_new_lock_env.lock": LockFormat.CONDA_EXPLICIT,
    "nix-community__poetry2nix__tests_filelock_poetry.lock": LockFormat.POETRY,
    "pallets__flask__requirements_build.txt": LockFormat.REQUIREMENTS,
    "pyca__cryptography__.github_requirements_build-requirements.txt": LockFormat.REQUIREMENTS,
    "pyca__cryptography__.github_requirements_uv-requirements.txt": LockFormat.REQUIREMENTS,
    "pypa__gh-action-pypi-publish__requirements_runtime-prerequisites.txt": (
        LockFormat.REQUIREMENTS
    ),
    "pypa__gh-action-pypi-publish__requirements_runtime.txt": LockFormat.REQUIREMENTS,
    "pypi__warehouse__requirements_bootstrap.txt": LockFormat.REQUIREMENTS,
    "pypi__warehouse__requirements_pip.txt": LockFormat.REQUIREMENTS,
    "python-poetry__poetry__tests_fixtures_old_lock_path_dependency_poetry.lock": (
        LockFormat.POETRY
    ),
    "python-poetry__poetry__tests_fixtures_old_lock_poetry.lock": LockFormat.POETRY,
    "python-poetry__poetry__tests_fixtures_up_to_date_lock_poetry.lock": LockFormat.POETRY,
    "scikit-learn__scikit-learn__build_tools_azure_debian_32bit_lock.txt": (
        LockFormat.REQUIREMENTS
    ),
    # Not lockfiles reprobuild can read (see their own tests below).
    "python-poetry__poetry__tests_fixtures_invalid_lock_poetry.lock": None,
    "replicate__cog__examples_resnet_weights.lock": None,
}
WEIGHTS = "replicate__cog__examples_resnet_weights.lock"
BROKEN_POETRY = "python-poetry__poetry__tests_fixtures_invalid_lock_poetry.lock"
_MISSING = f"corpus not found at {CORPUS} (../shared is absent in a plain clone)"


def _original_names() -> dict[str, str]:
    """Corpus name -> the file's base name in its repository (INDEX.md's path column)."""
    index = CORPUS / "INDEX.md"
    names: dict[str, str] = {}
    for line in index.read_text().splitlines() if index.is_file() else []:
        match = re.match(r"^lockfiles/(\S+) \| \S+ \| (\S+) \|", line)
        if match:
            names[match.group(1)] = Path(match.group(2)).name
    return names


ORIGINAL_NAMES = _original_names()


def _corpus_params() -> list[Any]:
    if not LOCKFILES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=_MISSING))]
    return sorted(p.name for p in LOCKFILES.iterdir() if p.is_file())


def _corpus(name: str) -> Path:
    path = LOCKFILES / name
    if not path.is_file():
        pytest.skip(_MISSING)
    return path


@pytest.mark.parametrize("name", _corpus_params())
def test_every_corpus_file_is_in_the_expectations(name: str) -> None:
    # A new corpus file must be classified here, or this test tells you.
    assert name in EXPECTED


@pytest.mark.parametrize("name", _corpus_params())
def test_detect_format_under_the_corpus_name(name: str) -> None:
    path = LOCKFILES / name
    assert detect_format(path, path.read_bytes()) == EXPECTED.get(name)


@pytest.mark.parametrize("name", _corpus_params())
def test_detect_format_under_the_real_name(name: str) -> None:
    original = ORIGINAL_NAMES.get(name)
    if original is None:
        pytest.skip(f"{name} has no entry in INDEX.md")
    expected = EXPECTED.get(name)
    if name == BROKEN_POETRY:
        expected = LockFormat.POETRY  # a file named poetry.lock is taken at its word
    data = (LOCKFILES / name).read_bytes()
    assert detect_format(Path("project") / original, data) == expected


def test_model_weights_lock_is_not_recognised() -> None:
    path = _corpus(WEIGHTS)
    with pytest.raises(UnknownFormatError) as caught:
        read_lock(path)
    assert WEIGHTS in str(caught.value)
    assert "--type" in str(caught.value)


def test_model_weights_lock_named_plainly_is_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "weights.lock"
    shutil.copyfile(_corpus(WEIGHTS), path)
    with pytest.raises(UnknownFormatError):
        read_lock(path)


def test_broken_poetry_lock_is_a_parse_error() -> None:
    with pytest.raises(LockParseError):
        read_lock(_corpus(BROKEN_POETRY))


def test_broken_file_named_poetry_lock_is_a_parse_error_not_unknown(tmp_path: Path) -> None:
    if importlib.util.find_spec(READERS[LockFormat.POETRY]) is None:
        pytest.skip("the poetry reader is not written yet")
    path = tmp_path / "poetry.lock"
    shutil.copyfile(_corpus(BROKEN_POETRY), path)
    with pytest.raises(LockParseError) as caught:
        read_lock(path)
    assert not isinstance(caught.value, UnknownFormatError)
    assert "poetry.lock" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("environment.yml", "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - numpy\n"),
        (
            "pixi.lock",
            "version: 6\nenvironments:\n  default:\n    channels: []\npackages:\n- conda: x\n",
        ),
        ("weights.lock", '{"version": 1, "weights": []}'),
        ("package-lock.json", '{"lockfileVersion": 3, "packages": {}}'),
    ],
)
def test_look_alikes_are_not_recognised(name: str, text: str) -> None:
    assert detect_format(Path(name), text.encode()) is None


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("conda-lock.yml", "version: 1\nmetadata:\n  platforms: []\npackage:\n", "conda-lock"),
        ("my-env.lock", "# platform: linux-64\n@EXPLICIT\n", "conda-explicit"),
        ("conda-linux-64.lock", "@EXPLICIT\n", "conda-explicit"),
    ],
)
def test_conda_locks_under_other_names(name: str, text: str, expected: str) -> None:
    assert detect_format(Path(name), text.encode()) == LockFormat(expected)
