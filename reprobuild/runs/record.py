"""The run record (schema ``reprobuild.run/1``): which image (by digest), which commit,
which data (content hash + the data tool's version), which seed and params ran which
command, and what it produced. Written atomically, never with a credential in it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.fsutil import atomic_write_text
from reprobuild.image.record import GitInfo, LockRecord, RecordError, read_json_record
from reprobuild.redaction import redact
from reprobuild.runs.datahash import DataVersion

__all__ = [
    "RUN_SCHEMA",
    "FileHash",
    "ImageUsed",
    "InputRecord",
    "OutputRecord",
    "RunRecord",
    "load_run_record",
    "write_run_record",
]

RUN_SCHEMA = "reprobuild.run/1"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ImageUsed:
    reference: str  # what the container was created from: repo@sha256:… or the image ID
    pinned_by: str  # "manifest-digest" (pushed) | "image-id" (local only)
    digest: str | None  # the manifest digest, when pushed
    image_id: str
    build_record: str  # the reprobuild-record.json it came from (relative path)
    build_record_sha256: str
    locks: tuple[LockRecord, ...]


@dataclass(frozen=True, slots=True)
class InputRecord:
    path: str  # relative to the project root
    sha256: str  # tree hash (reprobuild.runs.datahash)
    files: int
    bytes: int
    version: DataVersion | None


@dataclass(frozen=True, slots=True)
class OutputRecord:
    path: str
    sha256: str
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class FileHash:
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    tool_version: str
    job: str
    git: GitInfo | None
    image: ImageUsed
    inputs: tuple[InputRecord, ...]
    params: tuple[FileHash, ...]
    config_sha256: str  # over the params files (path + sha256): one value to compare
    seed: int
    command: tuple[str, ...]
    network: str
    user: str
    user_mapping: str  # "image" (the image's USER) | "host" (the invoking uid:gid)
    workdir: str
    started: str  # RFC 3339, UTC
    ended: str
    exit_code: int
    outputs: tuple[OutputRecord, ...]
    rerun_of: str | None = None
    schema: str = field(default=RUN_SCHEMA)

    def to_json(self) -> str:
        return redact(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "run record") -> RunRecord:
        if not isinstance(data, Mapping) or data.get("schema") != RUN_SCHEMA:
            raise RecordError(f"{where}: not a {RUN_SCHEMA} record")
        try:
            image = dict(data["image"])
            image["locks"] = tuple(LockRecord(**lock) for lock in image["locks"])
            git = data.get("git")
            record = cls(
                run_id=str(data["run_id"]),
                tool_version=str(data["tool_version"]),
                job=str(data["job"]),
                git=GitInfo(**git) if git else None,
                image=ImageUsed(**image),
                inputs=tuple(
                    InputRecord(**{**i, "version": DataVersion(**i["version"])
                                   if i.get("version") else None})
                    for i in data["inputs"]
                ),
                params=tuple(FileHash(**p) for p in data["params"]),
                config_sha256=str(data["config_sha256"]),
                seed=int(data["seed"]),
                command=tuple(str(c) for c in data["command"]),
                network=str(data["network"]),
                user=str(data["user"]),
                user_mapping=str(data["user_mapping"]),
                workdir=str(data["workdir"]),
                started=str(data["started"]),
                ended=str(data["ended"]),
                exit_code=int(data["exit_code"]),
                outputs=tuple(OutputRecord(**o) for o in data["outputs"]),
                rerun_of=data.get("rerun_of"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"{where}: malformed record ({type(exc).__name__}: {exc})") from None
        if not _DIGEST.match(record.image.image_id):
            raise RecordError(f"{where}: image.image_id must be a sha256 digest")
        if record.image.pinned_by == "manifest-digest" and not (
            record.image.digest and _DIGEST.match(record.image.digest)
        ):
            raise RecordError(f"{where}: image.digest must be a sha256 digest")
        return record


def write_run_record(path: Path, record: RunRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, record.to_json())


def load_run_record(path: Path) -> RunRecord:
    return RunRecord.from_dict(read_json_record(path, "run record"), str(path))
