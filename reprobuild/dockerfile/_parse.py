"""Parse a Dockerfile into instructions and stages, keeping physical line numbers.

Why not ``dockerfile-parse`` alone: version 2.0.1 (checked) handles the ``# escape=``
directive and continuations, but it has no heredoc support (``RUN <<EOF`` bodies come
out as instructions ``SET``, ``ECHO``, ``EOF``), drops comment lines inside
continuations from its ``content`` without telling which physical line each piece came
from, and importing it (``logging``) costs ~20 ms of the 150 ms start-up budget of
``reprobuild lint`` in a pre-commit hook. So this module reads the *line structure* itself
following BuildKit's rules (directives, escape token, continuations, comments and empty
lines inside continuations, heredocs); the test suite checks it against
``dockerfile-parse`` on every fixture without heredocs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reprobuild.dockerfile.shell import SHELLS, SimpleCommand, program, split_commands
from reprobuild.errors import LockParseError

__all__ = [
    "Dockerfile",
    "DockerfileContext",
    "Heredoc",
    "Instruction",
    "SimpleCommand",
    "Stage",
    "parse_dockerfile",
]

_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_MARKER = re.compile(r"<<(-?)(['\"]?)([A-Za-z0-9_][A-Za-z0-9_.\-]*)\2")
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
_RESOLVE_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    body: str
    start_line: int
    """1-based physical line of the first body line."""


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    """Upper-case: ``FROM``, ``RUN``, ``COPY``, …"""
    flags: tuple[str, ...]
    """Leading ``--flags`` as written."""
    value: str
    """The arguments after the flags, continuations joined with the line breaks removed."""
    original: str
    """The instruction as written (all physical lines, heredoc bodies included)."""
    start_line: int
    end_line: int
    stage: int
    """0-based stage index; -1 for ARGs before the first FROM."""
    json_form: bool
    heredocs: tuple[Heredoc, ...]
    logical: str = field(default="", repr=False, compare=False)
    """The whole instruction on one line (keyword and flags included), as BuildKit sees it."""
    line_map: tuple[tuple[int, int], ...] = field(default=(), repr=False, compare=False)
    """(offset in ``logical``, physical line) where each joined physical line starts."""
    value_offset: int = field(default=0, repr=False, compare=False)
    """Where ``value`` starts inside ``logical``."""
    _memo: dict[str, list[SimpleCommand]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Computed once per instruction: every RUN rule asks for the same commands."""

    def flag(self, name: str) -> str | None:
        """Value of the first ``--name=…`` (``None`` when absent; ``""`` for a bare flag)."""
        values = self.flag_values(name)
        return values[0] if values else None

    def flag_values(self, name: str) -> tuple[str, ...]:
        """Values of every ``--name=…`` (``--mount`` may be given several times)."""
        name = name.lstrip("-").lower()
        found: list[str] = []
        for item in self.flags:
            key, sep, val = item.lstrip("-").partition("=")
            if key.lower() == name:
                found.append(_unquote(val) if sep else "")
        return tuple(found)

    def line_of(self, needle: str) -> int:
        """Physical line where ``needle`` first appears; ``start_line`` when absent."""
        if not needle:
            return self.start_line
        index = self.logical.find(needle)
        if index >= 0:
            return self.line_at(index)
        for heredoc in self.heredocs:
            index = heredoc.body.find(needle)
            if index >= 0:
                return heredoc.start_line + heredoc.body.count("\n", 0, index)
        for number, text in enumerate(self.original.splitlines()):
            if needle in text:
                return self.start_line + number
        return self.start_line

    def line_at(self, offset: int) -> int:
        """Physical line of a character offset inside ``logical``."""
        line = self.start_line
        for start, physical in self.line_map:
            if start > offset:
                break
            line = physical
        return line

    def line_in(self, command: SimpleCommand, word: str | None = None) -> int:
        """Physical line of ``word`` inside ``command`` (one of :meth:`shell_commands`), or
        of the command itself when ``word`` is ``None`` or not found verbatim."""
        index = _find_word(command.text, word) if word else -1
        if command.offset >= 0:  # from the RUN line itself: map through the continuations
            return self.line_at(self.value_offset + command.offset + max(index, 0))
        line = self.start_line + command.line_offset
        return line + (command.text.count("\n", 0, index) if index > 0 else 0)

    def shell_commands(self) -> list[SimpleCommand]:
        """RUN only: the simple commands, heredoc bodies run by a shell included.

        ``line_offset`` of each command is re-based on the instruction, so
        ``start_line + line_offset`` is the physical line of the command.
        """
        if self.keyword != "RUN":
            return []
        cached = self._memo.get("commands")
        if cached is None:
            cached = self._memo["commands"] = self._shell_commands()
        return list(cached)

    def _shell_commands(self) -> list[SimpleCommand]:
        if self.json_form:
            words = tuple(_json_argv(self.value) or ())
            argv = SimpleCommand(words=words, operator="", text=self.value, line_offset=0)
            # ["sh", "-c", "script"] is the shell form spelled out: its commands count too.
            if len(words) >= 3 and program(words) in SHELLS and words[1] == "-c":
                return [argv, *(_rebase(c, 0, -1) for c in split_commands(words[2]))]
            return [argv]
        commands: list[SimpleCommand] = []
        main = split_commands(self.value)
        for command in main:
            if not command.argv:
                continue  # `<<EOF` alone, or a bare assignment
            line = self.line_at(self.value_offset + command.offset)
            commands.append(_rebase(command, line - self.start_line, command.offset))
        if self.heredocs and _heredocs_are_scripts(main, self.heredocs):
            for heredoc in self.heredocs:
                base = heredoc.start_line - self.start_line
                for command in split_commands(heredoc.body):
                    if command.argv:
                        commands.append(_rebase(command, base + command.line_offset, -1))
        return commands


