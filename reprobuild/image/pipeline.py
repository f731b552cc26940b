"""From project inputs to an image ID: generate-or-take the Dockerfile -> lint (errors
stop) -> fetch the lock's wheels -> deterministic context -> build (network none) ->
normalize -> outcome. Tagging, pushing and the record are the caller's (``reprobuild
image``); ``reprobuild verify`` calls this with ``nocache=True`` and the recorded inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild import __version__
from reprobuild.config import ProjectConfig
from reprobuild.engine.errors import UnsupportedDockerfileError
from reprobuild.errors import ConfigError, ReprobuildError
from reprobuild.fetch.project import FETCHED_DIRS
from reprobuild.image.record import BaseImageRecord, LintSummary, LockRecord, public_build_args

if TYPE_CHECKING:
    from reprobuild.engine import Engine
    from reprobuild.generate.config import ImageConfig
    from reprobuild.lint.engine import LintResult
    from reprobuild.lint.rule import Severity
    from reprobuild.models import Lock

__all__ = [
    "BuildOutcome",
    "LintFailedError",
    "build_from_inputs",
    "buildkit_reasons",
    "frontend_gaps",
    "ruleset_version",
]

Progress = Callable[[str], None]
WHEELS_IN_CONTEXT = ".reprobuild/wheels"
EXTERNAL_DOCKERFILE = ".reprobuild/Dockerfile.external"
RECORD_EXCLUDES = ("reprobuild-record.json",)
_BUILDKIT_ONLY = (
    (re.compile(r"^\s*#\s*syntax\s*=", re.I | re.M), "a `# syntax=` directive"),
    (re.compile(r"^\s*(RUN|COPY|ADD)\b[^\n]*\s<<-?[\"']?[A-Za-z_]\w*", re.I | re.M),
     "a heredoc"),
    (re.compile(r"^\s*ADD\b[^\n]*--checksum", re.I | re.M), "`ADD --checksum`"),
    (re.compile(r"^\s*RUN\b[^\n]*--(mount|network|security)\b", re.I | re.M),
     "`RUN --mount/--network/--security`"),
    (re.compile(r"^\s*(COPY|ADD)\b[^\n]*--(chmod|link|parents|exclude)\b", re.I | re.M),
     "`COPY --chmod/--link`"),
)


# Instructions newer than the dockerfile frontend an engine has built in (20.10 embeds
# BuildKit 0.8 / dockerfile 1.2); `# syntax=` would fetch a newer frontend image instead.
_FRONTEND_MIN_ENGINE = (
    ("a heredoc", 23),  # dockerfile 1.4 (BuildKit 0.10, Docker 23)
    ("`ADD --checksum`", 25),  # dockerfile 1.6 [unverified which engine first embeds it]
)


class LintFailedError(ReprobuildError):
    """Lint found errors in the inputs: the build does not start (exit 1)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    image_id: str
    raw_image_id: str
    """What the builder produced, before normalization (== image_id when not normalized)."""
    diff_ids: tuple[str, ...]
    normalized: bool
    base_images: tuple[BaseImageRecord, ...]
    dockerfile: str
    dockerfile_sha256: str
    dockerfile_generated: bool
    config: str | None
    config_sha256: str | None
    locks: tuple[LockRecord, ...]
    lint: LintSummary
    build_args: dict[str, str]
    """The non-secret build args as passed, SOURCE_DATE_EPOCH included."""
    source_date_epoch: int
    context_sha256: str
    builder: str
    seconds: float
    wheels: int


def ruleset_version() -> str:
    """The tool version plus a digest of the rule codes: which rules judged the inputs."""
    from reprobuild.lint.rules import all_rules

    codes = ",".join(sorted(rule.code for rule in all_rules()))
    return f"{__version__}+{hashlib.sha256(codes.encode()).hexdigest()[:12]}"


def buildkit_reasons(dockerfile_text: str) -> list[str]:
    """Features of ``dockerfile_text`` the legacy builder cannot build."""
    return [why for pattern, why in _BUILDKIT_ONLY if pattern.search(dockerfile_text)]


def frontend_gaps(reasons: list[str], engine_version: str) -> list[str]:
    """The BuildKit-only features the engine's built-in Dockerfile frontend cannot parse
    (none when the Dockerfile names its frontend with ``# syntax=``)."""
    if "a `# syntax=` directive" in reasons:
        return []
    match = re.match(r"(\d+)\.", engine_version)
    major = int(match.group(1)) if match else 0
    return [why for why, minimum in _FRONTEND_MIN_ENGINE if why in reasons and major < minimum]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _image_settings(config: ProjectConfig, base_image: str | None) -> ImageConfig | None:
    """The generator's settings, or None when the project has no lockfile (``-f`` only)."""
    from reprobuild.generate.config import image_config_from

    try:
        settings = image_config_from(config)
    except ConfigError as exc:
        if "no lockfile" in str(exc):
            return None
        raise
    return replace(settings, base_image=base_image) if base_image else settings


