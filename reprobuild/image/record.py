"""The build record ``reprobuild-record.json`` (schema ``reprobuild.record/1``): what went
into an image and what came out, written atomically, never with a credential in it.

Identity = the image ID (config digest) plus, after a push, the manifest digest.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reprobuild.errors import ReprobuildError
from reprobuild.fsutil import atomic_write_text
from reprobuild.redaction import redact

__all__ = [
    "SCHEMA",
    "BaseImageRecord",
    "BuildRecord",
    "EngineRecord",
    "GitInfo",
    "LintSummary",
    "LockRecord",
    "PushRecord",
    "RecordError",
    "git_commit_time",
    "git_info",
    "load_record",
    "public_build_args",
    "read_json_record",
    "strip_credentials",
    "write_record",
]

SCHEMA = "reprobuild.record/1"
DEFAULT_RECORD = "reprobuild-record.json"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class RecordError(ReprobuildError):
    """A record file is missing, malformed or of another schema."""


@dataclass(frozen=True, slots=True)
class GitInfo:
    commit: str
    dirty: bool
    remote: str | None


@dataclass(frozen=True, slots=True)
class LintSummary:
    ruleset: str
    counts: dict[str, int]
    files: int


@dataclass(frozen=True, slots=True)
class LockRecord:
    path: str
    format: str
    sha256: str


@dataclass(frozen=True, slots=True)
class BaseImageRecord:
    reference: str
    digest: str | None
    image_id: str | None = None


@dataclass(frozen=True, slots=True)
class EngineRecord:
    version: str
    api_version: str
    storage_driver: str
    platform: str
    containerd_store: bool
    builder: str  # "legacy" | "buildkit"


@dataclass(frozen=True, slots=True)
class PushRecord:
    reference: str
    digest: str


@dataclass(frozen=True, slots=True)
class BuildRecord:
    tool_version: str
    project: str
    git: GitInfo | None
    lint: LintSummary
    dockerfile: str
    dockerfile_sha256: str
    dockerfile_generated: bool
    config: str | None
    config_sha256: str | None
    locks: tuple[LockRecord, ...]
    base_images: tuple[BaseImageRecord, ...]
    build_args: dict[str, str]
    source_date_epoch: int
    engine: EngineRecord
    context_sha256: str
    image_id: str
    diff_ids: tuple[str, ...]
    normalized: bool
    tags: tuple[str, ...] = ()
    push: PushRecord | None = None
    schema: str = field(default=SCHEMA)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["locks"] = [asdict(lock) for lock in self.locks]
        data["base_images"] = [asdict(base) for base in self.base_images]
        data["diff_ids"] = list(self.diff_ids)
        data["tags"] = list(self.tags)
        return data

    def to_json(self) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        return redact(text)  # belt and braces: a URL with userinfo never leaves

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "record") -> BuildRecord:
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise RecordError(f"{where}: not a {SCHEMA} record")
        try:
            git = data.get("git")
            push = data.get("push")
            record = cls(
                schema=SCHEMA,
                tool_version=str(data["tool_version"]),
                project=str(data["project"]),
                git=GitInfo(**git) if git else None,
                lint=LintSummary(**data["lint"]),
                dockerfile=str(data["dockerfile"]),
                dockerfile_sha256=str(data["dockerfile_sha256"]),
                dockerfile_generated=bool(data["dockerfile_generated"]),
                config=data.get("config"),
                config_sha256=data.get("config_sha256"),
                locks=tuple(LockRecord(**lock) for lock in data["locks"]),
                base_images=tuple(BaseImageRecord(**b) for b in data["base_images"]),
                build_args=dict(data["build_args"]),
                source_date_epoch=int(data["source_date_epoch"]),
                engine=EngineRecord(**data["engine"]),
                context_sha256=str(data["context_sha256"]),
                image_id=str(data["image_id"]),
                diff_ids=tuple(data["diff_ids"]),
                normalized=bool(data["normalized"]),
                tags=tuple(data.get("tags") or ()),
                push=PushRecord(**push) if push else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"{where}: malformed record ({type(exc).__name__}: {exc})") from None
        if not _DIGEST.match(record.image_id):
            raise RecordError(f"{where}: image_id must be a sha256 digest")
        if record.push is not None and not _DIGEST.match(record.push.digest):
            raise RecordError(f"{where}: push.digest must be a sha256 digest")
        return record


def write_record(path: Path, record: BuildRecord) -> None:
    """Atomic: a reader sees the old record or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, record.to_json())


def read_json_record(path: Path, what: str = "record") -> Any:
    """The parsed JSON of a record file, or a RecordError naming the file (shared by the
    build record and the run record)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RecordError(f"{path}: not JSON: {exc}") from None


def load_record(path: Path) -> BuildRecord:
    return BuildRecord.from_dict(read_json_record(path), str(path))


def public_build_args(build_args: Mapping[str, str]) -> dict[str, str]:
    """Build args without the ones whose names say they hold secrets (RB240's test)."""
    from reprobuild.lint.rules.rb240_secret_in_arg_env import is_secret_name

    return {k: v for k, v in sorted(build_args.items()) if not is_secret_name(k)}


def strip_credentials(url: str) -> str:
    """A remote URL without its userinfo (``https://tok@host/x`` -> ``https://host/x``)."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return redact(url)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_info(root: Path) -> GitInfo | None:
    """HEAD, whether the work tree has changes, and the origin URL without credentials."""
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    remote = _git(root, "config", "--get", "remote.origin.url")
    return GitInfo(
        commit=commit,
        dirty=bool(status) if status is not None else True,
        remote=strip_credentials(remote) if remote else None,
    )


def git_commit_time(root: Path) -> int | None:
    """The committer time of HEAD (the SOURCE_DATE_EPOCH default)."""
    text = _git(root, "log", "-1", "--format=%ct", "HEAD")
    return int(text) if text and text.isdigit() else None
