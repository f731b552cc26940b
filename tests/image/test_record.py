"""The build record: schema, round trip, atomic write, no credentials."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reprobuild.image.record import (
    SCHEMA,
    BaseImageRecord,
    BuildRecord,
    EngineRecord,
    GitInfo,
    LintSummary,
    LockRecord,
    PushRecord,
    RecordError,
    git_info,
    load_record,
    public_build_args,
    strip_credentials,
    write_record,
)

DIGEST = "sha256:" + "a" * 64


def _record(**changes: object) -> BuildRecord:
    fields: dict[str, object] = dict(
        tool_version="0.1.0",
        project="examples/pip-requirements",
        git=GitInfo(commit="c" * 40, dirty=False, remote="https://example.com/x.git"),
        lint=LintSummary(ruleset="0.1.0+abc", counts={"error": 0, "warning": 1}, files=2),
        dockerfile="Dockerfile",
        dockerfile_sha256="d" * 64,
        dockerfile_generated=True,
        config="reprobuild.toml",
        config_sha256="e" * 64,
        locks=(LockRecord(path="requirements.txt", format="requirements", sha256="f" * 64),),
        base_images=(BaseImageRecord(reference=f"python:3.11@{DIGEST}", digest=DIGEST),),
        build_args={"SOURCE_DATE_EPOCH": "0"},
        source_date_epoch=0,
        engine=EngineRecord(version="20.10.24", api_version="1.41", storage_driver="overlay2",
                            platform="linux/amd64", containerd_store=False, builder="legacy"),
        context_sha256="0" * 64,
        image_id=DIGEST,
        diff_ids=(DIGEST,),
        normalized=True,
        push=PushRecord(reference="127.0.0.1:5000/demo:latest", digest="sha256:" + "b" * 64),
    )
    fields.update(changes)
    return BuildRecord(**fields)  # type: ignore[arg-type]


def test_round_trip_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "reprobuild-record.json"
    record = _record()
    write_record(path, record)
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA
    assert data["image_id"] == DIGEST
    assert data["push"]["digest"] == "sha256:" + "b" * 64
    assert data["engine"]["storage_driver"] == "overlay2"
    assert load_record(path) == record


def test_other_schema_or_malformed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema": "reprobuild.record/999"}))
    with pytest.raises(RecordError, match=r"not a reprobuild\.record/1 record"):
        load_record(path)
    data = _record().to_dict()
    del data["engine"]
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="malformed"):
        load_record(path)
    path.write_text(json.dumps(_record(image_id="latest").to_dict()))
    with pytest.raises(RecordError, match="image_id"):
        load_record(path)


def test_atomic_write_keeps_the_old_record_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "reprobuild-record.json"
    write_record(path, _record())
    before = path.read_bytes()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("os.fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_record(path, _record(image_id="sha256:" + "9" * 64))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["reprobuild-record.json"]


def test_secret_build_args_are_dropped() -> None:
    args = public_build_args(
        {"GITHUB_TOKEN": "t", "DB_PASSWORD": "p", "PY_VERSION": "3.11", "SOURCE_DATE_EPOCH": "1"}
    )
    assert args == {"PY_VERSION": "3.11", "SOURCE_DATE_EPOCH": "1"}


def test_remote_credentials_are_stripped() -> None:
    assert strip_credentials("https://user:s3cret@git.example.com/a/b.git") == (
        "https://git.example.com/a/b.git"
    )
    assert strip_credentials("git@github.com:a/b.git") == "git@github.com:a/b.git"


def test_git_info_dirty_flag_and_remote_without_token(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    git("remote", "add", "origin", "https://ghp_tokenvalue@github.com/o/r.git")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("commit", "-qm", "one")
    info = git_info(tmp_path)
    assert info is not None and len(info.commit) == 40 and not info.dirty
    assert info.remote == "https://github.com/o/r.git"
    (tmp_path / "f").write_text("2")
    info = git_info(tmp_path)
    assert info is not None and info.dirty
    text = _record(git=info).to_json()
    assert "ghp_tokenvalue" not in text
    assert git_info(tmp_path / "nowhere") is None
