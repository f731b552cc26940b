"""## What it does
Flags project-manager commands in ``RUN`` instructions that may re-resolve (or silently
ignore) the lock instead of installing exactly what it says:

* ``uv sync`` without ``--locked``/``--frozen`` (or ``UV_LOCKED=1``/``UV_FROZEN=1``);
* ``uv run`` without ``--locked``/``--frozen``/``--no-sync``/``--no-project`` (or
  ``UV_LOCKED``/``UV_FROZEN``/``UV_NO_SYNC``), as a **warning**;
* ``uv lock`` without ``--locked``/``--check``/``--check-exists``;
* ``uv export --no-hashes`` and ``poetry export --without-hashes``;
* ``poetry install``/``poetry sync`` not preceded in the stage by
  ``poetry check --lock`` (before Poetry 1.6: ``poetry lock --check``);
* ``poetry lock`` (without ``--check``) and ``poetry update``;
* ``pipenv install`` without ``--deploy`` or ``--ignore-pipfile`` (``pipenv sync`` is
  fine); ``pipenv lock``/``update``/``upgrade``;
* ``pdm install`` without ``--check`` (``pdm sync`` is fine); ``pdm lock`` (without
  ``--check``) and ``pdm update``.

``uv add``/``poetry add``/``pdm add``/``pipenv install NAME`` are RB210's.

Decisions:

* ``uv run`` syncs the project environment (and may update ``uv.lock``) before running
  the command; outside a project it does nothing, which a linter cannot see, hence a
  warning rather than an error.
* ``poetry install`` resolves from scratch and writes a new ``poetry.lock`` when the lock
  is missing (a ``COPY pyproject.toml`` without ``poetry.lock`` is enough), and Poetry
  before 1.8 only warns when the lock no longer matches ``pyproject.toml`` (1.8 made
  it an error: python-poetry/poetry#8737).
  ``poetry check --lock`` fails the build in both cases, on every version that has it.
* ``pdm install --frozen-lockfile`` is *not* enough: it does not write the lock, but a
  stale lock is still re-resolved in memory and the result installed (PDM maintainers,
  pdm-project/pdm discussion #2761). ``pdm install --check`` fails on a stale lock;
  ``pdm sync`` installs only what the lock says.

## Why is this bad?
A lock only makes builds repeatable if the build installs from it and nothing else. The
commands above resolve dependencies again when the lock is missing or out of date with
``pyproject.toml``/``Pipfile``, so the image gets whatever the index serves that day,
and the lock in the repository no longer describes the image. ``--without-hashes`` /
``--no-hashes`` exports drop exactly the hashes that make the install verifiable.

## Example
```dockerfile
COPY pyproject.toml uv.lock ./
RUN uv sync --no-dev
```

Use instead:
```dockerfile
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev
```

## Fix
Add the flag that makes the tool fail instead of re-resolving (``uv sync --locked``,
``pipenv install --deploy``, ``pdm install --check``), or use the tool's lock-only
command (``pipenv sync``, ``pdm sync``); for Poetry run ``poetry check --lock`` before
``poetry install``. Keep the hashes in exports.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.dockerfile.shell import program
from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._installs import Call, calls, env_true, pipenv_options

__all__ = ["RULE", "check"]


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for call in calls(dockerfile, ctx):
        sub = call.subcommand[0] if call.subcommand else ""
        checker = _CHECKS.get((call.tool, sub))
        if checker is not None:
            violation = checker(call)
            if violation is not None:
                yield violation


def _has(call: Call, *flags: str) -> bool:
    return any(arg.partition("=")[0] in flags for arg in call.args)


def _flag(call: Call, message: str, severity: Severity | None = None) -> Violation:
    return Violation(
        message=message,
        line=call.line_of(call.subcommand[-1] if call.subcommand else None),
        anchor_line=call.instruction.start_line,
        severity=severity,
    )


def _uv_frozen(call: Call, *flags: str) -> bool:
    return _has(call, "--locked", "--frozen", *flags) or any(
        env_true(call.env, name) for name in ("UV_LOCKED", "UV_FROZEN")
    )


def _uv_sync(call: Call) -> Violation | None:
    if _uv_frozen(call, "--check", "--dry-run"):
        return None
    return _flag(call, "`uv sync` without --locked or --frozen re-resolves and rewrites "
                 "uv.lock when it is out of date with pyproject.toml; use `uv sync --locked`")


def _uv_run(call: Call) -> Violation | None:
    if _uv_frozen(call, "--no-sync", "--no-project") or env_true(call.env, "UV_NO_SYNC"):
        return None
    return _flag(call, "`uv run` syncs the project first and updates uv.lock if it is "
                 "stale; in a build use `uv run --locked` (or --frozen/--no-sync after a "
                 "`uv sync --locked`)", Severity.WARNING)


def _uv_lock(call: Call) -> Violation | None:
    if _uv_frozen(call, "--check", "--check-exists"):
        return None
    return _flag(call, "`uv lock` resolves the dependencies again during the build; lock "
                 "on the host, commit uv.lock, and use `uv lock --check` here if anything")


def _uv_export(call: Call) -> Violation | None:
    if not _has(call, "--no-hashes"):
        return None
    return _flag(call, "`uv export --no-hashes` writes requirements without hashes, so "
                 "nothing can verify what gets installed; drop --no-hashes")


def _poetry_install(call: Call) -> Violation | None:
    for earlier in call.previous:
        argv = earlier.argv
        if program(argv) != "poetry":
            continue
        if ("check" in argv and "--lock" in argv) or ("lock" in argv and "--check" in argv):
            return None
    return _flag(call, f"`{call.display}` resolves dependencies from scratch when "
                 "poetry.lock is missing (and Poetry < 1.8 only warns when it is stale); run "
                 "`poetry check --lock` before it so the build fails instead")


def _poetry_export(call: Call) -> Violation | None:
    if not _has(call, "--without-hashes"):
        return None
    return _flag(call, "`poetry export --without-hashes` writes requirements without "
                 "hashes, so nothing can verify what gets installed; drop --without-hashes")


def _poetry_lock(call: Call) -> Violation | None:
    if call.subcommand[0] == "lock" and _has(call, "--check"):
        return None
    return _flag(call, f"`{call.display}` resolves the dependencies again during the "
                 "build; lock on the host and commit poetry.lock")


def _pipenv_install(call: Call) -> Violation | None:
    if _has(call, "--deploy", "--ignore-pipfile"):
        return None
    if pipenv_options(call).operands:
        return None  # named packages: RB210's
    return _flag(call, "`pipenv install` re-locks when Pipfile.lock is out of date with "
                 "the Pipfile; use `pipenv install --deploy` (fails instead) or "
                 "`pipenv sync`")


def _pipenv_relock(call: Call) -> Violation | None:
    return _flag(call, f"`{call.display}` resolves the dependencies again during the "
                 "build; lock on the host, commit Pipfile.lock and use `pipenv sync`")


def _pdm_install(call: Call) -> Violation | None:
    if _has(call, "--check"):
        return None
    detail = (
        " (--frozen-lockfile only stops it writing the lock: a stale lock is still "
        "re-resolved)"
        if _has(call, "--frozen-lockfile", "--frozen", "--no-lock")
        else ""
    )
    return _flag(call, "`pdm install` re-resolves when pdm.lock is out of date with "
                 f"pyproject.toml{detail}; use `pdm install --check` or `pdm sync`")


def _pdm_lock(call: Call) -> Violation | None:
    if call.subcommand[0] == "lock" and _has(call, "--check"):
        return None
    return _flag(call, f"`{call.display}` resolves the dependencies again during the "
                 "build; lock on the host and commit pdm.lock")


_CHECKS = {
    ("uv", "sync"): _uv_sync,
    ("uv", "run"): _uv_run,
    ("uv", "lock"): _uv_lock,
    ("uv", "export"): _uv_export,
    ("poetry", "install"): _poetry_install,
    ("poetry", "sync"): _poetry_install,
    ("poetry", "export"): _poetry_export,
    ("poetry", "lock"): _poetry_lock,
    ("poetry", "update"): _poetry_lock,
    ("pipenv", "install"): _pipenv_install,
    ("pipenv", "lock"): _pipenv_relock,
    ("pipenv", "update"): _pipenv_relock,
    ("pipenv", "upgrade"): _pipenv_relock,
    ("pdm", "install"): _pdm_install,
    ("pdm", "lock"): _pdm_lock,
    ("pdm", "update"): _pdm_lock,
}

RULE = Rule(
    code="RB211",
    name="lock-install-not-frozen",
    severity=Severity.ERROR,
    summary="Lock-based install that may re-resolve instead of failing on a stale lock",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Add --locked/--deploy/--check (or use the tool's sync command)",
)
