"""What RB210, RB211 and RB212 share: finding package-manager calls in RUN instructions.

Not a rule module (it has no ``RULE``); ``RULE_MODULES`` does not list it.

:func:`calls` walks a Dockerfile in build order, keeping what a RUN command sees (the
environment from ``ARG``/``ENV``/``export``/``VAR=1 cmd``, the working directory from
``WORKDIR``/``cd``, and where ``COPY``/``ADD``/``RUN --mount=type=bind`` put build-context
files), and yields one :class:`Call` per pip/uv/poetry/pipenv/pdm/conda invocation with
its arguments split into options and operands. :meth:`Call.context_file` follows the
COPY instructions back to the build-context file a path names, so RB210 can read it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from reprobuild.dockerfile import Dockerfile, DockerfileContext, Instruction
from reprobuild.dockerfile.shell import SHELLS, SimpleCommand, program, split_commands

__all__ = [
    "Call",
    "Options",
    "SpecKind",
    "calls",
    "classify_spec",
    "conda_options",
    "env_true",
    "parse_options",
    "pip_options",
    "pipenv_options",
    "suppressed_above",
]

# ------------------------------------------------------------------ tools and options

_PIP = re.compile(r"^pip(\d+(\.\d+)*)?$")
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")
_TOOLS = frozenset({"uv", "poetry", "pipenv", "pdm", "conda", "mamba", "micromamba",
                    "conda-lock"})
_CONDA = frozenset({"conda", "mamba", "micromamba"})
# Modules ``python -m X`` runs as the same tool.
_PYTHON_MODULES = frozenset({"pip", "uv", "poetry", "pipenv", "pdm", "conda"})
# Interpreter options that take a value (``python -X dev -m pip``).
_PYTHON_VALUE_OPTIONS = frozenset({"-X", "-W", "-c"})

# Options that take a value, per tool, so operands are not mistaken for them. Options
# written ``--opt=value`` or ``-rFILE`` need no entry. pip's and uv's sets are merged:
# their spellings do not clash.
_PIP_VALUE_OPTIONS = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--src",
    "--upgrade-strategy", "--no-binary", "--only-binary", "--progress-bar", "-C",
    "--config-settings", "--config-setting", "--global-option", "--trusted-host",
    "--cache-dir", "--log", "--log-file", "--proxy", "--retries", "--timeout",
    "--exists-action", "--cert", "--client-cert", "--report", "--group", "--python",
    "--keyring-provider", "--use-feature", "--use-deprecated", "--root-user-action",
    "--requirements-from-script", "--build-constraint", "--uploaded-prior-to", "-d", "--dest",
    "-w", "--wheel-dir", "--resume-retries",
    # uv pip
    "--override", "--overrides", "--default-index", "--index", "-p", "--python-platform",
    "--index-strategy", "--resolution", "--prerelease", "--exclude-newer", "--link-mode",
    "--reinstall-package", "-P", "--upgrade-package", "--refresh-package", "--extra",
    "--directory", "--project", "--config-file", "--color", "--torch-backend", "-b",
    "--build-constraints", "--no-build-isolation-package", "--allow-insecure-host",
    "--python-preference", "--excludes", "--exclude",
})
_GLOBAL_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "pip": frozenset({"--log", "--log-file", "--proxy", "--retries", "--timeout",
                      "--exists-action", "--trusted-host", "--cert", "--client-cert",
                      "--cache-dir", "--python", "--keyring-provider", "--use-feature",
                      "--use-deprecated", "--resume-retries"}),
    "uv": frozenset({"--cache-dir", "--directory", "--project", "--config-file", "--color",
                     "--python-preference", "--allow-insecure-host"}),
    "poetry": frozenset({"-C", "--directory", "-P", "--project"}),
    "pdm": frozenset({"-c", "--config", "-p", "--project"}),
    "pipenv": frozenset({"--python"}),
    "conda": frozenset({"-r", "--root-prefix", "--rc-file"}),
    "conda-lock": frozenset(),
}
_CONDA_VALUE_OPTIONS = frozenset({
    "-n", "--name", "-p", "--prefix", "-c", "--channel", "-f", "--file",
    "-r", "--root-prefix", "--rc-file", "--platform", "--subdir", "--clone", "--solver",
    "--repodata-fn", "--category",
})
# Subcommands that take a second word (``uv pip install``, ``conda env create``).
_TWO_WORD = {"uv": frozenset({"pip", "tool"}), "conda": frozenset({"env"}),
             "poetry": frozenset({"self"}), "pdm": frozenset({"self"})}

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})


def env_true(env: Mapping[str, str], name: str) -> bool:
    """An environment flag set the way pip/uv read booleans (``1``, ``true``, ``yes``…)."""
    return env.get(name, "").strip().lower() in _TRUE


@dataclass(frozen=True, slots=True)
class Options:
    """A subcommand's arguments: the options given and the operands."""

    names: frozenset[str]
    """Every option present (``--no-deps``, ``-r``…), as written before any ``=``."""
    values: tuple[tuple[str, str], ...]
    """(option, value) for options that carry one, in order."""
    operands: tuple[str, ...]

    def has(self, *names: str) -> bool:
        return any(name in self.names for name in names)

    def values_of(self, *names: str) -> tuple[str, ...]:
        return tuple(value for option, value in self.values if option in names)


