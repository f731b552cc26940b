"""``reprobuild pin``: pin the images a Dockerfile pulls to ``name:tag@sha256:…``.

The sites are those a build pulls: ``FROM``, the default of a global ``ARG`` that a
``FROM`` consists of (``ARG BASE=python:3.11`` / ``FROM ${BASE}``), ``COPY --from=`` and
``RUN --mount=…,from=``. Each edit replaces exactly the characters of the reference in
the file text, so formatting, comments and line endings stay as they were. Stage
aliases, stage indexes and ``scratch`` are not images and are left alone.

Three modes: ``write`` pins unpinned references (already pinned ones are not looked
up), ``update`` also moves pins whose tag now points elsewhere, ``check`` changes
nothing and reports unpinned references and drift.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from reprobuild.dockerfile import Dockerfile, Instruction, parse_dockerfile
from reprobuild.dockerfile.images import image_uses, is_scratch
from reprobuild.errors import LockParseError, ReprobuildError
from reprobuild.fsutil import atomic_write_bytes
from reprobuild.registry.errors import InvalidReferenceError, RegistryError
from reprobuild.registry.reference import ImageRef, parse_reference

if TYPE_CHECKING:
    from reprobuild.config import ProjectConfig
    from reprobuild.lint.rule import Finding
    from reprobuild.registry.client import RegistryClient, Resolved

__all__ = [
    "FIXABLE_CODES",
    "FilePlan",
    "PinMode",
    "PinReport",
    "PinResult",
    "PinSite",
    "PinStatus",
    "find_sites",
    "fix_lint_findings",
    "pin_files",
]

_VARIABLE_ONLY = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


class PinMode(StrEnum):
    WRITE = "write"
    UPDATE = "update"
    CHECK = "check"


class PinStatus(StrEnum):
    PINNED = "pinned"
    """Was unpinned; a digest was written (or would be, under --check: see UNPINNED)."""
    UPDATED = "updated"
    """The pin moved to the tag's current digest."""
    UP_TO_DATE = "up-to-date"
    """Pinned, and the tag still points at the pinned digest (or was not looked up)."""
    DIGEST_ONLY = "digest-only"
    """``name@sha256:…`` without a tag: nothing can drift."""
    UNPINNED = "unpinned"
    DRIFT = "drift"
    UNPINNABLE = "unpinnable"
    """Built from variables (``python:${PY}``): no single place in the file to edit."""

    @property
    def is_problem(self) -> bool:
        return self in (PinStatus.UNPINNED, PinStatus.DRIFT, PinStatus.UNPINNABLE)


@dataclass(frozen=True, slots=True)
class PinSite:
    """One reference in a file: where its text is and what it names."""

    path: Path
    line: int
    kind: str
    """``FROM``, ``ARG``, ``COPY --from`` or ``RUN --mount from``."""
    text: str
    """The reference as written (for ``ARG``: the default's value)."""
    start: int
    end: int
    """Character span of ``text`` in the file's text."""
    ref: ImageRef | None
    """None when the reference is built from variables."""
    reason: str = ""

    @property
    def has_tag(self) -> bool:
        return self.ref is not None and self.ref.tag is not None

    def pinned_text(self, digest: str) -> str:
        """The written text with ``digest``: the tag kept, ``:latest`` made explicit."""
        assert self.ref is not None
        name = self.text.split("@", 1)[0]
        if self.ref.tag is None and self.ref.digest is None:
            name += ":latest"  # make the tag explicit so --check can detect drift later
        return f"{name}@{digest}"


@dataclass(frozen=True, slots=True)
class PinResult:
    site: PinSite
    status: PinStatus
    pinned_digest: str | None
    current_digest: str | None
    new_text: str | None = None
    """The replacement written (or to be written) for the site's span."""

    def describe(self) -> str:
        where = f"{self.site.path}:{self.site.line}"
        name = self.site.text
        match self.status:
            case PinStatus.PINNED:
                return f"{where}: pinned {name} -> {self.new_text}"
            case PinStatus.UPDATED:
                return (
                    f"{where}: updated {name.split('@', 1)[0]}: "
                    f"{self.pinned_digest} -> {self.current_digest}"
                )
            case PinStatus.UNPINNED:
                now = f" (now {self.current_digest})" if self.current_digest else ""
                return f"{where}: {self.site.kind} {name} is not pinned by digest{now}"
            case PinStatus.DRIFT:
                return (
                    f"{where}: drift {name.split('@', 1)[0]}: pinned {self.pinned_digest}, "
                    f"the tag now resolves to {self.current_digest}"
                )
            case PinStatus.UNPINNABLE:
                return f"{where}: cannot pin {name}: {self.site.reason}"
            case _:
                return f"{where}: {name}: {self.status.value}"

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.site.path),
            "line": self.site.line,
            "kind": self.site.kind,
            "reference": self.site.text,
            "canonical": self.site.ref.canonical if self.site.ref else None,
            "status": self.status.value,
            "pinned_digest": self.pinned_digest,
            "current_digest": self.current_digest,
            "new_reference": self.new_text,
        }


