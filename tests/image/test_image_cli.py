"""``reprobuild image`` without an engine: fakes for the engine and the pipeline, the
real CLI edge (exit codes, record, digest file, GITHUB_OUTPUT, interruption)."""

from __future__ import annotations

import json
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import load_config
from reprobuild.engine import EngineInfo, UnsupportedDockerfileError
from reprobuild.image.pipeline import BuildOutcome, LintFailedError, build_from_inputs
from reprobuild.image.record import SCHEMA, LintSummary

ROOT = Path(__file__).resolve().parents[2]
PIP_FIXTURE = ROOT / "tests" / "fixtures" / "generate" / "pip"
IMAGE_ID = "sha256:" + "5" * 64
BASE = "python:3.11-slim-bookworm@sha256:" + "b" * 64

runner = CliRunner()


class FakeEngine:
    """Answers what the CLI asks; the build itself is the faked pipeline's."""

    host = "unix:///fake.sock"

    def __init__(self, buildkit_cli: str | None = "/usr/bin/docker") -> None:
        self.tags: list[tuple[str, str, str]] = []
        self.buildkit_cli = buildkit_cli

    def info(self) -> EngineInfo:
        return EngineInfo(host=self.host, version="20.10.24", api_version="1.41",
                          storage_driver="overlay2", os="linux", arch="amd64",
                          containerd_store=False, buildkit_cli=self.buildkit_cli)

    def tag(self, image_id: str, repo: str, tag: str) -> None:
        self.tags.append((image_id, repo, tag))

    def inspect(self, image_id: str) -> dict[str, Any]:
        return {"Size": 123_000_000, "RootFS": {"Layers": []}}

    def image_id(self, reference: str) -> str | None:
        return None

    def __enter__(self) -> FakeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def build(self, *args: Any, **kwargs: Any) -> str:
        raise AssertionError("the build must not start")

    def save(self, image_id: str) -> AbstractContextManager[IO[bytes]]:
        raise AssertionError("not used")


def _outcome() -> BuildOutcome:
    return BuildOutcome(
        image_id=IMAGE_ID, raw_image_id=IMAGE_ID, diff_ids=(IMAGE_ID,), normalized=False,
        base_images=(), dockerfile="Dockerfile", dockerfile_sha256="0" * 64,
        dockerfile_generated=True, config="pyproject.toml", config_sha256="1" * 64, locks=(),
        lint=LintSummary(ruleset="x", counts={"error": 0}, files=2),
        build_args={"SOURCE_DATE_EPOCH": "7", "GITHUB_TOKEN": "never"},
        source_date_epoch=7, context_sha256="2" * 64, builder="legacy", seconds=1.0, wheels=2,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "proj"
    shutil.copytree(PIP_FIXTURE, target)
    return target


def test_no_engine_exits_2_with_the_address(project: Path, tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/dead.sock"
    result = runner.invoke(
        app, ["image", str(project), "--source-date-epoch", "0"], env={"DOCKER_HOST": host}
    )
    assert result.exit_code == 2
    assert (
        f"cannot reach the Docker engine at {host}; is dockerd running? is DOCKER_HOST set?"
        in result.output
    )
    assert "Traceback" not in result.output
    assert not (project / "reprobuild-record.json").exists()


def test_record_digest_file_and_github_output(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reprobuild.engine.connect", lambda *a, **k: FakeEngine())
    monkeypatch.setattr(
        "reprobuild.image.pipeline.build_from_inputs", lambda *a, **k: _outcome()
    )
    github = tmp_path / "github_output"
    github.write_text("earlier=1\n")
    digest = tmp_path / "digest.txt"
    record = tmp_path / "out" / "record.json"
    result = runner.invoke(
        app,
        ["image", str(project), "--record", str(record), "--digest-file", str(digest),
         "--format", "json", "-q", "--source-date-epoch", "7"],
        env={"GITHUB_OUTPUT": str(github)},
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["schema"] == SCHEMA and printed["image_id"] == IMAGE_ID
    assert json.loads(record.read_text()) == printed
    assert "GITHUB_TOKEN" not in record.read_text()
    assert printed["engine"]["version"] == "20.10.24"
    assert digest.read_text() == IMAGE_ID + "\n"
    assert github.read_text() == f"earlier=1\ndigest={IMAGE_ID}\n"


def test_interrupted_build_leaves_no_record(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> BuildOutcome:
        raise KeyboardInterrupt

    monkeypatch.setattr("reprobuild.engine.connect", lambda *a, **k: FakeEngine())
    monkeypatch.setattr("reprobuild.image.pipeline.build_from_inputs", interrupted)
    result = runner.invoke(app, ["image", str(project), "--source-date-epoch", "0"])
    assert result.exit_code == 130
    assert not list(project.glob("*record*"))


def test_push_to_a_digest_is_a_usage_error(project: Path) -> None:
    result = runner.invoke(app, ["image", str(project), "--push", BASE])
    assert result.exit_code == 2
    assert "push to a tag, not a digest" in result.output


def test_lint_errors_stop_before_the_build(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN pip install requests\n")
    with pytest.raises(LintFailedError, match="the build did not start") as err:
        build_from_inputs(
            tmp_path, config=load_config(start=tmp_path), dockerfile=tmp_path / "Dockerfile",
            build_args={}, source_date_epoch=0, nocache=False,
            engine=FakeEngine(),  # type: ignore[arg-type]
            progress=lambda _: None,
        )
    assert err.value.exit_code == 1
    assert "RB" in str(err.value)


def test_buildkit_only_dockerfile_refused_without_a_buildkit_cli(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE}\nRUN <<EOF\necho hi\nEOF\n"
    )
    with pytest.raises(UnsupportedDockerfileError, match=r"heredoc.*only BuildKit builds"):
        build_from_inputs(
            tmp_path, config=load_config(start=tmp_path), dockerfile=tmp_path / "Dockerfile",
            build_args={}, source_date_epoch=0, nocache=False,
            engine=FakeEngine(buildkit_cli=None),  # type: ignore[arg-type]
            progress=lambda _: None,
        )
