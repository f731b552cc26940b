"""Split a RUN script into simple commands, well enough for lint rules.

This is not a shell parser. It finds the command boundaries a linter cares about
(``&&`` ``||`` ``;`` ``|`` ``&`` and newlines) outside quotes, ``$( )`` and backticks,
then turns each command into words with :func:`shlex.split`. Commands inside ``$( )``
and backticks are returned as extra commands. It never raises: unbalanced quotes fall
back to a looser split. The boundary scan is hand-written because :mod:`shlex` reports
no positions, and findings must point at the physical line of a command.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

__all__ = ["SHELLS", "SimpleCommand", "program", "split_commands"]

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
"""Programs that run their stdin or heredoc as a shell script."""

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"^(?:\d*|&)(?:>>|>\||>&|<<<|<<-?|<>|<&|>|<)")
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
     "(", ")", "esac", "in"}
)
_LEADING_RESERVED = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{"})
_NEEDS_SHLEX = re.compile(r"[\\'\"]")
# Characters that can change the scanner's state; everything else is skipped in bulk.
_SPECIAL = re.compile(r"[\\'\"`$()#&|;\n]")
_SPECIAL_CHARS = frozenset("\\'\"`$()#&|;\n")
_OPERATOR_NAMES = {"\n": ";", ";;": ";", "|&": "|"}
_TRAILING_ONLY = frozenset({"fi", "done", "esac", "}", ")", ";;"})
# Wrappers that run their arguments as a command: (name, options that take a value).
_WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "--user",
                       "--group"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S"}),
    "exec": frozenset({"-a"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "nohup": frozenset(),
    "command": frozenset(),
    "xargs": frozenset({"-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a", "--delimiter",
                        "--max-args", "--max-procs", "--arg-file"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "chroot": frozenset(),
}


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command of a script (``a | b && c`` has three)."""

    words: tuple[str, ...]
    """After quote removal; assignments, wrappers and redirections are still there."""
    operator: str
    """The operator that follows it: ``&&``, ``||``, ``;``, ``|``, ``&`` or ``""`` (last)."""
    text: str
    """The raw text of this command."""
    line_offset: int
    """0-based line offset of the command's start inside the script text."""
    piped_from: bool = False
    """True when the previous command's operator is ``|`` (this one reads its output)."""
    offset: int = 0
    """Character offset of the command's start inside the script text."""
    in_substitution: bool = False
    """True for a command found inside ``$( )`` or backticks."""
    _argv: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def argv(self) -> tuple[str, ...]:
        """Words without leading ``VAR=val``, wrappers (sudo, env, exec, …) and redirections."""
        if self._argv is None:
            # Computed once: every rule asks for it. (A frozen dataclass, hence __setattr__.)
            object.__setattr__(self, "_argv", _strip_wrappers(_strip_redirections(self.words)))
        assert self._argv is not None
        return self._argv


def program(argv: tuple[str, ...]) -> str:
    """Basename of ``argv[0]`` (``/usr/bin/pip3`` -> ``pip3``); ``""`` for an empty argv."""
    if not argv:
        return ""
    return argv[0].rstrip("/").rsplit("/", 1)[-1]


def split_commands(script: str) -> list[SimpleCommand]:
    """The simple commands of ``script`` in execution order (substitutions first)."""
    return _split(script, 0, 0, in_substitution=False)


def _split(script: str, base: int, base_line: int, *, in_substitution: bool) -> list[SimpleCommand]:
    # Backslash-newline is a continuation; blanking it keeps offsets (lines are counted
    # in the original script).
    work = script.replace("\\\n", "  ")
    segments, substitutions, comments, arithmetic = _scan(work)
    for start, end in comments:
        work = work[:start] + " " * (end - start) + work[end:]
    commands: list[SimpleCommand] = []
    previous_operator = ""
    for start, end, operator in segments:
        inside = [(a, b) for a, b in substitutions if start <= a and b <= end]
        for sub_start, sub_end in inside:
            if any(a < sub_start and sub_end < b for a, b in inside):
                continue  # nested deeper: the enclosing substitution's split finds it
            commands.extend(
                _split(script[sub_start:sub_end], base + sub_start,
                       base_line + script.count("\n", 0, sub_start), in_substitution=True)
            )
        raw = work[start:end]
        text = raw.strip()
        if not text:
            continue
        offset = start + (len(raw) - len(raw.lstrip()))
        opaque = [
            (a - offset, b - offset)
            for a, b in [*inside, *arithmetic]
            if offset <= a and b <= offset + len(text)
        ]
        words = _clean_words(_words(text, opaque))
        if not words:
            continue
        commands.append(
            SimpleCommand(
                words=words,
                operator=operator,
                text=script[offset : offset + len(text)],
                line_offset=base_line + script.count("\n", 0, offset),
                piped_from=previous_operator == "|",
                offset=base + offset,
                in_substitution=in_substitution,
            )
        )
        previous_operator = operator
    return commands


