"""RB107 lock-out-of-date: poetry content-hash and requirements.in vs requirements.txt."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprobuild.lint.rule import Finding, Severity, Violation
from reprobuild.lint.rules.rb107_lock_out_of_date import poetry_content_hashes
from reprobuild.models import Lock, LockFormat

MakeLock = Callable[..., Lock]
Catches = Callable[[str, Lock], list[Violation]]
CatchesNot = Callable[[str, Lock], None]
LintLockfile = Callable[..., list[Finding]]

CODE = "RB107"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "lint"
# Real projects locked by `poetry lock` (Poetry 2.5.1): a PEP 621 one and a 1.x-style one.
POETRY_PROJECTS = ["poetry-project", "poetry-legacy-project"]
SHA = "a" * 64


# --- poetry: unit ---------------------------------------------------------------------


def _poetry_lock(make_lock: MakeLock, directory: Path, content_hash: str | None) -> Lock:
    return make_lock(
        format=LockFormat.POETRY, path=directory / "poetry.lock", content_hash=content_hash
    )


def test_catches_stale_content_hash(
    tmp_path: Path, make_lock: MakeLock, lock_catches: Catches
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.poetry.dependencies]\npython = "^3.11"\n')
    [violation] = lock_catches(CODE, _poetry_lock(make_lock, tmp_path, "0" * 64))
    assert "pyproject.toml" in violation.message and "poetry lock" in violation.message
    assert violation.package is None


def test_catches_not_matching_content_hash(
    tmp_path: Path, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    data = '[tool.poetry.dependencies]\npython = "^3.11"\n'
    (tmp_path / "pyproject.toml").write_text(data)
    [current, *_] = poetry_content_hashes(tomllib.loads(data))
    lock_catches_not(CODE, _poetry_lock(make_lock, tmp_path, current))


def test_catches_not_without_pyproject_or_hash(
    tmp_path: Path, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    lock_catches_not(CODE, _poetry_lock(make_lock, tmp_path, "0" * 64))
    (tmp_path / "pyproject.toml").write_text("[tool.poetry]\n")
    lock_catches_not(CODE, _poetry_lock(make_lock, tmp_path, None))


def test_catches_not_broken_pyproject(
    tmp_path: Path, make_lock: MakeLock, lock_catches_not: CatchesNot
) -> None:
    (tmp_path / "pyproject.toml").write_text("this is not toml = = \n")
    lock_catches_not(CODE, _poetry_lock(make_lock, tmp_path, "0" * 64))


# --- poetry: agreement with the real implementation ------------------------------------

PYPROJECTS: dict[str, dict[str, Any]] = {
    "poetry-1.x": {
        "tool": {
            "poetry": {
                "name": "x",
                "version": "1",
                "dependencies": {
                    "python": "^3.11",
                    "requests": {"version": "^2", "optional": True},
                },
                "group": {"dev": {"dependencies": {"pytest": "^8"}}},
                "extras": {"http": ["requests"]},
                "source": [{"name": "intérieur", "url": "https://pypi.internal/simple/"}],
            }
        }
    },
    "poetry-1.x-dev-dependencies": {
        "tool": {"poetry": {"dependencies": {"python": "^3.8"}, "dev-dependencies": {"x": "*"}}}
    },
    "empty": {},
    "pep621": {
        "project": {
            "name": "x",
            "requires-python": ">=3.11",
            "dependencies": ["six==1.16.0", "numpy>=2 ; python_version >= '3.11'"],
            "optional-dependencies": {"cli": ["click"]},
        },
        "tool": {"poetry": {"group": {"dev": {"dependencies": {"pytest": "^8"}}}}},
    },
    "pep621-without-deps": {
        "project": {"name": "x", "version": "1"},
        "tool": {"poetry": {"dependencies": {"python": "^3.11"}}},
    },
    "pep735-groups": {
        "project": {"name": "x", "dependencies": ["six"]},
        "dependency-groups": {"test": ["pytest>=8", {"include-group": "lint"}], "lint": ["ruff"]},
    },
    "pep735-groups-only": {"dependency-groups": {"test": ["pytest"]}},
}


@pytest.fixture(scope="module")
def locker_class() -> Any:
    locker = pytest.importorskip(
        "poetry.packages.locker", reason="poetry is not installed: cannot compare with it"
    )
    return locker.Locker


@pytest.mark.parametrize("name", sorted(PYPROJECTS))
def test_content_hash_matches_poetry(tmp_path: Path, locker_class: Any, name: str) -> None:
    data = PYPROJECTS[name]
    locker = locker_class(tmp_path / "poetry.lock", data)
    ours = poetry_content_hashes(data)
    assert locker._get_content_hash() in ours
    # What Poetry < 2.3 wrote (before it hashed [dependency-groups]) is accepted too.
    assert locker._get_content_hash(with_dependency_groups=False) in ours


_TEXT = st.text(min_size=1, max_size=8)
_DEPS = st.dictionaries(_TEXT, st.one_of(_TEXT, st.fixed_dictionaries({"version": _TEXT})))
_PYPROJECT = st.fixed_dictionaries(
    {},
    optional={
        "project": st.fixed_dictionaries(
            {"name": _TEXT},
            optional={
                "requires-python": _TEXT,
                "dependencies": st.lists(_TEXT, max_size=3),
                "optional-dependencies": st.dictionaries(_TEXT, st.lists(_TEXT, max_size=2)),
            },
        ),
        "dependency-groups": st.dictionaries(_TEXT, st.lists(_TEXT, max_size=2), max_size=2),
        "tool": st.fixed_dictionaries(
            {},
            optional={
                "poetry": st.fixed_dictionaries(
                    {},
                    optional={
                        "dependencies": _DEPS,
                        "dev-dependencies": _DEPS,
                        "group": st.dictionaries(
                            _TEXT, st.fixed_dictionaries({"dependencies": _DEPS}), max_size=2
                        ),
                        "extras": st.dictionaries(_TEXT, st.lists(_TEXT, max_size=2)),
                    },
                )
            },
        ),
    },
)


@settings(deadline=None, max_examples=200)
@given(pyproject=_PYPROJECT)
def test_content_hash_matches_poetry_on_generated_pyprojects(
    locker_class: Any, pyproject: dict[str, Any]
) -> None:
    locker = locker_class(Path("poetry.lock"), pyproject)
    assert locker._get_content_hash() in poetry_content_hashes(pyproject)


@pytest.mark.parametrize("project", POETRY_PROJECTS)
def test_real_poetry_locks_are_fresh(
    tmp_path: Path, project: str, locker_class: Any, lint_lockfile: LintLockfile
) -> None:
    directory = tmp_path / project
    shutil.copytree(FIXTURES / project, directory)
    pyproject = tomllib.loads((directory / "pyproject.toml").read_text())
    assert locker_class(directory / "poetry.lock", pyproject).is_fresh()
    assert lint_lockfile(directory / "poetry.lock", CODE) == []


@pytest.mark.parametrize("project", POETRY_PROJECTS)
def test_real_poetry_locks_go_stale(
    tmp_path: Path, project: str, locker_class: Any, lint_lockfile: LintLockfile
) -> None:
    directory = tmp_path / project
    shutil.copytree(FIXTURES / project, directory)
    pyproject_file = directory / "pyproject.toml"
    text = pyproject_file.read_text().replace("1.16.0", "1.17.0")
    pyproject_file.write_text(text)
    assert not locker_class(directory / "poetry.lock", tomllib.loads(text)).is_fresh()
    [finding] = lint_lockfile(directory / "poetry.lock", CODE)
    assert finding.severity is Severity.ERROR and "poetry lock" in finding.message


def test_irrelevant_pyproject_change_keeps_lock_fresh(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    directory = tmp_path / "p"
    shutil.copytree(FIXTURES / "poetry-project", directory)
    pyproject_file = directory / "pyproject.toml"
    pyproject_file.write_text(pyproject_file.read_text().replace("0.1.0", "0.2.0"))
    assert lint_lockfile(directory / "poetry.lock", CODE) == []


CORPUS = Path(__file__).parents[3] / ".." / "shared" / "corpus" / "lockfiles"


@pytest.mark.parametrize(
    ("lock_name", "docker"),
    [
        # Written by Poetry 1.x (lock-version 1.0 and 2.0) in python-poetry/poetry's own
        # test fixtures; the dependency tables are those of the pyproject.toml beside them.
        ("python-poetry__poetry__tests_fixtures_old_lock_poetry.lock", "^4.3.1"),
        ("python-poetry__poetry__tests_fixtures_up_to_date_lock_poetry.lock", ">=4.3.1"),
    ],
)
def test_content_hash_matches_locks_written_by_poetry_1(lock_name: str, docker: str) -> None:
    path = CORPUS / lock_name
    if not path.is_file():
        pytest.skip(f"corpus not available at {CORPUS} (only in the reprobuild workspace)")
    from reprobuild.lockfiles import read_lock

    lock = read_lock(path)
    pyproject = {
        "tool": {
            "poetry": {
                "name": "foobar",
                "dependencies": {"python": "^3.8", "docker": docker},
                "dev-dependencies": {},
            }
        }
    }
    assert lock.content_hash in poetry_content_hashes(pyproject)


# --- requirements.in vs requirements.txt -----------------------------------------------


def _compiled(tmp_path: Path, inputs: str, lock: str) -> Path:
    (tmp_path / "requirements.in").write_text(inputs)
    target = tmp_path / "requirements.txt"
    target.write_text(lock)
    return target


def test_catches_input_missing_from_lock(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = _compiled(tmp_path, "six\npandas>=2\n", f"six==1.16.0 --hash=sha256:{SHA}\n")
    [finding] = lint_lockfile(lock, CODE)
    assert finding.path == tmp_path / "requirements.in" and finding.line == 2
    assert finding.package == "pandas" and "missing from requirements.txt" in finding.message
    assert "pip-compile requirements.in" in finding.message


def test_catches_pin_outside_input_specifier(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = _compiled(
        tmp_path, "# tools\nTorch>=2.3\n", f"six==1.16.0\ntorch==2.1.0 --hash=sha256:{SHA}\n"
    )
    [finding] = lint_lockfile(lock, CODE)
    assert finding.path == lock and finding.line == 2 and finding.package == "torch"
    assert "torch 2.1.0 is outside torch>=2.3 required by requirements.in:2" in finding.message


def test_catches_not_when_lock_satisfies_inputs(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    lock = _compiled(
        tmp_path,
        "torch>=2.3\nrequests[socks]\nnumpy<2 ; python_version < '3.9'\n"
        "pywin32 ; sys_platform == 'win32'\n-e ./local\nfoo>=1.0\n",
        "torch==2.3.1\nrequests[socks]==2.32.3\nnumpy==2.1.0\nfoo==2.0rc1\n",
    )
    assert lint_lockfile(lock, CODE) == []


def test_markers_pair_input_and_lock_entries(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = _compiled(
        tmp_path,
        'numpy>=2 ; python_version >= "3.10"\nnumpy<2 ; python_version < "3.10"\n',
        'numpy==2.1.0 ; python_version >= "3.10"\nnumpy==1.26.4 ; python_version < "3.10"\n',
    )
    assert lint_lockfile(lock, CODE) == []
    lock.write_text('numpy==1.26.4 ; python_version >= "3.10"\n')
    [finding] = lint_lockfile(lock, CODE)
    assert "numpy 1.26.4 is outside numpy>=2" in finding.message


def test_catches_not_without_requirements_in(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("six==1.16.0\n")
    assert lint_lockfile(lock, CODE) == []


def test_other_stems_pair_up(tmp_path: Path, lint_lockfile: LintLockfile) -> None:
    (tmp_path / "dev.in").write_text("pytest>=8\n")
    lock = tmp_path / "dev.txt"
    lock.write_text("pytest==7.4.0\n")
    [finding] = lint_lockfile(lock, CODE)
    assert finding.package == "pytest"


def test_broken_requirements_in_is_a_warning_not_a_crash(
    tmp_path: Path, lint_lockfile: LintLockfile
) -> None:
    lock = _compiled(tmp_path, "-r does-not-exist.txt\n", "six==1.16.0\n")
    [finding] = lint_lockfile(lock, CODE)
    assert finding.severity is Severity.WARNING and "cannot compare" in finding.message