def parse_options(args: tuple[str, ...], takes_value: frozenset[str]) -> Options:
    """Split arguments into options and operands (enough for optparse/clap-style CLIs)."""
    names: set[str] = set()
    values: list[tuple[str, str]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--"):
            name, sep, value = arg.partition("=")
            names.add(name)
            if sep:
                values.append((name, value))
            elif name in takes_value and i < len(args):
                values.append((name, args[i]))
                i += 1
        elif arg.startswith("-") and len(arg) > 1:
            short = arg[:2]
            names.add(short)
            if short in takes_value:
                if len(arg) > 2:
                    values.append((short, arg[2:].removeprefix("=")))
                elif i < len(args):
                    values.append((short, args[i]))
                    i += 1
            else:
                names.update(f"-{letter}" for letter in arg[2:] if letter.isalpha())
        else:
            operands.append(arg)
    return Options(names=frozenset(names), values=tuple(values), operands=tuple(operands))


# ------------------------------------------------------------------ requirement specs


class SpecKind(StrEnum):
    NAMED = "named"
    """Resolved from an index by name (``numpy``, ``numpy==1.26.4``)."""
    URL = "url"
    URL_HASHED = "url-hashed"
    """A direct archive URL with a ``#sha256=`` fragment pip checks."""
    VCS = "vcs"
    LOCAL = "local"
    """A local directory or archive (``.``, ``./dist/x.whl``, ``file://…``)."""


_ARCHIVE = re.compile(r"\.(whl|tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$", re.IGNORECASE)
_DIRECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?\s*@\s*(?P<url>\S.*)$")
_URL_HASH = re.compile(r"#(?:.*&)?(sha256|sha384|sha512)=[0-9a-fA-F]+")


def classify_spec(spec: str) -> SpecKind:
    """What kind of source a pip/uv requirement operand names."""
    text = spec.strip()
    direct = _DIRECT.match(text)
    target = direct.group("url").strip() if direct else text
    lower = target.lower()
    if re.match(r"^(git|hg|svn|bzr)\+", lower):
        return SpecKind.VCS
    if lower.startswith("file:"):
        return SpecKind.LOCAL
    if "://" in lower:
        return SpecKind.URL_HASHED if _URL_HASH.search(target) else SpecKind.URL
    if direct:
        return SpecKind.LOCAL
    if (
        target in (".", "..")
        or target.startswith(("./", "../", "/", "~", ".["))
        or "/" in target
        or "\\" in target
        or _ARCHIVE.search(target)
    ):
        return SpecKind.LOCAL
    return SpecKind.NAMED


# ------------------------------------------------------------------ build state


@dataclass(frozen=True, slots=True)
class _Copy:
    """Files a COPY/ADD/bind mount puts in the image: build-context sources at ``dest``."""

    sources: tuple[str, ...]
    """Paths relative to the build context; empty when the sources are not from it."""
    dest: str
    """Absolute, normalised path in the image (a copy whose destination cannot be
    resolved is not recorded)."""
    dest_is_dir: bool
    from_context: bool


@dataclass(slots=True)
class _State:
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = "/"
    copies: list[_Copy] = field(default_factory=list)

    def fork(self) -> _State:
        return _State(dict(self.env), self.workdir, list(self.copies))


@dataclass(frozen=True, slots=True)
class Call:
    """One package-manager invocation inside a RUN instruction."""

    dockerfile: Dockerfile
    ctx: DockerfileContext
    instruction: Instruction
    command: SimpleCommand
    tool: str
    """``pip``, ``uv``, ``poetry``, ``pipenv``, ``pdm``, ``conda-lock`` or the conda
    program as called (``conda``, ``mamba``, ``micromamba``)."""
    subcommand: tuple[str, ...]
    """``("install",)``, ``("pip", "install")``, ``("env", "create")``; ``()`` when none."""
    args: tuple[str, ...]
    """The arguments after the subcommand."""
    env: Mapping[str, str]
    """The environment the command runs with (ARG, ENV, ``export``, ``VAR=1 cmd``)."""
    cwd: str | None
    """The absolute working directory, or ``None`` when it cannot be known."""
    copies: tuple[_Copy, ...]
    """Context files put in the image before this command, latest last."""
    previous: tuple[SimpleCommand, ...]
    """Commands that ran before this one in the stage (earlier RUNs included)."""

    @property
    def display(self) -> str:
        """``pip install`` / ``uv pip sync`` / ``conda env create``, for messages."""
        return " ".join((self.tool, *self.subcommand))

    def line_of(self, needle: str | None = None) -> int:
        """The physical line of ``needle`` inside this command (its first line if absent)."""
        text = self.command.text
        index = text.find(needle) if needle else 0
        index = max(index, 0)
        if self.instruction.json_form:
            return self.instruction.line_of(needle or "")
        if self.command.offset >= 0:
            return self.instruction.line_at(
                self.instruction.value_offset + self.command.offset + index
            )
        # A heredoc body command: line_offset is its first line.
        return (
            self.instruction.start_line + self.command.line_offset + text.count("\n", 0, index)
        )

    def resolve(self, text: str) -> str | None:
        """``text`` with ``$VAR``s expanded from the command's environment; None if unknown."""
        if "$" not in text:
            return text
        scope = {**self.ctx.build_args, **self.env}
        return self.dockerfile.resolve(text, scope, stage=self.instruction.stage)

    def image_path(self, text: str) -> str | None:
        """The absolute path in the image that a path argument names, or None."""
        resolved = self.resolve(text)
        if resolved is None or resolved.startswith("~"):
            return None
        if not resolved.startswith("/"):
            if self.cwd is None:
                return None
            resolved = posixpath.join(self.cwd, resolved)
        return posixpath.normpath(resolved)

    def context_file(self, text: str) -> Path | None:
        """The build-context file that a path argument names, following COPY/ADD.

        None when the file does not come from the build context, or when reprobuild cannot
        tell (``COPY --from``, variables it cannot resolve, a directory in the image).
        """
        target = self.image_path(text)
        if target is None:
            return None
        try:
            return self._context_file(target)
        except (OSError, ValueError):  # unreadable context, a glob pathlib rejects
            return None

    def _context_file(self, target: str) -> Path | None:
        for copy in reversed(self.copies):
            if not copy.from_context:
                if _covers(copy, target):
                    return None  # from another stage or image: content unknown here
                continue
            found = _source_for(self.ctx.context_dir, copy, target)
            if found is not None:
                return found
        return None


def _covers(copy: _Copy, target: str) -> bool:
    return target == copy.dest or target.startswith(copy.dest.rstrip("/") + "/")


def _source_for(context: Path, copy: _Copy, target: str) -> Path | None:
    for source in copy.sources:
        for path in _context_matches(context, source):
            if path.is_dir():
                if target.startswith(copy.dest.rstrip("/") + "/"):
                    candidate = path / posixpath.relpath(target, copy.dest)
                    if candidate.is_file() and _inside(context, candidate):
                        return candidate
                continue
            into_dir = posixpath.join(copy.dest, path.name)
            # ``COPY f /app`` copies to /app/f when /app is already a directory in the
            # image, which reprobuild cannot see: accept both readings.
            if target == into_dir or (not copy.dest_is_dir and target == copy.dest):
                return path
    return None


def _context_matches(context: Path, source: str) -> list[Path]:
    relative = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
    if relative.startswith("..") or "://" in source:
        return []
    if any(c in relative for c in "*?["):
        return sorted(p for p in context.glob(relative) if _inside(context, p))
    path = context / relative
    return [path] if path.exists() and _inside(context, path) else []


def _inside(context: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(context.resolve())
    except (OSError, ValueError):
        return False
    return True


def _env_pairs(value: str) -> list[tuple[str, str]]:
    """``ENV A=1 B="x y"`` / legacy ``ENV KEY some value`` / ``ARG A=1 B``."""
    try:
        words = shlex.split(value, posix=True)
    except ValueError:
        words = value.split()
    if not words:
        return []
    if "=" not in words[0]:
        rest = value.strip().split(None, 1)
        return [(words[0], rest[1].strip() if len(rest) > 1 else "")]
    pairs = []
    for word in words:
        name, sep, val = word.partition("=")
        if sep and name:
            pairs.append((name, val))
    return pairs


def _copy_of(
    instruction: Instruction, dockerfile: Dockerfile, ctx: DockerfileContext, state: _State
) -> _Copy | None:
    words = _json_words(instruction) or _split(instruction.value)
    if len(words) < 2:
        return None

    def resolved(text: str) -> str | None:
        return dockerfile.resolve(text, {**ctx.build_args, **state.env}, stage=instruction.stage)

    dest_text = resolved(words[-1])
    if dest_text is None:
        return None
    if not dest_text.startswith("/"):
        if state.workdir is None:
            return None
        dest_text = posixpath.join(state.workdir, dest_text)
    sources = tuple(s for s in (resolved(w) for w in words[:-1]) if s is not None)
    from_context = instruction.flag("from") is None and not any(
        w.startswith("<<") or "://" in w for w in words[:-1]
    )
    dest_is_dir = (
        words[-1].endswith("/")
        or words[-1] in (".", "./")
        or len(words) > 2
        or any(c in w for w in words[:-1] for c in "*?[")
    )
    return _Copy(
        sources=sources if from_context else (),
        dest=posixpath.normpath(dest_text),
        dest_is_dir=dest_is_dir,
        from_context=from_context,
    )


def _mounts(instruction: Instruction, state: _State) -> list[_Copy]:
    """``RUN --mount=type=bind,source=x,target=/y``: build-context files for this RUN."""
    found: list[_Copy] = []
    for mount in instruction.flag_values("mount"):
        options: dict[str, str] = {}
        for part in mount.split(","):
            key, _, value = part.partition("=")
            options[key.strip().lower()] = value.strip()
        if options.get("type", "bind") != "bind":
            continue
        target = options.get("target") or options.get("dst") or options.get("destination")
        if not target:
            continue
        if not target.startswith("/"):
            if state.workdir is None:
                continue
            target = posixpath.join(state.workdir, target)
        source = options.get("source") or options.get("src") or "."
        found.append(
            _Copy(
                sources=(source,) if "from" not in options else (),
                dest=posixpath.normpath(target),
                dest_is_dir=False,
                from_context="from" not in options,
            )
        )
    return found


def _json_words(instruction: Instruction) -> list[str] | None:
    if not instruction.json_form:
        return None
    import json

    try:
        parsed = json.loads(instruction.value)
    except ValueError:
        return None
    return [str(w) for w in parsed] if isinstance(parsed, list) else None


def _split(value: str) -> list[str]:
    try:
        return shlex.split(value, posix=True)
    except ValueError:
        return value.split()


# ------------------------------------------------------------------ finding calls


# RB210, RB211 and RB212 all walk the same calls: compute them once per Dockerfile. The
# engine lints one file at a time, so remembering the last one is enough.
_last: tuple[Dockerfile, DockerfileContext, tuple[Call, ...]] | None = None


def calls(dockerfile: Dockerfile, ctx: DockerfileContext) -> tuple[Call, ...]:
    """Every package-manager call in the Dockerfile's RUN instructions, in build order."""
    global _last
    if _last is not None and _last[0] is dockerfile and _last[1] is ctx:
        return _last[2]
    found = tuple(_calls(dockerfile, ctx))
    _last = (dockerfile, ctx, found)
    return found


def _calls(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Call]:
    states: dict[int, _State] = {}
    previous: dict[int, list[SimpleCommand]] = {}
    names = {stage.name: stage.index for stage in dockerfile.stages if stage.name}
    for instruction in dockerfile.instructions:
        if instruction.stage < 0:
            continue
        if instruction.keyword == "FROM":
            base = dockerfile.stages[instruction.stage].base.lower()
            parent = names.get(base)
            if parent is not None and parent < instruction.stage and parent in states:
                states[instruction.stage] = states[parent].fork()
                previous[instruction.stage] = list(previous.get(parent, []))
            else:
                states[instruction.stage] = _State()
                previous[instruction.stage] = []
            continue
        state = states.setdefault(instruction.stage, _State())
        history = previous.setdefault(instruction.stage, [])
        _apply(instruction, dockerfile, ctx, state)
        if instruction.keyword == "RUN":
            yield from _run_calls(instruction, dockerfile, ctx, state, history)


def _apply(
    instruction: Instruction, dockerfile: Dockerfile, ctx: DockerfileContext, state: _State
) -> None:
    """Update the build state for a non-RUN instruction."""
    scope = {**ctx.build_args, **state.env}
    if instruction.keyword == "ENV":
        for name, value in _env_pairs(instruction.value):
            expanded = dockerfile.resolve(value, scope, stage=instruction.stage)
            state.env[name] = value if expanded is None else expanded
    elif instruction.keyword == "ARG":
        for word in _split(instruction.value):
            name, sep, default = word.partition("=")
            if name in ctx.build_args:
                state.env[name] = ctx.build_args[name]
            elif sep:
                state.env[name] = default
    elif instruction.keyword == "WORKDIR":
        path = dockerfile.resolve(instruction.value.strip(), scope, stage=instruction.stage)
        if path is None or (state.workdir is None and not path.startswith("/")):
            state.workdir = None
        else:
            state.workdir = posixpath.normpath(posixpath.join(state.workdir or "/", path))
    elif instruction.keyword in ("COPY", "ADD"):
        copy = _copy_of(instruction, dockerfile, ctx, state)
        if copy is not None:
            state.copies.append(copy)


def _run_calls(
    instruction: Instruction,
    dockerfile: Dockerfile,
    ctx: DockerfileContext,
    state: _State,
    history: list[SimpleCommand],
) -> Iterator[Call]:
    env = dict(state.env)
    cwd = state.workdir
    copies = tuple(state.copies) + tuple(_mounts(instruction, state))
    for command in _expand_shell_c(instruction.shell_commands()):
        argv = command.argv
        name = program(argv)
        if name == "cd" and len(argv) >= 2:
            target = argv[1]
            if "$" in target or target.startswith("~") or target == "-":
                cwd = None
            elif target.startswith("/"):
                cwd = posixpath.normpath(target)
            elif cwd is not None:
                cwd = posixpath.normpath(posixpath.join(cwd, target))
        elif name == "export":
            for word in argv[1:]:
                key, sep, value = word.partition("=")
                if sep:
                    env[key] = value
        call_env = {**env, **_prefix_assignments(command)}
        while argv:
            call = _recognise(argv, instruction, dockerfile, ctx, command, call_env, cwd,
                              copies, tuple(history))
            if call is None:
                break
            yield call
            argv = _run_target(call)
        history.append(command)


def _expand_shell_c(commands: list[SimpleCommand]) -> Iterator[SimpleCommand]:
    """``sh -c "pip install x"``: the inner commands, placed at the outer command."""
    for command in commands:
        argv = command.argv
        if program(argv) in SHELLS and "-c" in argv[1:-1]:
            script = argv[argv.index("-c") + 1]
            outer = tuple(f"{k}={v}" for k, v in _prefix_assignments(command).items())
            for inner in split_commands(script):
                yield SimpleCommand(
                    words=outer + inner.words,
                    operator=inner.operator,
                    text=command.text,
                    line_offset=command.line_offset,
                    offset=command.offset,
                )
            continue
        yield command


_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def _prefix_assignments(command: SimpleCommand) -> dict[str, str]:
    """``PIP_REQUIRE_HASHES=1 pip install`` / ``env UV_FROZEN=1 uv sync``."""
    argv = command.argv
    words = command.words
    head = words[: len(words) - len(argv)] if argv and words[-len(argv):] == argv else words
    found: dict[str, str] = {}
    for word in head:
        match = _ASSIGNMENT.match(word)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _recognise(
    argv: tuple[str, ...],
    instruction: Instruction,
    dockerfile: Dockerfile,
    ctx: DockerfileContext,
    command: SimpleCommand,
    env: dict[str, str],
    cwd: str | None,
    copies: tuple[_Copy, ...],
    history: tuple[SimpleCommand, ...],
) -> Call | None:
    name = program(argv)
    rest = argv[1:]
    if _PIP.match(name):
        tool = "pip"
    elif name in _TOOLS:
        tool = name
    elif _PYTHON.match(name):
        module, rest = _python_module(rest)
        if module not in _PYTHON_MODULES:
            return None
        tool = module
    else:
        return None
    family = "conda" if tool in _CONDA else tool
    subcommand, args = _subcommand(family, rest)
    return Call(
        dockerfile=dockerfile,
        ctx=ctx,
        instruction=instruction,
        command=command,
        tool=tool,
        subcommand=subcommand,
        args=args,
        env=env,
        cwd=cwd,
        copies=copies,
        previous=history,
    )


# ``conda run -n env pip install x``, ``poetry run pip install x``: the wrapped command.
# Options that take a value, per tool (``uv run --with x`` …).
_RUN_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "conda": frozenset({"-n", "--name", "-p", "--prefix", "--cwd", "-r", "--root-prefix",
                        "-a", "--attach"}),
    "uv": frozenset({"--with", "--with-editable", "--with-requirements", "-p", "--python",
                     "--extra", "--group", "--only-group", "--package", "--env-file",
                     "--index", "--default-index", "--index-url", "--extra-index-url",
                     "-i", "-f", "--find-links", "--directory", "--project", "--cache-dir",
                     "--no-group", "--python-platform", "--exclude-newer"}),
    "poetry": frozenset({"-C", "--directory", "-P", "--project"}),
    "pdm": frozenset({"-p", "--project", "-v"}),
    "pipenv": frozenset(),
}


def _run_target(call: Call) -> tuple[str, ...]:
    """The command a ``… run`` call runs (empty when it is not a run wrapper)."""
    family = "conda" if call.tool in _CONDA else call.tool
    if call.subcommand != ("run",) or family not in _RUN_VALUE_OPTIONS:
        return ()
    takes_value = _RUN_VALUE_OPTIONS[family]
    i = 0
    while i < len(call.args) and call.args[i].startswith("-"):
        if call.args[i] == "--":
            i += 1
            break
        i += 2 if call.args[i] in takes_value else 1
    return call.args[i:]


def _python_module(args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """``python -I -m pip install x`` -> ("pip", ("install", "x"))."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m" and i + 1 < len(args):
            return args[i + 1], args[i + 2 :]
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:], args[i + 1 :]
        if not arg.startswith("-") or arg == "-c":
            return None, ()
        i += 2 if arg in _PYTHON_VALUE_OPTIONS else 1
    return None, ()


def _subcommand(family: str, args: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    takes_value = _GLOBAL_VALUE_OPTIONS.get(family, frozenset())
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            i += 2 if arg in takes_value else 1
            continue
        words.append(arg)
        i += 1
        if len(words) == 2 or words[0] not in _TWO_WORD.get(family, frozenset()):
            break
    return tuple(words), args[i:]


def pip_options(call: Call) -> Options:
    return parse_options(call.args, _PIP_VALUE_OPTIONS)


_PIPENV_VALUE_OPTIONS = frozenset(
    {"-r", "--requirements", "--python", "--pypi-mirror", "--extra-pip-args", "--categories",
     "-i", "--index"}
)


def pipenv_options(call: Call) -> Options:
    return parse_options(call.args, _PIPENV_VALUE_OPTIONS)


def conda_options(call: Call) -> Options:
    return parse_options(call.args, _CONDA_VALUE_OPTIONS)


# ------------------------------------------------------------------ suppressions

_PRAGMA = re.compile(r"#\s*reprobuild:\s*ignore\s*=\s*([A-Za-z0-9_,\s]+)", re.IGNORECASE)


def suppressed_above(dockerfile: Dockerfile, instruction: Instruction) -> frozenset[str]:
    """Codes a ``# reprobuild: ignore=…`` comment directly above the instruction names.

    For findings placed in another file (a requirements file's entry), where the engine
    would only look around that file's line.
    """
    codes: set[str] = set()
    line = instruction.start_line - 1
    while 0 < line <= len(dockerfile.lines) and dockerfile.lines[line - 1].lstrip().startswith(
        "#"
    ):
        match = _PRAGMA.search(dockerfile.lines[line - 1])
        if match:
            codes.update(c.strip().upper() for c in match.group(1).split(",") if c.strip())
        line -= 1
    return frozenset(codes)
