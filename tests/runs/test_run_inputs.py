"""`reprobuild run` / `rerun` errors that need no engine, and the tuple comparison."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path

from test_lineage import sample
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.image.record import GitInfo
from reprobuild.runs.datahash import tree_hash
from reprobuild.runs.execute import tuple_differences
from reprobuild.runs.record import FileHash, InputRecord, write_run_record

runner = CliRunner()


def _build_record(path: Path) -> None:
    data: dict[str, object] = {
        "schema": "reprobuild.record/1", "tool_version": "0.1.0", "project": ".", "git": None,
        "lint": {"ruleset": "x", "counts": {}, "files": 1}, "dockerfile": "Dockerfile",
        "dockerfile_sha256": "0" * 64, "dockerfile_generated": True, "config": None,
        "config_sha256": None, "locks": [], "base_images": [], "build_args": {},
        "source_date_epoch": 0,
        "engine": {"version": "1", "api_version": "1.41", "storage_driver": "overlay2",
                   "platform": "linux/amd64", "containerd_store": False, "builder": "legacy"},
        "context_sha256": "0" * 64, "image_id": "sha256:" + "b" * 64, "diff_ids": [],
        "normalized": True,
    }
    path.write_text(json.dumps(data))


def test_data_outside_the_project_exits_2(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    _build_record(project / "reprobuild-record.json")
    result = runner.invoke(app, ["run", "--project", str(project), "--data", str(tmp_path),
                                 "--", "true"])
    assert result.exit_code == 2
    assert "must be inside the project" in result.output


def test_non_empty_output_or_bad_seed_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--seed", "-1", "--", "true"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["rerun", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read the run record" in result.output


def test_tuple_differences_name_each_difference(tmp_path: Path) -> None:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "a").write_text("1")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    recorded = replace(
        sample(),
        inputs=(InputRecord(path="features", sha256=tree_hash(tmp_path / "features").sha256,
                            files=1, bytes=1, version=None),),
        params=(FileHash(path="params.yaml", sha256="sha256:" + "0" * 64),),
    )
    same_commit = GitInfo(commit="c" * 40, dirty=False, remote=None)
    assert tuple_differences(recorded, tmp_path, same_commit) == [
        f"params params.yaml: recorded sha256:{'0' * 64}, now "
        "sha256:" + hashlib.sha256(b"seed: 1\n").hexdigest()
    ]
    (tmp_path / "features" / "a").write_text("2")
    found = tuple_differences(recorded, tmp_path, GitInfo("d" * 40, dirty=True, remote=None))
    assert found[0] == f"git commit: recorded {'c' * 40}, now {'d' * 40}"
    assert found[1].startswith("git work tree: recorded clean")
    assert found[2].startswith("data features: recorded sha256:")


def test_rerun_refuses_before_touching_the_engine(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    write_run_record(tmp_path / "r.json", sample())
    result = runner.invoke(app, ["rerun", str(tmp_path / "r.json"), "--project", str(tmp_path)],
                           env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.exit_code == 2
    assert "nothing was checked out or run" in result.output
    assert "data features: recorded" in result.output and "now missing" in result.output
    assert not (tmp_path / ".reprobuild" / "reruns").exists()


def test_rerun_into_a_non_empty_directory_is_refused(tmp_path: Path) -> None:
    write_run_record(tmp_path / "r.json", sample())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    result = runner.invoke(app, ["rerun", str(tmp_path / "r.json"), "--project", str(tmp_path),
                                 "--into", str(tmp_path / "mine")])
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "mine" / "keep.txt").read_text() == "precious"
