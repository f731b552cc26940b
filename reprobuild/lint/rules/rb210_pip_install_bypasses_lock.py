"""## What it does
Flags Python package installs in ``RUN`` instructions that do not go through a hashed
lock: ``pip``/``pip3``/``pip3.11``/``python -m pip``/``/opt/venv/bin/pip``, ``uv pip``,
``uv add``/``poetry add``/``pdm add`` and ``pipenv install NAME``. Also
``pip download`` and ``pip wheel``: they fetch from the index the same way, and what they
fetch is usually installed later from a local directory, where no hash can be checked.

It reports:

* a package named on the command line (``pip install numpy==1.26.4``,
  ``pip install --upgrade pip``): a version pin is not a hash, and
  ``pip install --upgrade pip`` is the most common hole of this kind;
* a direct URL without a ``#sha256=`` fragment, and any VCS URL (``git+https://…``);
* a local project or archive (``.``, ``-e .``, ``./dist/x.whl``) installed *without*
  ``--no-deps``: its dependencies are resolved at build time, unhashed. With
  ``--no-deps`` (after the hashed lock was installed) it is the recommended pattern and
  is not flagged;
* ``-r FILE`` / ``--requirement FILE`` (``uv pip sync FILE``): when the file comes from
  the build context (followed through ``COPY``/``ADD`` with their ``WORKDIR`` and
  trailing-slash rules, and ``RUN --mount=type=bind``), each entry without a hash is
  reported **in that file, on its own line**. When reprobuild cannot find the file,
  the install is flagged unless ``--require-hashes`` (or ``PIP_REQUIRE_HASHES=1`` /
  ``UV_REQUIRE_HASHES=1`` in ``ENV``/``ARG``/``export``/a ``VAR=1`` prefix) makes the
  installer refuse unhashed entries itself. ``pyproject.toml``/``setup.py`` given as
  requirements (uv) and requirements read from a URL are flagged;
* as a **warning**, a hashed install without ``--no-deps``: see below.

Packages named in an install with ``--no-index`` (and no remote ``--find-links``) are
not flagged: they resolve only against files already in the image, and the step that
fetched those (``pip download``/``pip wheel``) is checked itself. The ``-r`` files of an
offline install are checked as usual.

## Why is this bad?
Without a hash, the installer accepts whatever bytes the index serves for that name and
version: a re-uploaded, tampered or mirrored file installs silently, and two builds of
the same Dockerfile can contain different code. A named install also resolves its
dependencies at build time, so the image does not contain what the lock says.

How hash checking switches on matters:

* **pip** has a hash-checking mode that is all-or-nothing for one ``pip`` run. It is on
  with ``--require-hashes``, and pip also turns it on by itself as soon as *any*
  requirement of the run (from any ``-r`` file) carries a ``--hash``. Then every
  requirement of that run, and every dependency pip would pull in, must be pinned with
  ``==`` and hashed, or the install fails. The implicit mode is only as good as the
  file: regenerate it without ``--generate-hashes`` and the same command installs
  everything unverified, without a word. ``--no-require-hashes`` switches the implicit
  mode off.
* **uv** verifies the hashes a requirements file gives, but without
  ``--require-hashes`` it does not require them: entries without a hash and
  dependencies the file leaves out install unverified.

Why ``--no-deps`` with a hashed lock: a complete lock already lists every dependency, so
``--no-deps`` changes nothing when the lock is right. When it is not (a lock made for
another platform or Python, a missing marker), pip in hash-checking mode fails on the
unlisted dependency, but uv without ``--require-hashes`` installs it unverified, and
without ``--no-deps`` nothing in the Dockerfile states that the lock is meant to be
complete. pip's secure-installs guide recommends ``--no-deps`` for the same reason.

Known gap: building a local project (``pip install --no-deps .``) still fetches its
build backend (``setuptools``, ``hatchling``) unhashed into an isolated build
environment; use ``--no-build-isolation`` with the backend in the hashed lock when that
matters.

## Example
```dockerfile
RUN pip install --upgrade pip && pip install -r requirements.txt torch==2.3.0
```

Use instead:
```dockerfile
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps .
```

## Fix
Put every package, ``pip`` and ``torch`` included, in a lock generated with hashes
(``pip-compile --generate-hashes --allow-unsafe``, ``uv pip compile --generate-hashes``,
``uv export``) and install only that file with ``--require-hashes --no-deps``. Install
the project itself with ``--no-deps``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.errors import ReprobuildError
from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._installs import (
    Call,
    Options,
    SpecKind,
    calls,
    classify_spec,
    env_true,
    pip_options,
    pipenv_options,
    suppressed_above,
)
from reprobuild.lint.rules._lockpkg import describe, redact
from reprobuild.lockfiles import read_lock
from reprobuild.models import LockFormat

__all__ = ["RULE", "check"]

CODE = "RB210"
_PIP_FETCHES = frozenset({"install", "download", "wheel"})
_ADDS = frozenset({"uv", "poetry", "pdm"})
_ABSTRACT = frozenset({"pyproject.toml", "setup.py", "setup.cfg"})
_LOCK_HINT = "put it in the hashed lock (pip-compile/uv pip compile --generate-hashes)"


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    reported: set[tuple[Path, int | None]] = set()
    for call in calls(dockerfile, ctx):
        if call.tool == "pip" and call.subcommand[:1] and call.subcommand[0] in _PIP_FETCHES:
            yield from _pip_like(call, reported, uv=False)
        elif call.tool == "uv" and call.subcommand in (("pip", "install"), ("pip", "sync")):
            yield from _pip_like(call, reported, uv=True)
        elif call.tool in _ADDS and call.subcommand == ("add",):
            yield _at(
                call,
                call.subcommand[0],
                f"`{call.display}` adds packages and resolves them during the build, "
                "without a hashed lock; add them to the project and lock on the host, then "
                "install the lock",
            )
        elif call.tool == "pipenv" and call.subcommand == ("install",):
            for spec in pipenv_options(call).operands:
                yield _at(
                    call,
                    spec,
                    f"`pipenv install {spec}` resolves `{spec}` during the build and "
                    "writes Pipfile.lock in the image; add it to the Pipfile and lock on "
                    "the host, then `pipenv sync` / `pipenv install --deploy`",
                    package=_name_of(spec),
                )


def _at(
    call: Call,
    needle: str,
    message: str,
    severity: Severity | None = None,
    package: str | None = None,
) -> Violation:
    return Violation(
        message=message,
        line=call.line_of(needle),
        anchor_line=call.instruction.start_line,
        severity=severity,
        package=package,
    )


def _name_of(spec: str) -> str | None:
    """The canonical project name of a requirement (for per-package ignores), if any."""
    # Imported here: packaging.requirements costs start-up time most lint runs never need.
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return None


def _pip_like(
    call: Call, reported: set[tuple[Path, int | None]], *, uv: bool
) -> Iterator[Violation]:
    opts = pip_options(call)
    env = call.env
    prefix = "UV" if uv else "PIP"
    # Offline (--no-index, local --find-links): names resolve only against files already
    # in the image, fetched by a step that is checked itself; the files' hashes still are.
    offline = _offline(opts, env, prefix)
    sync = call.subcommand == ("pip", "sync")
    require = opts.has("--require-hashes") or env_true(env, f"{prefix}_REQUIRE_HASHES")
    disabled = (
        opts.has("--no-verify-hashes") or env_true(env, "UV_NO_VERIFY_HASHES")
        if uv
        else opts.has("--no-require-hashes")
    )
    no_deps = sync or opts.has("--no-deps") or (not uv and env_true(env, "PIP_NO_DEPS"))
    errors = 0
    hashed = False

    specs = [("", s) for s in ([] if sync else opts.operands)]
    specs += [("-e ", s) for s in opts.values_of("-e", "--editable")]
    for flag, spec in specs:
        if offline and classify_spec(call.resolve(spec) or spec) is SpecKind.NAMED:
            continue
        violation, is_hashed = _judge_spec(call, flag + spec, spec, no_deps)
        hashed = hashed or is_hashed
        if violation is not None:
            errors += 1
            yield violation

    files = list(opts.values_of("-r", "--requirement")) + list(opts.operands if sync else ())
    for text in files:
        violations, is_hashed = _judge_file(call, text, require, disabled, uv, reported)
        hashed = hashed or is_hashed
        errors += len(violations)
        yield from violations

    if not hashed or errors:
        return
    if uv and not require and not no_deps:
        yield _at(
            call,
            "install",
            f"`{call.display}` checks the hashes the file gives, but without "
            "--require-hashes uv installs any dependency the file leaves out unverified; "
            "add --require-hashes --no-deps",
        )
    elif not no_deps:
        yield _at(
            call,
            call.subcommand[-1],
            f"hashed `{call.display}` without --no-deps: the lock should already list "
            "every dependency, and --no-deps makes the install fail loudly rather than "
            "resolve anything the lock missed; add --no-deps",
            Severity.WARNING,
        )


def _offline(opts: Options, env: Mapping[str, str], prefix: str) -> bool:
    if not (opts.has("--no-index") or env_true(env, f"{prefix}_NO_INDEX")):
        return False
    links = opts.values_of("-f", "--find-links")
    return not any("://" in link and not link.startswith("file:") for link in links)


def _judge_spec(call: Call, shown: str, spec: str, no_deps: bool) -> tuple[Violation | None, bool]:
    """A requirement operand: (its violation, whether it is a hashed artifact)."""
    kind = classify_spec(call.resolve(spec) or spec)
    safe = redact(spec)
    if kind is SpecKind.NAMED:
        return _at(
            call,
            spec,
            f"`{call.display}` fetches `{safe}` from the index without a hash (a version "
            f"pin is not a hash); {_LOCK_HINT} and install the lock with --require-hashes",
            package=_name_of(spec),
        ), False
    if kind is SpecKind.URL:
        return _at(
            call,
            spec,
            f"`{call.display}` installs {safe} without a hash; add `#sha256=<digest>` to "
            "the URL or put it in the hashed lock",
        ), False
    if kind is SpecKind.VCS:
        return _at(
            call,
            spec,
            f"`{call.display}` installs the VCS checkout {safe}, which pip cannot "
            "hash-check; build a wheel from a pinned commit and install it by hash",
        ), False
    if kind is SpecKind.LOCAL and not no_deps:
        return _at(
            call,
            spec,
            f"`{call.display} {shown}` resolves the dependencies of the local project or "
            "archive at build time, without hashes; install the hashed lock first, then "
            "this with --no-deps",
        ), False
    return None, kind is SpecKind.URL_HASHED


def _judge_file(
    call: Call,
    text: str,
    require: bool,
    disabled: bool,
    uv: bool,
    reported: set[tuple[Path, int | None]],
) -> tuple[list[Violation], bool]:
    """A requirements file: (violations, whether the install of it is hash-checked)."""
    shown = f"{call.display} -r {redact(text)}" if call.subcommand[-1] != "sync" else (
        f"{call.display} {redact(text)}"
    )
    if "://" in text:
        return [_at(call, text, f"`{shown}` reads requirements from a URL, which can "
                    "change between builds; copy a hashed lock into the build context")], False
    if posixpath.basename(text).lower() in _ABSTRACT:
        return [_at(call, text, f"`{shown}` installs the project's declared (unlocked) "
                    "dependencies, resolved at build time; export a hashed lock "
                    "(uv export / uv pip compile --generate-hashes) and install that")], False
    if disabled:
        flag = "--no-verify-hashes" if uv else "--no-require-hashes"
        return [_at(call, flag, f"`{shown}` with {flag} installs without checking "
                    "hashes; remove it and use --require-hashes")], False
    path = call.context_file(text)
    tool = "uv" if uv else "pip"
    if path is None:
        if require:
            return [], True
        return [_at(
            call,
            text,
            f"`{shown}`: reprobuild cannot follow {text} back to a file in the build "
            "context, so it cannot tell whether every entry has a hash; add "
            f"--require-hashes so {tool} refuses unhashed entries",
        )], False
    name = path.name.lower()
    fmt = LockFormat.PYLOCK if name.startswith("pylock.") else LockFormat.REQUIREMENTS
    try:
        lock = read_lock(path, fmt)
    except ReprobuildError as exc:
        return [_at(call, text, f"`{shown}`: cannot read {path}: {exc}")], False
    ignores = suppressed_above(call.dockerfile, call.instruction)
    where = f"line {call.line_of(text)} of {call.dockerfile.path.name}"
    violations: list[Violation] = []
    complete = True
    for package in lock.installed():
        if package.hashes or any(a.hashes for a in package.artifacts):
            continue
        complete = False
        file = package.path or lock.path
        if (file, package.line) in reported:
            continue
        reported.add((file, package.line))
        violations.append(
            Violation(
                message=f"{describe(package)} has no hash, and `{shown}` ({where}) "
                "installs it unverified; regenerate the file with --generate-hashes",
                path=file,
                line=package.line,
                package=package.name,
                inline_ignores=package.inline_ignores | ignores,
            )
        )
    return violations, complete and bool(lock.installed())


RULE = Rule(
    code=CODE,
    name="pip-install-bypasses-lock",
    severity=Severity.ERROR,
    summary="Python install that does not go through a hashed lock",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Install only a hashed lock, with --require-hashes --no-deps",
)
