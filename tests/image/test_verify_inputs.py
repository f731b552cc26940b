"""``reprobuild verify`` without an engine: input checks, project discovery, reports, and
exit code 2 when the record is unusable."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.image.diff import ImageDiff, LayerDiff, PathDiff
from reprobuild.image.record import (
    BuildRecord,
    EngineRecord,
    GitInfo,
    LintSummary,
    LockRecord,
    write_record,
)
from reprobuild.image.verify import InputsDifferError, Verdict, check_inputs, project_root

DIGEST = "sha256:" + "a" * 64
runner = CliRunner()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(root),
         *args],
        check=True, capture_output=True, text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, BuildRecord]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM scratch\n")
    (root / "reprobuild.toml").write_text("")
    (root / "requirements.txt").write_text("attrs==23.2.0\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "x")
    record = BuildRecord(
        tool_version="0.1.0",
        project=str(root),
        git=GitInfo(commit=_git(root, "rev-parse", "HEAD"), dirty=False, remote=None),
        lint=LintSummary(ruleset="r", counts={"error": 0}, files=1),
        dockerfile="Dockerfile",
        dockerfile_sha256=_sha(root / "Dockerfile"),
        dockerfile_generated=False,
        config="reprobuild.toml",
        config_sha256=_sha(root / "reprobuild.toml"),
        locks=(LockRecord("requirements.txt", "requirements", _sha(root / "requirements.txt")),),
        base_images=(),
        build_args={},
        source_date_epoch=0,
        engine=EngineRecord("20.10.24", "1.41", "overlay2", "linux/amd64", False, "legacy"),
        context_sha256="0" * 64,
        image_id=DIGEST,
        diff_ids=(DIGEST,),
        normalized=True,
    )
    return root, record


def test_matching_inputs_pass(checkout: tuple[Path, BuildRecord]) -> None:
    root, record = checkout
    check_inputs(record, root)


@pytest.mark.parametrize("name", ["Dockerfile", "reprobuild.toml", "requirements.txt"])
def test_a_changed_input_file_is_refused(checkout: tuple[Path, BuildRecord], name: str) -> None:
    root, record = checkout
    with (root / name).open("a") as handle:
        handle.write("#\n")
    with pytest.raises(InputsDifferError, match=rf"{name}: sha256 differs"):
        check_inputs(record, root)


def test_another_commit_is_refused(checkout: tuple[Path, BuildRecord]) -> None:
    root, record = checkout
    with pytest.raises(InputsDifferError, match="git checkout"):
        check_inputs(replace(record, git=GitInfo("b" * 40, False, None)), root)


def test_a_missing_input_is_refused(checkout: tuple[Path, BuildRecord]) -> None:
    root, record = checkout
    (root / "requirements.txt").unlink()
    with pytest.raises(InputsDifferError, match="unreadable"):
        check_inputs(replace(record, git=None), root)


def test_project_is_found_from_the_record(
    checkout: tuple[Path, BuildRecord], tmp_path: Path
) -> None:
    root, record = checkout
    elsewhere = tmp_path / "records" / "r.json"
    elsewhere.parent.mkdir()
    assert project_root(elsewhere, record) == root  # absolute `project`
    relative = replace(record, project="not-here")
    assert project_root(root / "reprobuild-record.json", relative) == root


def test_cli_refuses_changed_inputs_with_exit_2(checkout: tuple[Path, BuildRecord]) -> None:
    root, record = checkout
    path = root / "reprobuild-record.json"
    write_record(path, record)
    (root / "Dockerfile").write_text("FROM scratch\nENV X=1\n")
    result = runner.invoke(app, ["verify", str(path)],
                           env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.exit_code == 2
    assert "reprobuild: error:" in result.output and "Traceback" not in result.output
    assert "Dockerfile: sha256 differs" in result.output  # checked before the engine


def test_cli_rejects_a_bad_record_and_format(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text("{}")
    result = runner.invoke(app, ["verify", str(bad)])
    assert result.exit_code == 2 and "not a reprobuild.record/1 record" in result.output
    result = runner.invoke(app, ["verify", str(bad), "--format", "yaml"])
    assert result.exit_code == 2 and "--format" in result.output


def test_verdict_reports() -> None:
    diff = ImageDiff(
        "sha256:1", "sha256:2", (),
        (LayerDiff(3, "sha256:a", "sha256:b", (PathDiff("stamp", ("content",), "x", "y"),)),),
    )
    verdict = Verdict("sha256:1", "sha256:2", "rebuild", diff=diff)
    text = verdict.render()
    assert text.startswith("MISMATCH: the rebuilt image is sha256:2")
    assert "layer 3:" in text and "/stamp: content (x != y)" in text
    data = json.loads(json.dumps(verdict.to_dict(Path("r.json"))))
    assert data["result"] == "mismatch"
    assert data["diff"]["layers"][0]["paths"][0]["path"] == "stamp"
    assert Verdict("sha256:1", "sha256:1", "registry").render().startswith("reproduced")