@dataclass(frozen=True, slots=True)
class FilePlan:
    path: Path
    raw: bytes
    text: str
    sites: tuple[PinSite, ...]


@dataclass(frozen=True, slots=True)
class PinReport:
    mode: PinMode
    results: tuple[PinResult, ...]
    changed_files: tuple[Path, ...]

    @property
    def problems(self) -> tuple[PinResult, ...]:
        return tuple(r for r in self.results if r.status.is_problem)

    @property
    def exit_code(self) -> int:
        return 1 if self.mode is PinMode.CHECK and self.problems else 0

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "results": [r.to_json() for r in self.results],
            "changed_files": [str(p) for p in self.changed_files],
            "problems": len(self.problems),
        }


# ----------------------------------------------------------------------- finding


def find_sites(dockerfile: Dockerfile, build_args: Mapping[str, str]) -> list[PinSite]:
    """The image references of a parsed Dockerfile, with their spans in its text."""
    offsets = _line_offsets(dockerfile.text)
    sites: dict[tuple[int, int], PinSite] = {}
    args = dict(build_args)
    for use in image_uses(dockerfile, args):
        if use.stage_reference or is_scratch(use.resolved or use.written):
            continue
        instruction = use.instruction
        if "$" in use.written:
            site = _variable_site(dockerfile, offsets, use.kind, use.written, instruction, args)
            if site is None:
                continue
        else:
            start = _find_span(dockerfile.text, offsets, instruction, use.kind, use.written)
            line = dockerfile.text.count("\n", 0, start) + 1 if start >= 0 else use.line
            if start < 0:
                site = PinSite(
                    dockerfile.path,
                    line,
                    use.kind,
                    use.written,
                    -1,
                    -1,
                    None,
                    "its text could not be located in the file",
                )
            else:
                site = PinSite(
                    dockerfile.path,
                    line,
                    use.kind,
                    use.written,
                    start,
                    start + len(use.written),
                    _parse(dockerfile, line, use.written),
                )
        sites.setdefault((site.start, site.end) if site.start >= 0 else (-site.line, 0), site)
    return sorted(sites.values(), key=lambda s: (s.line, s.start))


def _variable_site(
    dockerfile: Dockerfile,
    offsets: list[int],
    kind: str,
    written: str,
    instruction: Instruction,
    build_args: Mapping[str, str],
) -> PinSite | None:
    """A FROM that is exactly ``$NAME`` pins the global ARG's default; else unpinnable."""
    line = instruction.line_of(written)
    match = _VARIABLE_ONLY.fullmatch(written)
    name = (match.group(1) or match.group(2)) if match else None
    if kind == "FROM" and name and name not in build_args:
        default = dockerfile.global_args.get(name)
        arg = _global_arg_instruction(dockerfile, name)
        if default and arg is not None and "$" not in default:
            if is_scratch(default):
                return None
            start = _find_arg_default(dockerfile.text, offsets, arg, name, default)
            if start >= 0:
                arg_line = dockerfile.text.count("\n", 0, start) + 1
                return PinSite(
                    dockerfile.path,
                    arg_line,
                    "ARG",
                    default,
                    start,
                    start + len(default),
                    _parse(dockerfile, arg_line, default),
                )
    resolved = dockerfile.resolve(written, build_args)
    if resolved is not None and "@" in resolved:
        return None  # pinned through its variables; nothing here to edit or to miss
    why = (
        "it is built from variables; make it `${NAME}` with `ARG NAME=<image>:<tag>` "
        "before the first FROM, or pin the pieces by hand"
    )
    return PinSite(dockerfile.path, line, kind, written, -1, -1, None, why)


def _parse(dockerfile: Dockerfile, line: int, text: str) -> ImageRef:
    try:
        return parse_reference(text)
    except InvalidReferenceError as exc:
        raise LockParseError(dockerfile.path, str(exc), line=line) from None


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _segment(offsets: list[int], instruction: Instruction) -> tuple[int, int]:
    first = min(instruction.start_line, len(offsets) - 1) - 1
    last = min(instruction.end_line, len(offsets) - 1)
    return offsets[max(first, 0)], offsets[last]


# The reference as a whole word: after whitespace (FROM) or `from=` (flags, mounts).
_BOUNDARY_AFTER = r"(?=$|[\s,\"'\\])"


def _find_span(
    text: str, offsets: list[int], instruction: Instruction, kind: str, written: str
) -> int:
    begin, end = _segment(offsets, instruction)
    from_flag = r"(?i:(?<=from=)|(?<=from=\")|(?<=from=\'))"
    before = r"(?<=\s)" if kind == "FROM" else from_flag
    pattern = re.compile(before + re.escape(written) + _BOUNDARY_AFTER)
    match = pattern.search(text, begin, end)
    return match.start() if match else -1


def _global_arg_instruction(dockerfile: Dockerfile, name: str) -> Instruction | None:
    found = None
    for instruction in dockerfile.instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and re.search(
            rf"(?:^|\s){re.escape(name)}=", instruction.value
        ):
            found = instruction  # the last declaration wins, as in BuildKit
    return found


