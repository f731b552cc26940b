"""OpenLineage events: validated against the client's models; file and HTTP delivery."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lineage_check import validate_event

from reprobuild.image.record import GitInfo, LockRecord
from reprobuild.runs.datahash import DataVersion
from reprobuild.runs.lineage import LineageError, LineageTarget, emit, run_event
from reprobuild.runs.record import (
    FileHash,
    ImageUsed,
    InputRecord,
    OutputRecord,
    RunRecord,
    load_run_record,
    write_run_record,
)

DIGEST = "sha256:" + "a" * 64
IMAGE_ID = "sha256:" + "b" * 64


def sample(exit_code: int = 0) -> RunRecord:
    return RunRecord(
        run_id="0b5f3c4e-5c33-4f5e-9d55-0a0f3c9d7f11",
        tool_version="0.1.0",
        job="pipeline.train",
        git=GitInfo(commit="c" * 40, dirty=False, remote=None),
        image=ImageUsed(
            reference=f"127.0.0.1:5000/runs/pipeline@{DIGEST}", pinned_by="manifest-digest",
            digest=DIGEST, image_id=IMAGE_ID, build_record="reprobuild-record.json",
            build_record_sha256="sha256:" + "d" * 64,
            locks=(LockRecord(path="requirements.txt", format="requirements",
                              sha256="sha256:" + "e" * 64),),
        ),
        inputs=(InputRecord(path="features", sha256="sha256:" + "1" * 64, files=4, bytes=10,
                            version=DataVersion("dvc", "f" * 32 + ".dir", "dvc.lock:featurize")),),
        params=(FileHash(path="params.yaml", sha256="sha256:" + "2" * 64),),
        config_sha256="sha256:" + "3" * 64,
        seed=42,
        command=("python", "src/train.py"),
        network="none",
        user="1000:1000",
        user_mapping="image",
        workdir="/app",
        started="2026-11-26T13:00:00.000Z",
        ended="2026-11-26T13:00:05.000Z",
        exit_code=exit_code,
        outputs=(OutputRecord(path="model", sha256="sha256:" + "4" * 64, files=1, bytes=80),),
    )


@pytest.mark.parametrize(("kind", "code"), [("START", 0), ("COMPLETE", 0), ("FAIL", 3)])
def test_events_match_the_openlineage_models(kind: str, code: int) -> None:
    event = json.loads(run_event(sample(code), kind, "ml", Path("/w")))
    validate_event(event)
    assert event["eventType"] == kind
    assert event["inputs"][0]["name"] == "/w/features"
    assert event["run"]["facets"]["reprobuild"]["imageDigest"] == DIGEST
    assert ("exitCode" in event["run"]["facets"]["reprobuild"]) == (kind != "START")


def test_a_broken_event_fails_validation() -> None:
    event = json.loads(run_event(sample(), "START", "ml", Path("/w")))
    event["run"]["runId"] = "not-a-uuid"
    with pytest.raises(ValueError, match="hexadecimal UUID"):
        validate_event(event)


def test_record_round_trip(tmp_path: Path) -> None:
    write_run_record(tmp_path / "r.json", sample())
    assert load_run_record(tmp_path / "r.json") == sample()


def test_file_target_appends_json_lines(tmp_path: Path) -> None:
    target = LineageTarget(namespace="ml", file=tmp_path / "sub" / "events.jsonl")
    for kind in ("START", "COMPLETE"):
        emit(run_event(sample(), kind, "ml", tmp_path), target)
    lines = (tmp_path / "sub" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["eventType"] for line in lines] == ["START", "COMPLETE"]


class _Handler(BaseHTTPRequestHandler):
    status = 201
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"received": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", handler
    httpd.shutdown()
    httpd.server_close()


def test_http_target_posts_to_the_marquez_endpoint(
    server: tuple[str, type[_Handler]],
) -> None:
    url, handler = server
    emit(run_event(sample(), "COMPLETE", "ml", Path("/w")), LineageTarget("ml", url=url))
    emit(run_event(sample(), "COMPLETE", "ml", Path("/w")),
         LineageTarget("ml", url=f"{url}/custom/path"))
    assert [path for path, _ in handler.received] == ["/api/v1/lineage", "/custom/path"]
    validate_event(json.loads(handler.received[0][1]))


def test_http_error_is_one_line_without_credentials(
    server: tuple[str, type[_Handler]],
) -> None:
    url, handler = server
    handler.status = 500
    with_user = url.replace("http://", "http://user:s3cret@")
    with pytest.raises(LineageError) as caught:
        emit(run_event(sample(), "START", "ml", Path("/w")), LineageTarget("ml", url=with_user))
    assert "HTTP 500" in str(caught.value) and "s3cret" not in str(caught.value)