def build_from_inputs(
    project_root: Path,
    *,
    config: ProjectConfig,
    dockerfile: Path | None,
    build_args: Mapping[str, str],
    source_date_epoch: int,
    nocache: bool,
    engine: Engine,
    progress: Progress,
    base_image: str | None = None,
    cache_dir: Path | None = None,
    network_mode: str = "none",
    write_generated: bool = True,
    normalize: bool = True,
) -> BuildOutcome:
    """Build the project's image. ``dockerfile=None`` generates it from the lock (written
    into the project when ``write_generated``); a path takes that Dockerfile as is."""
    from reprobuild.generate.generator import REQUIREMENTS_PATH, generate
    from reprobuild.generate.pins import PinFile
    from reprobuild.lockfiles import read_lock

    started = time.monotonic()
    root = project_root.resolve()
    settings = _image_settings(config, base_image)
    if dockerfile is None and settings is None:
        raise ConfigError(
            f"no lockfile in {root} to generate a Dockerfile from; set [tool.reprobuild] "
            "lockfile or pass -f DOCKERFILE"
        )
    lock = read_lock(settings.lockfile) if settings is not None else None
    extras: dict[str, Path | bytes] = {}
    generated = dockerfile is None
    with tempfile.TemporaryDirectory(prefix="reprobuild-image-") as tmp:
        scratch = Path(tmp)
        if generated:
            assert settings is not None and lock is not None
            pins = PinFile.load(root / settings.pins_file)
            files = generate(settings, lock, pins)
            text = files.dockerfile
            dockerfile_path = root / settings.dockerfile
            if write_generated:
                _write_if_changed(dockerfile_path, files.dockerfile)
                _write_if_changed(root / REQUIREMENTS_PATH, files.requirements)
                lint_target = dockerfile_path
            else:
                lint_target = scratch / "Dockerfile"
                lint_target.write_text(files.dockerfile, encoding="utf-8")
            context_dockerfile = settings.dockerfile.as_posix()
            extras[context_dockerfile] = files.dockerfile.encode()
            extras[REQUIREMENTS_PATH.as_posix()] = files.requirements.encode()
        else:
            assert dockerfile is not None
            dockerfile_path = dockerfile.resolve()
            try:
                text = dockerfile_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{dockerfile}: cannot read the Dockerfile: {exc}") from None
            lint_target = dockerfile_path
            inside = _relative(dockerfile_path, root)
            if inside.startswith("/"):
                context_dockerfile = EXTERNAL_DOCKERFILE
                extras[context_dockerfile] = text.encode()
            else:
                context_dockerfile = inside

        all_args = {**dict(build_args), "SOURCE_DATE_EPOCH": str(source_date_epoch)}
        lint = _lint(config, lint_target, settings, all_args)  # errors stop here

        reasons = buildkit_reasons(text)
        if reasons and engine.info().buildkit_cli is None:
            raise UnsupportedDockerfileError(
                f"{_relative(dockerfile_path, root)} uses {', '.join(reasons)}, which only "
                "BuildKit builds; no BuildKit-capable docker CLI was found (set "
                "REPROBUILD_DOCKER_CLI, or rewrite those instructions)"
            )
        gaps = frontend_gaps(reasons, engine.info().version) if reasons else []
        if gaps:
            raise UnsupportedDockerfileError(
                f"{_relative(dockerfile_path, root)} uses {', '.join(gaps)}, which the "
                f"Dockerfile frontend built into engine {engine.info().version} cannot parse; "
                "add a `# syntax=docker/dockerfile:1.7@sha256:…` line (pulled through your "
                "registry) or rewrite those instructions"
            )

        wheels = 0
        if lock is not None and settings is not None:
            # Fetched inputs go to a scratch tree and into the context from there: the
            # project's own .reprobuild/ fetch dirs are excluded, the project stays clean.
            fetched = scratch / "fetched"
            _fetch(settings, lock, fetched, cache_dir, progress)
            for path in sorted(p for p in fetched.rglob("*") if p.is_file()):
                name = path.relative_to(fetched).as_posix()
                extras[name] = path
                wheels += name.startswith(f"{WHEELS_IN_CONTEXT}/")

        from reprobuild.image.context import build_context

        context = build_context(
            root,
            source_date_epoch=source_date_epoch,
            dockerfile=context_dockerfile,
            extra_files=extras,
            extra_excludes=(*FETCHED_DIRS, *RECORD_EXCLUDES),
        )
        try:
            builder = "buildkit" if reasons else "legacy"
            progress(f"building {_relative(dockerfile_path, root)} with the {builder} builder "
                     f"(context {context.size} bytes, {context.entries} entries, "
                     f"network {network_mode})")
            if reasons:
                raw_id = engine.build_with_cli(
                    context.file, dockerfile=context_dockerfile, buildargs=all_args,
                    network_mode=network_mode, nocache=nocache, progress=progress,
                )
            else:
                raw_id = engine.build(
                    context.file, dockerfile=context_dockerfile, buildargs=all_args,
                    network_mode=network_mode, nocache=nocache, progress=progress,
                )
        finally:
            context.close()

    progress(f"built {raw_id} in {time.monotonic() - started:.1f} s")
    bases = _base_images(dockerfile_path, text, all_args, engine)
    normalize_started = time.monotonic()
    image_id, diff_ids, normalized = _normalize(
        engine, raw_id, bases, source_date_epoch, enabled=normalize, progress=progress
    )
    if normalized:
        progress(f"normalized to {image_id} in {time.monotonic() - normalize_started:.1f} s")
    config_bytes = config.path.read_bytes() if config.path is not None else None
    locks: tuple[LockRecord, ...] = ()
    if lock is not None:
        locks = (LockRecord(path=_relative(lock.path, root), format=lock.format.value,
                            sha256=lock.sha256),)
    return BuildOutcome(
        image_id=image_id,
        raw_image_id=raw_id,
        diff_ids=diff_ids,
        normalized=normalized,
        base_images=bases,
        dockerfile=_relative(dockerfile_path, root),
        dockerfile_sha256=_sha256(text.encode()),
        dockerfile_generated=generated,
        config=_relative(config.path, root) if config.path is not None else None,
        config_sha256=_sha256(config_bytes) if config_bytes is not None else None,
        locks=locks,
        lint=lint,
        build_args=public_build_args(all_args),
        source_date_epoch=source_date_epoch,
        context_sha256=context.sha256,
        builder=builder,
        seconds=round(time.monotonic() - started, 2),
        wheels=wheels,
    )