@dataclass(frozen=True, slots=True)
class Stage:
    index: int
    name: str | None
    """The alias, lower-cased (aliases are case-insensitive)."""
    base: str
    """The image as written after FROM and its flags (may contain ``$ARG``)."""
    platform: str | None
    line: int


@dataclass(frozen=True, slots=True)
class DockerfileContext:
    path: Path
    context_dir: Path
    build_args: dict[str, str]


@dataclass(frozen=True, slots=True)
class Dockerfile:
    path: Path
    text: str
    lines: tuple[str, ...]
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    escape: str
    syntax: str | None
    global_args: dict[str, str | None]
    _scopes: dict[tuple[object, ...], dict[str, str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Variable scopes already built, by (build args, stage)."""
    memo: dict[tuple[object, ...], object] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """A cache for helpers that several rules call on the same file (see ``images``)."""

    def stage_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.stages if s.name)

    def instructions_of(self, *keywords: str) -> Iterator[Instruction]:
        wanted = {k.upper() for k in keywords}
        return (i for i in self.instructions if i.keyword in wanted)

    def is_stage_reference(self, name: str) -> bool:
        """A ``--from=``/``FROM`` reference to an earlier stage (alias or index)."""
        return name.lower() in self.stage_names() or (
            name.isdigit() and int(name) < len(self.stages)
        )

    def resolve(
        self, text: str, build_args: Mapping[str, str], *, stage: int | None = None
    ) -> str | None:
        """Expand ``$VAR``/``${VAR}``/``${VAR:-x}``/``${VAR:+x}``; ``None`` if unresolvable.

        Build args win over ARG defaults. ``stage=None`` uses the global scope (ARGs
        before the first FROM, as for FROM lines); a stage index uses that stage's ARG
        and ENV instructions (a stage ARG without default inherits the global one).
        """
        if "$" not in text:
            return text
        scope = self._scope(build_args, stage)
        return _expand(text, scope, build_args, self.escape, 0)

    def _scope(self, build_args: Mapping[str, str], stage: int | None) -> dict[str, str | None]:
        key = (stage, *sorted(build_args.items()))
        scope = self._scopes.get(key)
        if scope is None:
            scope = self._scopes[key] = self._build_scope(build_args, stage)
        return scope

    def _build_scope(
        self, build_args: Mapping[str, str], stage: int | None
    ) -> dict[str, str | None]:
        scope: dict[str, str | None] = {}
        for name, default in self.global_args.items():
            scope[name] = build_args.get(name, default)
        if stage is None:
            return scope
        stage_scope: dict[str, str | None] = {}
        for instruction in self.instructions:
            if instruction.stage != stage:
                continue
            if instruction.keyword == "ARG":
                for name, default in parse_key_values(instruction.value, legacy=False):
                    if name in build_args:
                        stage_scope[name] = build_args[name]
                    elif default is not None:
                        stage_scope[name] = default
                    else:
                        stage_scope[name] = scope.get(name)
            elif instruction.keyword == "ENV":
                for name, val in parse_key_values(instruction.value, legacy=True):
                    stage_scope[name] = val
        return stage_scope


def parse_dockerfile(path: Path, text: str) -> Dockerfile:
    """Parse ``text`` (the content of ``path``). Raises :class:`LockParseError` on an
    invalid parser directive; any other input gives a (possibly odd) Dockerfile."""
    lines = tuple(text.splitlines())
    escape, syntax, first = _directives(path, lines)
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    global_args: dict[str, str | None] = {}
    for instruction in _read_instructions(lines, first, escape, lambda: len(stages) - 1):
        instructions.append(instruction)
        if instruction.keyword == "FROM":
            stages.append(_stage(instruction, len(stages)))
            # The FROM itself belongs to the stage it opens.
            instructions[-1] = _with_stage(instruction, len(stages) - 1)
        elif instruction.keyword == "ARG" and not stages:
            global_args.update(parse_key_values(instruction.value, legacy=False))
    return Dockerfile(
        path=path,
        text=text,
        lines=lines,
        instructions=tuple(instructions),
        stages=tuple(stages),
        escape=escape,
        syntax=syntax,
        global_args=global_args,
    )


def parse_key_values(value: str, *, legacy: bool) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` / ``ENV A=1 B="x y"`` pairs; ``legacy`` allows ``ENV KEY some value``."""
    words = _split_words(value)
    if not words:
        return []
    if legacy and "=" not in words[0]:
        return [(words[0], value.split(None, 1)[1].strip() if len(words) > 1 else "")]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, val = word.partition("=")
        if name:
            pairs.append((name, val if sep else None))
    return pairs


# --------------------------------------------------------------------------- lexing


def _directives(path: Path, lines: tuple[str, ...]) -> tuple[str, str | None, int]:
    """``# escape=`` and ``# syntax=`` at the very top; returns the first other line."""
    escape = "\\"
    syntax: str | None = None
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip()) if line.strip() else None
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            return escape, syntax, index
        name, val = match.group(1).lower(), match.group(2)
        if name in seen:
            raise LockParseError(path, f"the `{name}` directive is given twice", line=index + 1)
        seen.add(name)
        if name == "escape":
            if val not in ("\\", "`"):
                raise LockParseError(
                    path, f"invalid escape token {val!r}: use `\\` or a backtick", line=index + 1
                )
            escape = val
        elif name == "syntax":
            syntax = val
    return escape, syntax, len(lines)


def _is_skippable(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _read_instructions(
    lines: tuple[str, ...], first: int, escape: str, current_stage: Callable[[], int]
) -> Iterator[Instruction]:
    n = len(lines)
    i = first
    while i < n:
        if _is_skippable(lines[i]):
            i += 1
            continue
        start = i
        logical_parts: list[str] = []
        line_map: list[tuple[int, int]] = []
        length = 0
        while True:
            text = lines[i].lstrip() if not logical_parts else lines[i]
            body = text.rstrip()
            continued = body.endswith(escape)
            piece = body[: -len(escape)] if continued else text
            line_map.append((length, i + 1))
            logical_parts.append(piece)
            length += len(piece)
            i += 1
            if not continued:
                break
            while i < n and _is_skippable(lines[i]):
                i += 1  # BuildKit drops comments and empty lines inside a continuation
            if i >= n:
                break
        logical = "".join(logical_parts).rstrip()
        keyword, flags, value, value_offset = _split_instruction(logical)
        heredocs: list[Heredoc] = []
        if keyword in _HEREDOC_KEYWORDS and "<<" in value:
            i = _read_heredocs(lines, i, value, heredocs)
        end = max(i, start + 1)
        yield Instruction(
            keyword=keyword,
            flags=flags,
            value=value,
            original="\n".join(lines[start:end]),
            start_line=start + 1,
            end_line=end,
            stage=current_stage(),
            json_form=_json_argv(value) is not None,
            heredocs=tuple(heredocs),
            logical=logical,
            line_map=tuple(line_map),
            value_offset=value_offset,
        )


def _split_instruction(logical: str) -> tuple[str, tuple[str, ...], str, int]:
    """keyword, leading --flags, the rest, and where the rest starts."""
    match = re.match(r"(\S+)\s*", logical)
    if not match:
        return "", (), "", 0
    keyword = match.group(1).upper()
    position = match.end()
    flags: list[str] = []
    flag = re.compile(r"(--[A-Za-z][A-Za-z0-9_-]*(?:=(?:\"[^\"]*\"|'[^']*'|\S)*)?)(?:\s+|$)")
    while True:
        found = flag.match(logical, position)
        if not found:
            break
        flags.append(found.group(1))
        position = found.end()
    return keyword, tuple(flags), logical[position:], position


def _read_heredocs(lines: tuple[str, ...], i: int, value: str, out: list[Heredoc]) -> int:
    """Read the bodies of the heredocs named in ``value``, starting at line index ``i``."""
    for strip_tabs, name in _heredoc_markers(value):
        body: list[str] = []
        start = i
        while i < len(lines):
            line = lines[i]
            i += 1
            candidate = line.lstrip("\t") if strip_tabs else line
            if candidate.rstrip("\r") == name:
                break
            body.append(candidate)
        # An unterminated heredoc runs to the end of the file (BuildKit's behaviour too).
        out.append(Heredoc(name=name, body="\n".join(body), start_line=start + 1))
    return i


def _heredoc_markers(value: str) -> list[tuple[bool, str]]:
    """``<<EOF``/``<<-EOF``/``<<"EOF"`` outside quotes (not ``<<<`` here-strings)."""
    markers: list[tuple[bool, str]] = []
    quote = ""
    i = 0
    while i < len(value):
        c = value[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif value.startswith("<<", i) and not value.startswith("<<<", i):
            match = _HEREDOC_MARKER.match(value, i)
            if match and (i == 0 or value[i - 1] != "<"):
                markers.append((match.group(1) == "-", match.group(3)))
                i = match.end()
                continue
        i += 1
    return markers


def _json_argv(value: str) -> list[str] | None:
    stripped = value.strip()
    if not stripped.startswith("["):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def _stage(instruction: Instruction, index: int) -> Stage:
    words = instruction.value.split()
    name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
    return Stage(
        index=index,
        name=name,
        base=words[0] if words else "",
        platform=instruction.flag("platform"),
        line=instruction.start_line,
    )


def _with_stage(instruction: Instruction, stage: int) -> Instruction:
    return replace(instruction, stage=stage)


def _heredocs_are_scripts(main: list[SimpleCommand], heredocs: tuple[Heredoc, ...]) -> bool:
    """``RUN <<EOF`` and ``RUN bash <<EOF`` run the body as a shell script;
    ``RUN python3 <<EOF`` or ``RUN cat <<EOF > f`` do not (nor a non-shell shebang)."""
    shebang = heredocs[0].body.lstrip().split("\n", 1)[0]
    if shebang.startswith("#!") and not any(sh in shebang.split("/")[-1] for sh in SHELLS):
        return False
    programs = {program(command.argv) for command in main}
    programs.discard("")
    return not programs or (len(programs) == 1 and programs <= SHELLS and not any(
        "-c" in command.argv for command in main
    ))


def _find_word(text: str, word: str) -> int:
    """Where ``word`` stands as a whole (possibly quoted) word in ``text``; -1 if nowhere."""
    match = re.search(r"(?<![^\s\"'=(])" + re.escape(word) + r"(?![^\s\"';&|)])", text)
    if match:
        return match.start()
    return text.find(word)


def _rebase(command: SimpleCommand, line_offset: int, offset: int) -> SimpleCommand:
    return SimpleCommand(
        words=command.words,
        operator=command.operator,
        text=command.text,
        line_offset=line_offset,
        piped_from=command.piped_from,
        offset=offset,
        in_substitution=command.in_substitution,
    )


# ------------------------------------------------------------------ words and variables


def _split_words(value: str) -> list[str]:
    if not any(c in value for c in "\\'\""):
        return value.split()  # the common case, and shlex is slow
    import shlex

    for suffix in ("", '"', "'"):
        try:
            return shlex.split(value + suffix, comments=False, posix=True)
        except ValueError:
            continue
    return value.split()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _expand(
    text: str,
    scope: Mapping[str, str | None],
    build_args: Mapping[str, str],
    escape: str,
    depth: int,
) -> str | None:
    if "$" not in text:
        return text
    if depth > _RESOLVE_DEPTH:
        return None
    out: list[str] = []
    position = 0
    while position < len(text):
        dollar = text.find("$", position)
        if dollar < 0:
            out.append(text[position:])
            break
        if dollar > 0 and text[dollar - 1] == escape:
            out.append(text[position : dollar - 1] + "$")
            position = dollar + 1
            continue
        out.append(text[position:dollar])
        match = _VARIABLE.match(text, dollar)
        if not match:
            if text.startswith("${", dollar):
                return None  # ${var#pattern} and friends: not worth guessing
            out.append("$")
            position = dollar + 1
            continue
        name = match.group("braced") or match.group("plain")
        raw = build_args.get(name, scope.get(name))
        current = None if raw is None else _expand(raw, scope, build_args, escape, depth + 1)
        operator = match.group("op")
        if operator is None and match.group("braced") and match.group("word"):
            return None  # ${var#pat}, ${var/a/b}, …
        if operator is None:
            if current is None:
                return None
            out.append(current)
        elif operator in (":-", "-"):
            use_default = current is None or (operator == ":-" and current == "")
            if use_default:
                default = _expand(match.group("word"), scope, build_args, escape, depth + 1)
                if default is None:
                    return None
                out.append(default)
            else:
                out.append(current or "")
        else:  # ":+" / "+"
            if current is None:
                continue_with = ""  # unset: the alternative is not used
            else:
                empty = operator == ":+" and current == ""
                continue_with = "" if empty else match.group("word")
            alternative = _expand(continue_with, scope, build_args, escape, depth + 1)
            if alternative is None:
                return None
            out.append(alternative)
        position = match.end()
    return "".join(out)
