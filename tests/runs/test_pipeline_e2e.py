"""The pipeline example end to end: the real ``dvc repro`` runs featurize -> train ->
predict, each stage through ``reprobuild run`` in the example's image (numpy from a
hashed lock, pulled by digest), then ``reprobuild rerun`` reproduces a recorded stage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lineage_check import validate_event
from run_helpers import PipelineImage, git, project_copy
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.runs.datahash import tree_hash
from reprobuild.runs.record import load_run_record

pytestmark = pytest.mark.engine

STAGES = ("featurize", "train", "predict")


def _dvc(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)  # `reprobuild` and `dvc` of this venv
    full_env = {**os.environ, **env, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                "DVC_NO_ANALYTICS": "1",
                # outside the project: DVC writes there, and git must see a clean tree
                "DVC_SITE_CACHE_DIR": str(project.parent / "dvc-site")}
    return subprocess.run([str(Path(bin_dir) / "dvc"), *args], cwd=project, env=full_env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def repro(
    pipeline_image: PipelineImage, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PipelineImage, Path, str]:
    project = project_copy(pipeline_image, tmp_path_factory.mktemp("dvc") / "pipeline")
    done = _dvc(project, pipeline_image.env, "init", "-q")
    assert done.returncode == 0, done.stderr
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "dvc init")
    done = _dvc(project, pipeline_image.env, "repro")
    assert done.returncode == 0, done.stdout + done.stderr
    return pipeline_image, project, done.stdout


def test_dvc_repro_runs_every_stage_in_the_image(repro: tuple[PipelineImage, Path, str]) -> None:
    image, project, output = repro
    for stage in STAGES:
        assert f"Running stage '{stage}'" in output
        record = load_run_record(project / "runs" / f"{stage}.json")
        assert record.exit_code == 0 and record.seed == 42
        assert record.image.image_id == image.record["image_id"]
        assert record.image.pinned_by == "manifest-digest"
        assert record.git is not None and not record.git.dirty
        assert record.git.commit == git(project, "rev-parse", "HEAD")
        for out in record.outputs:
            assert out.sha256 == tree_hash(project / out.path).sha256
    metrics = json.loads((project / "predictions" / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.7  # the classes are separable: training did something
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""


def test_upstream_outputs_carry_their_dvc_lock_version(
    repro: tuple[PipelineImage, Path, str],
) -> None:
    _, project, _ = repro
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    md5 = {out["path"]: out["md5"] for out in lock["stages"]["featurize"]["outs"]}
    train = load_run_record(project / "runs" / "train.json")
    (features,) = train.inputs
    assert features.path == "features" and features.version is not None
    assert (features.version.system, features.version.version) == ("dvc", md5["features"])
    assert features.version.source == "dvc.lock:featurize"


def test_lineage_events_for_each_stage(repro: tuple[PipelineImage, Path, str]) -> None:
    _, project, _ = repro
    events = [json.loads(line) for line in
              (project / "runs" / "lineage.jsonl").read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        (f"pipeline.{stage}", kind) for stage in STAGES for kind in ("START", "COMPLETE")
    ]
    for event in events:
        validate_event(event)
    train_complete = events[3]
    assert train_complete["inputs"][0]["name"] == (project / "features").as_posix()
    assert train_complete["outputs"][0]["name"] == (project / "model").as_posix()


def test_rerun_of_a_recorded_stage_reproduces_its_outputs(
    repro: tuple[PipelineImage, Path, str],
) -> None:
    image, project, _ = repro
    result = CliRunner().invoke(
        app, ["rerun", str(project / "runs" / "train.json"), "--project", str(project),
              "--into", str(project / "rerun-train")], env=image.env,
    )
    assert result.exit_code == 0, result.output
    assert "same model: recorded sha256:" in result.output
    recorded = load_run_record(project / "runs" / "train.json")
    assert (tree_hash(project / "rerun-train" / "outputs" / "model").sha256
            == recorded.outputs[0].sha256)
    shutil.rmtree(project / "rerun-train")