def _write_if_changed(path: Path, text: str) -> None:
    from reprobuild.fsutil import atomic_write_text

    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def _lint(
    config: ProjectConfig,
    dockerfile: Path,
    settings: ImageConfig | None,
    build_args: Mapping[str, str],
) -> LintSummary:
    from reprobuild.lint.config import lint_config_from
    from reprobuild.lint.engine import lint_paths
    from reprobuild.lint.rules import all_rules

    rules = all_rules()
    lint_settings = lint_config_from(config, frozenset(r.code for r in rules))
    paths = [dockerfile]
    if settings is not None:
        paths.append(settings.lockfile)
    result = lint_paths(paths, config=lint_settings, rules=rules, build_args=dict(build_args))
    if result.errors:
        raise result.errors[0]
    if result.fails(lint_settings.fail_on):
        raise LintFailedError(_lint_message(result, lint_settings.fail_on))
    return LintSummary(ruleset=ruleset_version(), counts=result.counts(), files=len(result.files))


def _lint_message(result: LintResult, fail_on: Severity) -> str:
    counts = ", ".join(f"{n} {label}" for label, n in result.counts().items() if n)
    first = next((f for f in result.findings if f.severity >= fail_on), None)
    where = (
        f"; first: {first.path}:{first.line or 1}: {first.code} {first.message}" if first else ""
    )
    return f"lint found {counts} (fail-on {fail_on.label}); the build did not start{where}"


def _fetch(
    settings: ImageConfig, lock: Lock, root: Path, cache_dir: Path | None, progress: Progress
) -> None:
    from reprobuild.fetch.cache import BlobCache, default_cache_dir
    from reprobuild.fetch.project import fetch_project
    from reprobuild.generate.pins import PinFile

    fetch_project(
        settings,
        lock,
        PinFile.load(settings.root / settings.pins_file),
        root=root,
        cache=BlobCache(cache_dir or default_cache_dir()),
        say=progress,
    )


def _base_images(
    dockerfile: Path, text: str, build_args: Mapping[str, str], engine: Engine
) -> tuple[BaseImageRecord, ...]:
    from reprobuild.dockerfile import parse_dockerfile
    from reprobuild.dockerfile.images import image_uses, is_scratch

    seen: dict[str, BaseImageRecord] = {}
    for use in image_uses(parse_dockerfile(dockerfile, text), dict(build_args)):
        if use.kind != "FROM" or use.stage_reference or use.resolved is None:
            continue
        reference = use.resolved
        if reference in seen or is_scratch(reference):
            continue
        digest = reference.split("@", 1)[1] if "@" in reference else None
        seen[reference] = BaseImageRecord(
            reference=reference, digest=digest, image_id=engine.image_id(reference)
        )
    return tuple(seen.values())


def _normalize(
    engine: Engine,
    raw_id: str,
    bases: tuple[BaseImageRecord, ...],
    source_date_epoch: int,
    *,
    enabled: bool,
    progress: Progress,
) -> tuple[str, tuple[str, ...], bool]:
    normalizer: Callable[..., Any] | None = None
    if enabled:
        try:
            from reprobuild.image.normalize import normalize_image  # helper "reproducible"

            normalizer = normalize_image
        except ImportError:
            progress("normalization is not available in this version; recording the raw image")
    if normalizer is None:
        layers = engine.inspect(raw_id).get("RootFS", {}).get("Layers") or []
        return raw_id, tuple(str(d) for d in layers), False
    base_id = bases[-1].image_id if bases else None
    result = normalizer(
        engine, raw_id, base_image_id=base_id, source_date_epoch=source_date_epoch
    )
    if result.image_id != raw_id:
        with contextlib.suppress(ReprobuildError):  # still referenced: harmless to keep
            engine.remove(raw_id)
    return result.image_id, tuple(result.diff_ids), True
