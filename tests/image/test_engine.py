"""Engine module without an engine: stream parsing (errors inside a 200), addresses,
BuildKit detection in Dockerfiles, and the one-line error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reprobuild.engine import (
    BuildStepError,
    EngineUnreachableError,
    PushError,
    PushUnauthorizedError,
    connect,
)
from reprobuild.engine.connect import resolve_address
from reprobuild.engine.streams import parse_build_stream, parse_push_stream
from reprobuild.image.pipeline import buildkit_reasons, frontend_gaps

DIGEST = "sha256:" + "1" * 64


def test_push_stream_digest_from_aux() -> None:
    events: list[dict[str, Any]] = [
        {"status": "The push refers to repository [127.0.0.1:5000/demo]"},
        {"status": "Pushed", "id": "abc"},
        {"status": f"latest: digest: {DIGEST} size: 740"},
        {"progressDetail": {}, "aux": {"Tag": "latest", "Digest": DIGEST, "Size": 740}},
    ]
    lines: list[str] = []
    assert parse_push_stream(events, "demo:latest", lines.append) == DIGEST
    assert any("digest:" in line for line in lines)


def test_push_stream_error_inside_a_200_response() -> None:
    events: list[dict[str, Any]] = [
        {"status": "The push refers to repository [127.0.0.1:5000/demo]"},
        {"errorDetail": {"message": "manifest invalid: blob unknown"},
         "error": "manifest invalid: blob unknown"},
    ]
    with pytest.raises(PushError, match="push of demo:latest failed: manifest invalid") as err:
        parse_push_stream(events, "demo:latest", lambda _: None)
    assert not isinstance(err.value, PushUnauthorizedError)
    assert err.value.exit_code == 2


def test_push_stream_unauthorized() -> None:
    events = [{"errorDetail": {"message": "no basic auth credentials"},
               "error": "no basic auth credentials"}]
    with pytest.raises(PushUnauthorizedError, match="docker login") as err:
        parse_push_stream(events, "r/x:1", lambda _: None)
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_push_stream_without_digest_is_an_error() -> None:
    with pytest.raises(PushError, match="without a manifest digest"):
        parse_push_stream([{"status": "Preparing", "id": "x"}], "r/x:1", lambda _: None)


def test_build_stream_names_the_failing_step_and_log_tail() -> None:
    events: list[dict[str, Any]] = [
        {"stream": "Step 1/3 : FROM python:3.11\n"},
        {"stream": " ---> 1234\n"},
        {"stream": "Step 2/3 : RUN false && echo never\n"},
        {"stream": " ---> Running in 5678\n"},
        {"stream": "something went wrong here\n"},
        {"errorDetail": {"code": 1, "message": "The command '/bin/sh -c false' returned a "
                         "non-zero code: 1"},
         "error": "The command '/bin/sh -c false' returned a non-zero code: 1"},
    ]
    with pytest.raises(BuildStepError) as err:
        parse_build_stream(events, lambda _: None)
    assert err.value.exit_code == 1
    assert err.value.step == "Step 2/3 : RUN false && echo never"
    message = str(err.value)
    assert "Step 2/3 : RUN false" in message and "something went wrong here" in message
    assert "\n" not in message


def test_build_stream_image_id_from_aux() -> None:
    lines: list[str] = []
    result = parse_build_stream(
        [{"stream": "Step 1/1 : FROM scratch\n"}, {"aux": {"ID": DIGEST}},
         {"stream": "Successfully built 111111111111\n"}],
        lines.append,
    )
    assert result.image_id == DIGEST and result.steps == 1
    assert lines[0] == "Step 1/1 : FROM scratch"


def test_unreachable_engine_message(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/dead.sock"
    with pytest.raises(EngineUnreachableError) as err:
        connect(host)
    assert str(err.value) == (
        f"cannot reach the Docker engine at {host}; is dockerd running? is DOCKER_HOST set?"
    )
    assert err.value.exit_code == 2


def test_address_from_docker_host_and_context(tmp_path: Path) -> None:
    assert resolve_address(environ={"DOCKER_HOST": "tcp://127.0.0.1:2375"}).source == "DOCKER_HOST"
    # A CLI context named by DOCKER_CONTEXT (the CLI's context store layout).
    import hashlib
    import json

    name = "remote"
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Metadata": {},
         "Endpoints": {"docker": {"Host": "unix:///run/other.sock", "SkipTLSVerify": False}}}
    ))
    (tmp_path / "config.json").write_text("{}")
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": name}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_CONFIG", str(tmp_path))
        address = resolve_address(environ=env)
    assert address.host == "unix:///run/other.sock"
    assert address.source == "context remote"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("# syntax=docker/dockerfile:1.6\nFROM x\n", "syntax"),
        ("FROM x\nRUN <<EOF\necho hi\nEOF\n", "heredoc"),
        ("FROM x\nADD --checksum=sha256:abc https://e.com/f /f\n", "checksum"),
        ("FROM x\nRUN --mount=type=cache,target=/root/.cache pip install x\n", "mount"),
    ],
)
def test_buildkit_only_features_are_detected(text: str, reason: str) -> None:
    reasons = buildkit_reasons(text)
    assert reasons and reason in " ".join(reasons)


def test_plain_dockerfile_needs_no_buildkit() -> None:
    assert buildkit_reasons("FROM x\nCOPY a b\nRUN echo '<<not a heredoc'\n") == []


def test_heredoc_needs_a_newer_frontend_than_20_10_embeds() -> None:
    reasons = buildkit_reasons("FROM x\nRUN <<EOF\necho hi\nEOF\n")
    assert frontend_gaps(reasons, "20.10.24+dfsg1") == ["a heredoc"]
    assert frontend_gaps(reasons, "27.3.1") == []
    with_syntax = buildkit_reasons("# syntax=docker/dockerfile:1.7\nFROM x\nRUN <<EOF\nx\nEOF\n")
    assert frontend_gaps(with_syntax, "20.10.24") == []
