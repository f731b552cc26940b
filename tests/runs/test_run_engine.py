"""``reprobuild run`` / ``rerun`` on the REAL engine and registry, in the pipeline
example's image (built once per session by conftest.pipeline_image)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pytest
from lineage_check import validate_event
from run_helpers import PipelineImage, git, project_copy
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.runs.datahash import tree_hash
from reprobuild.runs.record import load_run_record

if TYPE_CHECKING:
    import docker

pytestmark = pytest.mark.engine

runner = CliRunner()

PROBE = (
    "import json, os, pathlib; "
    "here = os.getcwd(); "
    "mounts = {l.split()[1]: l.split()[3].split(',')[0] for l in open('/proc/mounts')}; "
    "pathlib.Path('probe/env.json').write_text(json.dumps({"
    "'seed': os.environ.get('REPROBUILD_SEED'), 'hashseed': os.environ.get('PYTHONHASHSEED'), "
    "'uid': os.getuid(), 'net': sorted(os.listdir('/sys/class/net')), 'cwd': here, "
    "'modes': {k[len(here) + 1:] or '.': v for k, v in mounts.items() if k.startswith(here)}}, "
    "sort_keys=True))"
)


@pytest.fixture
def project(pipeline_image: PipelineImage, tmp_path: Path) -> Path:
    return project_copy(pipeline_image, tmp_path / "proj")


def _run(image: PipelineImage, project: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", "--project", str(project), *args], env=image.env)
    return result.exit_code, result.output


def test_run_pins_the_digest_and_records_the_tuple(
    pipeline_image: PipelineImage, project: Path
) -> None:
    code, output = _run(
        pipeline_image, project, "--seed", "7", "--data", str(project / "data/raw.csv"),
        "--params", str(project / "params.yaml"), "--output", str(project / "probe"),
        "--run-record", str(project / "runs/probe.json"), "--", "python", "-c", PROBE,
    )
    assert code == 0, output
    record = load_run_record(project / "runs/probe.json")
    push = pipeline_image.record["push"]
    assert isinstance(push, dict)
    repository = str(push["reference"]).rsplit(":", 1)[0]
    assert record.image.reference == f"{repository}@{push['digest']}"
    assert record.image.pinned_by == "manifest-digest"
    assert record.image.image_id == pipeline_image.record["image_id"]
    assert record.git is not None and record.git.commit == git(project, "rev-parse", "HEAD")
    assert record.git.dirty is False
    assert record.seed == 7 and record.exit_code == 0 and record.network == "none"
    assert record.inputs[0].path == "data/raw.csv"
    assert record.inputs[0].sha256 == tree_hash(project / "data/raw.csv").sha256
    assert record.params[0].path == "params.yaml"
    assert [o.path for o in record.outputs] == ["probe"]
    assert record.outputs[0].sha256 == tree_hash(project / "probe").sha256
    seen = json.loads((project / "probe/env.json").read_text())
    assert seen["seed"] == "7" and seen["hashseed"] == "7"
    assert seen["uid"] == 1000 and record.user == "1000:1000"  # the image's USER
    assert seen["net"] == ["lo"]  # network none
    assert seen["cwd"] == "/app"  # the image's WORKDIR
    assert seen["modes"] == {".": "ro", "data/raw.csv": "ro", "probe": "rw"}
    assert (project / "probe/env.json").stat().st_uid == (project / "probe").parent.stat().st_uid


def test_failing_command_exit_code_is_kept_and_recorded(
    pipeline_image: PipelineImage, project: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    code, output = _run(
        pipeline_image, project, "--seed", "1", "--run-record", str(project / "runs/f.json"),
        "--openlineage-file", str(events), "--", "python", "-c", "raise SystemExit(3)",
    )
    assert code == 3, output
    assert load_run_record(project / "runs/f.json").exit_code == 3
    kinds = [json.loads(line)["eventType"] for line in events.read_text().splitlines()]
    assert kinds == ["START", "FAIL"]


def test_missing_image_record_exits_2(pipeline_image: PipelineImage, project: Path) -> None:
    code, output = _run(pipeline_image, project, "--record", str(project / "nope.json"),
                        "--", "true")
    assert code == 2
    assert "nope.json" in output and "cannot read the record" in output


def test_rerun_refuses_naming_what_differs(pipeline_image: PipelineImage, project: Path) -> None:
    code, output = _run(
        pipeline_image, project, "--seed", "5", "--data", str(project / "data"),
        "--output", str(project / "out"), "--run-record", str(project / "runs/r.json"),
        "--", "python", "-c", "open('out/x', 'w').write('1')",
    )
    assert code == 0, output
    (project / "data/raw.csv").write_text("x1,x2,x3,x4,label\n0,0,0,0,1\n")
    git(project, "commit", "-q", "-am", "other data")
    result = runner.invoke(app, ["rerun", str(project / "runs/r.json"), "--project",
                                 str(project)], env=pipeline_image.env)
    assert result.exit_code == 2, result.output
    assert "git commit: recorded" in result.output
    assert "data data: recorded sha256:" in result.output
    assert not (project / ".reprobuild/reruns").exists()


def test_rerun_pulls_by_digest_and_reproduces(
    pipeline_image: PipelineImage, project: Path, engine: docker.DockerClient
) -> None:
    code, output = _run(
        pipeline_image, project, "--seed", "11", "--data", str(project / "data"),
        "--output", str(project / "out"), "--run-record", str(project / "runs/r.json"),
        "--", "python", "-c",
        "import os, numpy as np; rng = np.random.default_rng(int(os.environ['REPROBUILD_SEED']));"
        " np.save('out/draw.npy', rng.normal(size=5))",
    )
    assert code == 0, output
    recorded = load_run_record(project / "runs/r.json")
    engine.images.remove(recorded.image.image_id, force=True)  # rerun must pull it by digest
    result = runner.invoke(app, ["rerun", str(project / "runs/r.json"), "--project",
                                 str(project)], env=pipeline_image.env)
    assert result.exit_code == 0, result.output
    assert f"pulling {recorded.image.reference}" in result.output
    assert "outputs reproduced" in result.output
    again = load_run_record(project / ".reprobuild/reruns" / recorded.run_id / "run.json")
    assert again.rerun_of == recorded.run_id and again.run_id != recorded.run_id
    assert again.outputs == recorded.outputs
    assert engine.images.get(recorded.image.image_id).id == recorded.image.image_id


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Recorder", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_openlineage_events_reach_an_http_endpoint(
    pipeline_image: PipelineImage, project: Path,
    lineage_server: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, received = lineage_server
    code, output = _run(
        pipeline_image, project, "--seed", "3", "--data", str(project / "data/raw.csv"),
        "--output", str(project / "out"), "--run-record", str(project / "runs/l.json"),
        "--openlineage-url", url, "--job", "demo.job", "--",
        "python", "-c", "open('out/y', 'w').write('2')",
    )
    assert code == 0, output
    assert [path for path, _ in received] == ["/api/v1/lineage"] * 2
    start, complete = (json.loads(body) for _, body in received)
    for event in (start, complete):
        validate_event(event)
    record = load_run_record(project / "runs/l.json")
    assert start["eventType"] == "START" and complete["eventType"] == "COMPLETE"
    assert start["run"]["runId"] == complete["run"]["runId"] == record.run_id
    assert complete["job"] == {"namespace": "reprobuild", "name": "demo.job", "facets": {}}
    facet = complete["run"]["facets"]["reprobuild"]
    assert facet["imageDigest"] == record.image.digest and facet["seed"] == 3
    assert facet["lockfiles"][0]["sha256"] == record.image.locks[0].sha256
    assert complete["outputs"][0]["facets"]["version"]["datasetVersion"] == (
        record.outputs[0].sha256
    )
    assert start["outputs"] == []
