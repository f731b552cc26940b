"""`reprobuild verify`: rebuild from a record (or pull a registry image) and compare image
IDs; on a mismatch, name the layers, paths and config fields that differ.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprobuild.errors import ReprobuildError

if TYPE_CHECKING:
    from reprobuild.engine import Engine
    from reprobuild.image.diff import ImageDiff
    from reprobuild.image.record import BuildRecord
    from reprobuild.image.scan import BuildTimeFinding

__all__ = [
    "InputsDifferError",
    "Verdict",
    "check_inputs",
    "check_rebuild",
    "check_registry_image",
    "progress_printer",
    "project_root",
]

MAX_FINDINGS = 20


class InputsDifferError(ReprobuildError):
    """The checkout is not what the record was built from: a rebuild proves nothing."""


@dataclass
class Verdict:
    expected: str  # the record's image ID
    actual: str  # the rebuilt (or registry) image's ID
    source: str  # "rebuild" | "registry"
    reference: str | None = None
    diff: ImageDiff | None = None
    findings: list[BuildTimeFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def match(self) -> bool:
        return self.expected == self.actual

    def to_dict(self, record_path: Path) -> dict[str, Any]:
        return {
            "result": "match" if self.match else "mismatch",
            "record": str(record_path),
            "source": self.source,
            "reference": self.reference,
            "expected_image_id": self.expected,
            "actual_image_id": self.actual,
            "diff": self.diff.to_dict() if self.diff is not None else None,
            "build_time_findings": [
                {"layer": f.layer, "path": f.path, "kind": f.kind, "excerpt": f.excerpt}
                for f in self.findings
            ],
            "notes": self.notes,
        }

    def render(self) -> str:
        what = "registry image" if self.source == "registry" else "rebuilt image"
        if self.match:
            return f"reproduced: the {what} is {self.actual}, as recorded"
        lines = [f"MISMATCH: the {what} is {self.actual}; the record says {self.expected}"]
        if self.diff is not None:
            lines.append(self.diff.render())
        lines += [f"build time in the image: {f.render()}" for f in self.findings]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def project_root(record_path: Path, recorded: BuildRecord) -> Path:
    """The recorded project directory: the record's ``project`` when it is absolute, else
    the record's own directory, else ``project`` relative to the current directory —
    the first that holds the recorded Dockerfile (or config)."""
    marker = recorded.dockerfile if not recorded.dockerfile_generated else recorded.config
    named = Path(recorded.project)
    candidates = [named] if named.is_absolute() else []
    candidates += [record_path.resolve().parent, Path.cwd() / named]
    for candidate in candidates:
        if candidate.is_dir() and (marker is None or (candidate / marker).exists()):
            return candidate
    return record_path.resolve().parent


def progress_printer(quiet: bool) -> Any:
    def emit(line: str) -> None:
        if not quiet and line.strip():
            sys.stderr.write(line.rstrip("\n") + "\n")

    return emit


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputsDifferError(
            f"{path}: recorded input is unreadable ({exc.strerror or exc}); "
            "check out the recorded commit"
        ) from None


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").removeprefix("sha256:") == (b or "").removeprefix("sha256:")


def check_inputs(recorded: BuildRecord, root: Path) -> None:
    """Refuse (exit 2) when the checkout differs from what the record was built from."""
    from reprobuild.image.record import git_info

    if recorded.git is not None:
        now = git_info(root)
        if now is None or now.commit != recorded.git.commit:
            head = now.commit[:12] if now else "no git checkout"
            raise InputsDifferError(
                f"{root}: HEAD is {head}, the record was built from "
                f"{recorded.git.commit[:12]}; `git checkout {recorded.git.commit}` first"
            )
    files = [(recorded.config, recorded.config_sha256)]
    files += [(lock.path, lock.sha256) for lock in recorded.locks]
    if not recorded.dockerfile_generated:
        files.append((recorded.dockerfile, recorded.dockerfile_sha256))
    for relative, expected in files:
        if relative is None or expected is None:
            continue
        if not _same(_sha(root / relative), expected):
            raise InputsDifferError(
                f"{root / relative}: sha256 differs from the record's ({expected[:12]}…); "
                "verify needs the recorded inputs"
            )


def _rebuild(
    engine: Engine, recorded: BuildRecord, root: Path, base_image: str | None, progress: Any
) -> str:
    from reprobuild.config import load_config
    from reprobuild.image.pipeline import build_from_inputs

    check_inputs(recorded, root)
    config = load_config(root / recorded.config if recorded.config else None, start=root)
    outcome = build_from_inputs(
        root,
        config=config,
        dockerfile=None if recorded.dockerfile_generated else root / recorded.dockerfile,
        build_args=recorded.build_args,
        source_date_epoch=recorded.source_date_epoch,
        nocache=True,
        engine=engine,
        progress=progress,
        base_image=base_image,
        write_generated=False,
        normalize=recorded.normalized,
    )
    for name, now, then in (
        ("build context", outcome.context_sha256, recorded.context_sha256),
        ("Dockerfile", outcome.dockerfile_sha256, recorded.dockerfile_sha256),
    ):
        if not _same(now, then):
            with suppress(ReprobuildError):
                engine.remove(outcome.image_id)
            raise InputsDifferError(
                f"{root}: the {name} differs from the record's (sha256 {now[:12]}… != "
                f"{then[:12]}…): a file changed since the recorded build"
            )
    return outcome.image_id


def check_rebuild(
    engine: Engine,
    recorded: BuildRecord,
    root: Path,
    base_image: str | None,
    keep: bool,
    progress: Any,
) -> Verdict:
    rebuilt = _rebuild(engine, recorded, root, base_image, progress)
    verdict = Verdict(recorded.image_id, rebuilt, "rebuild")
    if verdict.match:
        return verdict
    _explain(engine, verdict, recorded, reference_image=_recorded_image(engine, recorded))
    if not keep:
        with suppress(ReprobuildError):
            engine.remove(rebuilt)
    else:
        verdict.notes.append(f"the rebuilt image is kept as {rebuilt}")
    return verdict


def check_registry_image(
    engine: Engine,
    recorded: BuildRecord,
    reference: str,
    root: Path,
    base_image: str | None,
    progress: Any,
) -> Verdict:
    from reprobuild.errors import UsageError
    from reprobuild.registry.reference import parse_reference

    ref = parse_reference(reference)
    if ref.digest is None:
        raise UsageError(f"--image {reference}: give the image by digest (REF@sha256:…)")
    progress(f"pulling {ref.familiar}")
    pulled = engine.pull(ref.name, ref.digest)
    verdict = Verdict(recorded.image_id, pulled, "registry", reference=ref.familiar)
    if recorded.push is not None and recorded.push.digest != ref.digest:
        verdict.notes.append(
            f"the record's pushed digest is {recorded.push.digest}, not {ref.digest}"
        )
    if verdict.match:
        return verdict
    # Compare with the recorded image if the engine still has it, else with a rebuild.
    against = _recorded_image(engine, recorded)
    rebuilt = None
    if against is None:
        progress("the recorded image is not in the engine; rebuilding it to compare")
        rebuilt = _rebuild(engine, recorded, root, base_image, progress)
        against = rebuilt
    _explain(engine, verdict, recorded, reference_image=against, subject=pulled)
    if rebuilt is not None and rebuilt != recorded.image_id:
        verdict.notes.append(f"a rebuild from the record's inputs gives {rebuilt}")
    return verdict


def _recorded_image(engine: Engine, recorded: BuildRecord) -> str | None:
    return engine.image_id(recorded.image_id)


@contextmanager
def _saved(engine: Engine, image_id: str, directory: Path) -> Iterator[Path]:
    import shutil

    target = directory / (image_id.removeprefix("sha256:")[:16] + ".tar")
    with engine.save(image_id) as stream, target.open("wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def _explain(
    engine: Engine,
    verdict: Verdict,
    recorded: BuildRecord,
    *,
    reference_image: str | None,
    subject: str | None = None,
) -> None:
    """Fill the verdict's diff (recorded image vs the subject) and build-time findings."""
    from reprobuild.image.diff import diff_saved_images
    from reprobuild.image.scan import scan_for_build_time

    subject = subject or verdict.actual
    if reference_image is None:
        differing = [
            str(index)
            for index, (a, b) in enumerate(zip(recorded.diff_ids, _diff_ids(engine, subject),
                                               strict=False))
            if a != b
        ]
        verdict.notes.append(
            "the recorded image is not in this engine, so paths cannot be compared; "
            f"differing layers by diff_id: {', '.join(differing) or 'none (count differs)'}"
        )
        return
    base_layers = _base_layer_count(engine, recorded)
    with tempfile.TemporaryDirectory(prefix="reprobuild-verify-") as tmp, _saved(
        engine, reference_image, Path(tmp)
    ) as expected, _saved(engine, subject, Path(tmp)) as actual:
        verdict.diff = diff_saved_images(expected, actual)
        findings = scan_for_build_time(actual, datetime.now(UTC), skip_layers=base_layers)
        verdict.findings = findings[:MAX_FINDINGS]


def _diff_ids(engine: Engine, image_id: str) -> list[str]:
    return [str(d) for d in engine.inspect(image_id).get("RootFS", {}).get("Layers") or []]


def _base_layer_count(engine: Engine, recorded: BuildRecord) -> int:
    for base in reversed(recorded.base_images):
        if base.image_id and engine.image_id(base.image_id):
            return len(_diff_ids(engine, base.image_id))
    return 0
