"""RB210 pip-install-bypasses-lock, through the engine (suppressions and severities apply)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from reprobuild.lint.config import LintConfig
from reprobuild.lint.engine import lint_paths
from reprobuild.lint.rule import Finding, Severity
from reprobuild.lint.rules.rb210_pip_install_bypasses_lock import RULE

CODE = "RB210"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "dockerfiles" / "installs"
HASH = "--hash=sha256:" + "a" * 64


def lint(
    root: Path,
    dockerfile: str,
    files: dict[str, str] | None = None,
    build_args: dict[str, str] | None = None,
) -> list[Finding]:
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    path = root / "Dockerfile"
    path.write_text(textwrap.dedent(dockerfile))
    result = lint_paths([path], config=LintConfig(root=root), rules=[RULE], build_args=build_args)
    assert not result.errors, [str(e) for e in result.errors]
    assert all(f.code == CODE for f in result.findings)
    return result.findings


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


# Each case: a Dockerfile and the physical lines RB210 must flag (as errors).
CATCHES = {
    "pinned-name": ("FROM python:3.11\nRUN pip install numpy==1.26.4\n", [2]),
    "pip3": ("FROM python:3.11\nRUN pip3 install requests\n", [2]),
    "pip3.11": ("FROM python:3.11\nRUN pip3.11 install requests\n", [2]),
    "upgrade-pip": ("FROM python:3.11\nRUN python -m pip install --upgrade pip\n", [2]),
    "python3-m": ("FROM python:3.11\nRUN python3 -m pip install -q flask\n", [2]),
    "python3.12-m": ("FROM python:3.12\nRUN python3.12 -I -m pip install flask\n", [2]),
    "venv-pip": ("FROM python:3.11\nRUN /opt/venv/bin/pip install flask\n", [2]),
    "uv-pip": ("FROM python:3.11\nRUN uv pip install --system torch\n", [2]),
    "uv-global-option": ("FROM python:3.11\nRUN uv --no-cache pip install torch\n", [2]),
    "sudo": ("FROM python:3.11\nRUN sudo -H pip install flask\n", [2]),
    "env-prefix": ("FROM python:3.11\nRUN env PIP_NO_CACHE_DIR=1 pip install flask\n", [2]),
    "assignment-prefix": ("FROM python:3.11\nRUN PIP_NO_CACHE_DIR=1 pip install flask\n", [2]),
    "json-form": ('FROM python:3.11\nRUN ["pip", "install", "numpy"]\n', [2]),
    "sh-c": ('FROM python:3.11\nRUN sh -c "pip install flask"\n', [2]),
    "continuations": (
        """\
        FROM python:3.11
        RUN apt-get update && \\
            pip install --no-cache-dir \\
                numpy \\
                pandas
        """,
        [4, 5],
    ),
    "and-chain": (
        "FROM python:3.11\n"
        "RUN pip install -U pip && pip install --require-hashes --no-deps -r /r.txt\n",
        [2],
    ),
    "heredoc": (
        """\
        FROM python:3.11
        RUN <<EOF
        set -eux
        pip install flask
        EOF
        """,
        [4],
    ),
    "heredoc-continuation": (
        "FROM python:3.11\nRUN <<EOF\npip install --no-cache-dir \\\n    flask\nEOF\n", [4]),
    "json-form-continuation": (
        'FROM python:3.11\nRUN ["pip", "install", \\\n     "numpy"]\n', [3]),
    "second-of-two-on-one-line": (
        "FROM python:3.11\nRUN pip install --no-deps . && \\\n    pip install flask\n", [3]),
    "url-without-hash": (
        "FROM python:3.11\nRUN pip install https://example.org/x-1.0-py3-none-any.whl\n",
        [2],
    ),
    "direct-reference": ("FROM python:3.11\nRUN pip install 'x @ https://example.org/x.whl'\n",
                         [2]),
    "vcs": ("FROM python:3.11\nRUN pip install git+https://github.com/a/b@v1.0\n", [2]),
    "local-project-with-deps": ("FROM python:3.11\nRUN pip install .\n", [2]),
    "editable-with-deps": ("FROM python:3.11\nRUN pip install -e .\n", [2]),
    "local-wheel-with-deps": (
        "FROM python:3.11\nRUN pip install /wheels/app-1.0-py3-none-any.whl\n", [2]),
    "requirements-unknown": ("FROM python:3.11\nRUN pip install -r requirements.txt\n", [2]),
    "requirements-long-option": (
        "FROM python:3.11\nRUN pip install --requirement=requirements.txt\n", [2]),
    "no-require-hashes": (
        "FROM python:3.11\nRUN pip install --no-require-hashes --no-deps -r /r.txt\n", [2]),
    "requirements-url": (
        "FROM python:3.11\nRUN pip install --require-hashes -r https://example.org/r.txt\n", [2]),
    "uv-pyproject": ("FROM python:3.11\nRUN uv pip install -r pyproject.toml\n", [2]),
    "uv-pip-sync-unknown": ("FROM python:3.11\nRUN uv pip sync requirements.txt\n", [2]),
    "uv-add": ("FROM python:3.11\nRUN uv add requests\n", [2]),
    "poetry-add": ("FROM python:3.11\nRUN poetry add requests\n", [2]),
    "pdm-add": ("FROM python:3.11\nRUN pdm add requests\n", [2]),
    "pipenv-install-name": ("FROM python:3.11\nRUN pipenv install --system requests\n", [2]),
    "pip-download": ("FROM python:3.11\nRUN pip download -d /wheels numpy\n", [2]),
    "pip-wheel": ("FROM python:3.11\nRUN pip wheel --wheel-dir /wheels numpy\n", [2]),
    "conda-run": ("FROM python:3.11\nRUN conda run -n app pip install flask\n", [2]),
    "poetry-run": ("FROM python:3.11\nRUN poetry run pip install flask\n", [2]),
    "uv-run": ("FROM python:3.11\nRUN uv run --no-sync --python 3.11 pip install flask\n", [2]),
    "second-stage": (
        "FROM python:3.11 AS build\nRUN true\nFROM build\nRUN pip install flask\n", [4]),
}

CATCHES_NOT = {
    "require-hashes-unknown-file": (
        "FROM python:3.11\nRUN pip install --require-hashes --no-deps -r /tmp/r.txt\n"),
    "env-require-hashes": (
        "FROM python:3.11\nENV PIP_REQUIRE_HASHES=1 PIP_NO_DEPS=1\n"
        "RUN pip install -r /tmp/r.txt\n"),
    "arg-require-hashes": (
        "FROM python:3.11\nARG PIP_REQUIRE_HASHES=1\n"
        "RUN pip install --no-deps -r /tmp/r.txt\n"),
    "inline-require-hashes": (
        "FROM python:3.11\nRUN PIP_REQUIRE_HASHES=1 pip install --no-deps -r /tmp/r.txt\n"),
    "export-require-hashes": (
        "FROM python:3.11\n"
        "RUN export PIP_REQUIRE_HASHES=1 && pip install --no-deps -r /tmp/r.txt\n"),
    "uv-require-hashes": (
        "FROM python:3.11\nRUN uv pip install --require-hashes --no-deps -r /tmp/r.txt\n"),
    "uv-pip-sync-require-hashes": (
        "FROM python:3.11\nRUN uv pip sync --require-hashes /tmp/r.txt\n"),
    "local-project-no-deps": ("FROM python:3.11\nRUN pip install --no-deps .\n"),
    "editable-no-deps": ("FROM python:3.11\nRUN pip install --no-deps -e .\n"),
    "wheels-no-deps": ("FROM python:3.11\nRUN pip install --no-deps /wheels/*.whl\n"),
    "wheel-from-arg-no-deps": (
        "FROM python:3.11\nARG WHEEL=/dist/app-1.0-py3-none-any.whl\n"
        'RUN pip install --no-deps "${WHEEL}"\n'),
    "offline": ("FROM python:3.11\nRUN pip install --no-index --find-links /wheels flask\n"),
    "hashed-url-no-deps": (
        "FROM python:3.11\nRUN pip install --no-deps "
        f"https://example.org/x-1.0-py3-none-any.whl#sha256={'b' * 64}\n"),
    "not-an-install": (
        "FROM python:3.11\nRUN pip list && pip freeze && pip --version && echo pip install x\n"),
    "other-tools": ("FROM python:3.11\nRUN uv sync --locked && conda install numpy\n"),
    "pipenv-deploy": ("FROM python:3.11\nRUN pipenv install --system --deploy\n"),
    "suppressed": (
        "FROM python:3.11\n# reprobuild: ignore=RB210\nRUN pip install --upgrade pip\n"),
    "suppressed-continuation": (
        "FROM python:3.11\n# why: base tooling\n# reprobuild: ignore=RB210\n"
        "RUN apt-get update && \\\n    pip install flask\n"),
}


@pytest.mark.parametrize("name", sorted(CATCHES))
def test_catches(tmp_path: Path, name: str) -> None:
    dockerfile, lines = CATCHES[name]
    found = errors(lint(tmp_path, dockerfile))
    assert sorted(f.line or 0 for f in found) == lines, [f.message for f in found]
    for finding in found:
        assert finding.path == tmp_path / "Dockerfile"


@pytest.mark.parametrize("name", sorted(CATCHES_NOT))
def test_catches_not(tmp_path: Path, name: str) -> None:
    found = lint(tmp_path, CATCHES_NOT[name])
    assert found == [] or all(f.severity is Severity.WARNING for f in found), [
        f.message for f in found
    ]


def test_upgrade_pip_message_names_the_package(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, "FROM python:3.11\nRUN pip install --upgrade pip\n")
    assert "`pip`" in finding.message and "without a hash" in finding.message


def test_url_credentials_are_not_shown(tmp_path: Path) -> None:
    [finding] = lint(
        tmp_path, "FROM python:3.11\nRUN pip install https://user:s3cret@example.org/x.whl\n"
    )
    assert "s3cret" not in finding.message


# --------------------------------------------------------------- hashed installs: warnings


def test_hashed_install_without_no_deps_is_a_warning(tmp_path: Path) -> None:
    [finding] = lint(tmp_path, "FROM python:3.11\nRUN pip install --require-hashes -r /r.txt\n")
    assert finding.severity is Severity.WARNING
    assert "--no-deps" in finding.message
    assert finding.line == 2


def test_hashed_url_without_no_deps_is_a_warning(tmp_path: Path) -> None:
    url = f"https://example.org/x-1.0-py3-none-any.whl#sha256={'b' * 64}"
    [finding] = lint(tmp_path, f"FROM python:3.11\nRUN pip install {url}\n")
    assert finding.severity is Severity.WARNING


# --------------------------------------------------------------- following COPY into the image


UNHASHED = FIXTURES / "unhashed" / "requirements.txt"
HASHED = FIXTURES / "hashed" / "requirements.txt"


def context_with(root: Path, source: Path, name: str = "requirements.txt") -> Path:
    target = root / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def test_fully_hashed_pip_compile_file_passes(tmp_path: Path) -> None:
    context_with(tmp_path, HASHED)
    found = lint(
        tmp_path,
        """\
        FROM python:3.11
        WORKDIR /app
        COPY requirements.txt .
        RUN pip install --no-cache-dir --no-deps -r requirements.txt
        """,
    )
    assert found == []


def test_fully_hashed_file_without_flags_warns_only_about_no_deps(tmp_path: Path) -> None:
    context_with(tmp_path, HASHED)
    [finding] = lint(
        tmp_path, "FROM python:3.11\nCOPY requirements.txt /app/\n"
        "RUN pip install -r /app/requirements.txt\n"
    )
    assert finding.severity is Severity.WARNING
    assert finding.line == 3


def test_uv_hashed_file_without_require_hashes_or_no_deps_is_an_error(tmp_path: Path) -> None:
    context_with(tmp_path, HASHED)
    [finding] = lint(
        tmp_path, "FROM python:3.11\nCOPY requirements.txt /app/\n"
        "RUN uv pip install --system -r /app/requirements.txt\n"
    )
    assert finding.severity is Severity.ERROR
    assert "--require-hashes" in finding.message


def test_unhashed_entries_are_reported_at_their_own_file_and_line(tmp_path: Path) -> None:
    requirements = context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path,
        """\
        FROM python:3.11
        WORKDIR /app
        COPY requirements.txt ./
        RUN pip install --no-deps -r requirements.txt
        """,
    )
    assert [(f.path, f.line, f.package) for f in found] == [
        (requirements, 7, "idna"),
        (requirements, 9, "six"),
    ]
    assert all(f.severity is Severity.ERROR for f in found)
    assert "Dockerfile" in found[0].message and "line 4" in found[0].message


def test_partially_hashed_file_reports_only_the_unhashed_entry(tmp_path: Path) -> None:
    lint_files = {"reqs/prod.txt": f"flask==3.0.0 \\\n    {HASH}\nrequests==2.32.0\n"}
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY reqs/ /tmp/reqs/\nRUN pip install -r /tmp/reqs/prod.txt\n",
        lint_files,
    )
    assert [(f.path, f.line, f.package) for f in found] == [
        (tmp_path / "reqs" / "prod.txt", 3, "requests")
    ]


@pytest.mark.parametrize(
    "copy",
    [
        "COPY requirements*.txt /app/",
        "COPY --chown=1000:1000 requirements.txt /app/",
        'COPY ["requirements.txt", "/app/"]',
        "ADD requirements.txt /app/requirements.txt",
        "COPY requirements.txt /app",  # /app already a directory in the image
        "COPY --link requirements.txt /tmp/\nRUN mv /tmp/requirements.txt /app/ || true\n"
        "COPY requirements.txt /app/",
    ],
)
def test_copy_forms_are_followed(tmp_path: Path, copy: str) -> None:
    requirements = context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path, f"FROM python:3.11\n{copy}\nRUN pip install --no-deps -r/app/requirements.txt\n"
    )
    assert [(f.path, f.package) for f in found] == [(requirements, "idna"), (requirements, "six")]


def test_copy_to_a_renamed_file(tmp_path: Path) -> None:
    context_with(tmp_path, UNHASHED, "requirements/prod.txt")
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY requirements/prod.txt /srv/requirements.txt\n"
        "RUN cd /srv && pip install --no-deps -r requirements.txt\n",
    )
    assert {f.path for f in found} == {tmp_path / "requirements" / "prod.txt"}


def test_copy_of_the_whole_context_and_variables(tmp_path: Path) -> None:
    context_with(tmp_path, UNHASHED, "requirements/prod.txt")
    found = lint(
        tmp_path,
        """\
        FROM python:3.11
        ARG APP=/src
        WORKDIR $APP
        COPY . .
        RUN pip install --no-deps -r requirements/${REQS:-prod}.txt
        """,
    )
    assert {f.line for f in found} == {7, 9}


def test_included_files_are_followed(tmp_path: Path) -> None:
    files = {"requirements.txt": f"-r base.txt\nflask==3.0.0 \\\n    {HASH}\n",
             "base.txt": "# shared\nrequests==2.32.0\n"}
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY requirements.txt base.txt /app/\n"
        "RUN pip install --no-deps -r /app/requirements.txt\n",
        files,
    )
    assert [(f.path, f.line) for f in found] == [(tmp_path / "base.txt", 2)]


def test_bind_mount_is_followed(tmp_path: Path) -> None:
    context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path,
        "FROM python:3.11\n"
        "RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\\n"
        "    pip install --no-deps -r /tmp/requirements.txt\n",
    )
    assert {f.path for f in found} == {tmp_path / "requirements.txt"}


def test_copy_in_a_parent_stage_is_followed(tmp_path: Path) -> None:
    context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path,
        "FROM python:3.11 AS base\nCOPY requirements.txt /r.txt\n"
        "FROM base\nRUN pip install --no-deps -r /r.txt\n",
    )
    assert {f.path for f in found} == {tmp_path / "requirements.txt"}


def test_copy_from_another_stage_is_not_followed(tmp_path: Path) -> None:
    context_with(tmp_path, HASHED)
    found = lint(
        tmp_path,
        "FROM python:3.11 AS build\nCOPY requirements.txt /r.txt\n"
        "FROM python:3.11\nCOPY --from=build /r.txt /r.txt\n"
        "RUN pip install --no-deps -r /r.txt\n",
    )
    [finding] = found
    assert finding.path == tmp_path / "Dockerfile" and finding.line == 5
    assert "--require-hashes" in finding.message


def test_file_used_twice_is_reported_once(tmp_path: Path) -> None:
    context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY requirements.txt /r.txt\n"
        "RUN pip install --no-deps -r /r.txt\nRUN pip install --no-deps -r /r.txt\n",
    )
    assert [(f.path, f.package) for f in found] == [
        (tmp_path / "requirements.txt", "idna"),
        (tmp_path / "requirements.txt", "six"),
    ]


def test_pragma_above_the_run_suppresses_entries_in_the_file(tmp_path: Path) -> None:
    requirements = context_with(tmp_path, UNHASHED)
    dockerfile = (
        "FROM python:3.11\nCOPY requirements.txt /r.txt\n{}RUN pip install --no-deps -r /r.txt\n"
    )
    unsuppressed = lint(tmp_path, dockerfile.format(""))
    assert {f.path for f in unsuppressed} == {requirements}
    assert lint(tmp_path, dockerfile.format("# reprobuild: ignore=RB210\n")) == []


def test_pragma_in_the_requirements_file_suppresses_its_entry(tmp_path: Path) -> None:
    files = {"requirements.txt": "# reprobuild: ignore=RB210\nidna==3.7\nsix==1.16.0\n"}
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY requirements.txt /r.txt\nRUN pip install --no-deps -r /r.txt\n",
        files,
    )
    assert [f.package for f in found] == ["six"]


def test_per_package_ignore_from_config(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.11\nRUN pip install Torch==2.3.0 flask\n")
    config = LintConfig(root=tmp_path, per_package_ignores={"torch": frozenset({CODE})})
    result = lint_paths([path], config=config, rules=[RULE])
    assert [f.package for f in result.findings] == ["flask"]


def test_copy_with_an_unusual_glob_does_not_crash(tmp_path: Path) -> None:
    found = lint(
        tmp_path, "FROM python:3.11\nCOPY a**b /app/\nRUN pip install -r /app/r.txt\n"
    )
    assert [f.line for f in found] == [3]


def test_offline_install_still_checks_its_requirements_file(tmp_path: Path) -> None:
    requirements = context_with(tmp_path, UNHASHED)
    found = lint(
        tmp_path,
        "FROM python:3.11\nCOPY requirements.txt wheels/ /tmp/\n"
        "RUN pip install --no-index --find-links /tmp --no-deps -r /tmp/requirements.txt\n",
    )
    assert [f.path for f in found] == [requirements, requirements]


def test_severity_override_from_config(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.11\nRUN pip install flask\n")
    config = LintConfig(root=tmp_path, severity={CODE: Severity.WARNING})
    result = lint_paths([path], config=config, rules=[RULE])
    assert [f.severity for f in result.findings] == [Severity.WARNING]


def test_docstring_has_the_documentation_sections() -> None:
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Fix"):
        assert heading in RULE.doc