def _find_arg_default(
    text: str, offsets: list[int], instruction: Instruction, name: str, default: str
) -> int:
    begin, end = _segment(offsets, instruction)
    pattern = re.compile(
        rf"(?<![\w]){re.escape(name)}=([\"']?){re.escape(default)}\1" + _BOUNDARY_AFTER
    )
    match = pattern.search(text, begin, end)
    return match.start() + len(name) + 1 + len(match.group(1)) if match else -1


# --------------------------------------------------------------------------- pinning


def plan_file(path: Path, build_args: Mapping[str, str]) -> FilePlan:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReprobuildError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LockParseError(path, "not UTF-8 text") from None
    dockerfile = parse_dockerfile(path, text)
    return FilePlan(path, raw, text, tuple(find_sites(dockerfile, build_args)))


def pin_files(
    paths: Sequence[Path],
    client: RegistryClient,
    *,
    mode: PinMode = PinMode.WRITE,
    build_args: Mapping[str, str] | None = None,
) -> PinReport:
    """Plan every file, resolve the tags that need it (concurrently, once each), then
    write the edited files atomically (not under CHECK)."""
    plans = [plan_file(Path(p), build_args or {}) for p in paths]
    lookups: dict[ImageRef, PinSite] = {}
    for plan in plans:
        for site in plan.sites:
            if site.ref is not None and _needs_lookup(site.ref, mode):
                lookups.setdefault(_tag_ref(site.ref), site)
    keys = list(lookups)
    answers = client.resolve_many(keys)
    current: dict[ImageRef, str] = {}
    for key, answer in zip(keys, answers, strict=True):
        if isinstance(answer, RegistryError):
            site = lookups[key]
            raise _located(answer, site)
        current[key] = _digest_of(answer)

    results: list[PinResult] = []
    changed: list[Path] = []
    for plan in plans:
        edits: list[tuple[int, int, str]] = []
        for site in plan.sites:
            result = _judge(site, mode, current)
            results.append(result)
            writes = result.status in (PinStatus.PINNED, PinStatus.UPDATED)
            if mode is not PinMode.CHECK and writes and result.new_text is not None:
                edits.append((site.start, site.end, result.new_text))
        if edits:
            _write(plan, edits)
            changed.append(plan.path)
    return PinReport(mode=mode, results=tuple(results), changed_files=tuple(changed))


def _needs_lookup(ref: ImageRef, mode: PinMode) -> bool:
    if ref.digest is None:
        return True
    return mode is not PinMode.WRITE and ref.tag is not None


def _tag_ref(ref: ImageRef) -> ImageRef:
    return replace(ref, digest=None, tag=ref.tag or "latest")


def _digest_of(answer: Resolved) -> str:
    return answer.digest


def _judge(site: PinSite, mode: PinMode, current: Mapping[ImageRef, str]) -> PinResult:
    ref = site.ref
    if ref is None:
        return PinResult(site, PinStatus.UNPINNABLE, None, None)
    if ref.digest is not None and ref.tag is None:
        return PinResult(site, PinStatus.DIGEST_ONLY, ref.digest, None)
    now = current.get(_tag_ref(ref))
    if ref.digest is None:
        assert now is not None
        new_text = site.pinned_text(now)
        status = PinStatus.UNPINNED if mode is PinMode.CHECK else PinStatus.PINNED
        return PinResult(site, status, None, now, new_text)
    if now is None or now == ref.digest:
        return PinResult(site, PinStatus.UP_TO_DATE, ref.digest, now)
    new_text = site.pinned_text(now)
    status = PinStatus.UPDATED if mode is PinMode.UPDATE else PinStatus.DRIFT
    return PinResult(site, status, ref.digest, now, new_text)


def _located(error: RegistryError, site: PinSite) -> RegistryError:
    """The same error class, its subject prefixed with the file and line."""
    located = type(error)(
        f"{site.path}:{site.line}: {error.subject}",
        error.problem,
        code=error.code,
        status=error.status,
    )
    return located


def _write(plan: FilePlan, edits: Iterable[tuple[int, int, str]]) -> None:
    text = plan.text
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    try:
        mode = stat.S_IMODE(plan.path.stat().st_mode)
    except OSError:
        mode = 0o644
    atomic_write_bytes(plan.path, text.encode("utf-8"), mode=mode)


# ------------------------------------------------------------------- lint --fix

FIXABLE_CODES = frozenset({"RB201", "RB204"})


def fix_lint_findings(
    findings: Iterable[Finding],
    project: ProjectConfig,
    *,
    build_args: Mapping[str, str] | None = None,
) -> PinReport | None:
    """``reprobuild lint --fix``: pin the files with unpinned-image findings (RB201,
    RB204), exactly as ``reprobuild pin`` would. None when there is nothing to fix."""
    paths = sorted({f.path for f in findings if f.code in FIXABLE_CODES})
    if not paths:
        return None
    from reprobuild.registry.client import RegistryClient

    with RegistryClient.from_project(project) as client:
        return pin_files(paths, client, mode=PinMode.WRITE, build_args=build_args)