def _scan(
    s: str,
) -> tuple[
    list[tuple[int, int, str]], list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]
]:
    """Top-level command segments (start, end, operator), the spans inside ``$( )`` and
    backticks, comment spans, and the spans inside ``$(( ))``."""
    segments: list[tuple[int, int, str]] = []
    substitutions: list[tuple[int, int]] = []
    comments: list[tuple[int, int]] = []
    arithmetic: list[tuple[int, int]] = []
    # Stack of open contexts: "'", '"', "$(", "`", "(" (a plain paren), "$((".
    stack: list[tuple[str, int]] = []
    start = 0
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c not in _SPECIAL_CHARS:
            found = _SPECIAL.search(s, i)
            if not found:
                break
            i = found.start()
            c = s[i]
        top = stack[-1][0] if stack else ""
        if top == "'":
            if c == "'":
                stack.pop()
            i += 1
            continue
        if c == "\\":
            i += 2
            continue
        if top == "$((":
            if s.startswith("))", i):
                arithmetic_start = stack.pop()[1]
                if not stack or stack[-1][0] != "$((":
                    arithmetic.append((arithmetic_start, i))
                i += 2
            else:
                i += 1
            continue
        if top == '"':
            if c == '"':
                stack.pop()
            elif s.startswith("$((", i):
                stack.append(("$((", i + 3))
                i += 3
                continue
            elif s.startswith("$(", i):
                stack.append(("$(", i + 2))
                i += 2
                continue
            elif c == "`":
                stack.append(("`", i + 1))
            i += 1
            continue
        # A shell context: top level, "$(", "`" or "(".
        if c == "'" or c == '"':
            stack.append((c, i))
        elif c == "`":
            if top == "`":
                substitutions.append((stack.pop()[1], i))
            else:
                stack.append(("`", i + 1))
        elif s.startswith("$((", i):
            stack.append(("$((", i + 3))
            i += 3
            continue
        elif s.startswith("$(", i):
            stack.append(("$(", i + 2))
            i += 2
            continue
        elif c == "(":
            stack.append(("(", i))
        elif c == ")":
            if top == "$(":
                substitutions.append((stack.pop()[1], i))
            elif top == "(":
                stack.pop()
        elif c == "#" and (i == 0 or s[i - 1] in " \t\n;&|()"):
            newline = s.find("\n", i)
            end = n if newline < 0 else newline
            comments.append((i, end))
            i = end
            continue
        elif all(kind == "(" for kind, _ in stack):
            operator = _operator_at(s, i)
            if operator:
                segments.append((start, i, _OPERATOR_NAMES.get(operator, operator)))
                i += len(operator)
                start = i
                continue
        i += 1
    segments.append((start, n, ""))
    return segments, substitutions, comments, arithmetic


def _operator_at(s: str, i: int) -> str:
    c = s[i]
    if c == "\n":
        return "\n"
    if c in "&|;":
        pair = s[i : i + 2]
        if pair in ("&&", "||", ";;"):
            return pair
        if pair == "|&":
            return pair  # stdout-and-stderr pipe: recorded as "|"
        previous = s[i - 1] if i else ""
        if c == "&" and (previous in "<>" or pair == "&>"):
            return ""  # a redirection: 2>&1, &>file
        if c == "|" and previous == ">":
            return ""  # >| clobber redirection
        return c
    return ""


def _words(text: str, opaque: list[tuple[int, int]]) -> tuple[str, ...]:
    """Shell words of ``text``; the ``opaque`` spans (substitutions) stay inside one word."""
    saved: list[str] = []
    outermost = [
        (a, b)
        for a, b in opaque
        if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in opaque)
    ]
    if "\0" in text:
        outermost = []  # the placeholders below could clash
    for start, end in sorted(outermost, reverse=True):
        saved.insert(0, text[start:end])
        text = text[:start] + f"\0{len(outermost) - len(saved)}\0" + text[end:]
    words = _shlex_words(text)
    if saved:
        placeholder = re.compile("\0(\\d+)\0")
        words = tuple(placeholder.sub(lambda m: saved[int(m.group(1))], w) for w in words)
    return words


def _shlex_words(text: str) -> tuple[str, ...]:
    if not _NEEDS_SHLEX.search(text):
        return tuple(text.split())  # the common case, and shlex is slow
    for suffix in ("", '"', "'"):
        try:
            return tuple(shlex.split(text + suffix, comments=False, posix=True))
        except ValueError:
            continue
    return tuple(text.split())


def _clean_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """Drop shell grammar around the command: ``if``/``then``/``(``/``{`` … ``fi``/``)``."""
    out = list(words)
    while out and (out[0] in _LEADING_RESERVED or out[0].startswith("(")):
        if out[0].startswith("(") and out[0] != "(":
            out[0] = out[0].lstrip("(")
            break
        out.pop(0)
    while out and out[-1] in _TRAILING_ONLY:
        out.pop()
    if out and out[-1].endswith(")") and not out[-1].endswith("$()"):
        text = " ".join(out)
        if text.count(")") > text.count("("):
            out[-1] = out[-1][:-1]
            if not out[-1]:
                out.pop()
    if len(out) == 1 and out[0] in _RESERVED:
        return ()
    return tuple(out)


def _strip_redirections(words: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        match = _REDIRECT.match(word)
        if match:
            skip_next = match.end() == len(word)  # "> file": the target is the next word
            continue
        out.append(word)
    return tuple(out)


def _strip_wrappers(words: tuple[str, ...]) -> tuple[str, ...]:
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        if _ASSIGNMENT.match(word):
            i += 1
            continue
        name = program((word,))
        takes_value = _WRAPPERS.get(name)
        if takes_value is None:
            break
        i += 1
        while i < n and words[i].startswith("-"):
            option = words[i]
            i += 1
            if option == "--":
                break
            if option in takes_value and i < n:
                i += 1
        if name == "env":
            while i < n and _ASSIGNMENT.match(words[i]):
                i += 1
        elif name == "timeout" and i < n:
            i += 1  # the duration
        elif name == "nice" and i < n and words[i].lstrip("-").isdigit():
            i += 1
    return words[i:]
