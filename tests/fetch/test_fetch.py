"""`reprobuild fetch` against a package index served on loopback by the test (PEP 503
HTML, optional Basic auth): hash verification, the content-addressed cache, credentials
kept out of messages, wheels chosen for the target platform."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reprobuild.cli import app

runner = CliRunner()
PIN = (
    '{"schema": "reprobuild.pins/1", "images": {"python:3.11-slim-bookworm": '
    '{"digest": "sha256:' + "1" * 64 + '"}}}\n'
)


@dataclass
class Index:
    url: str
    files: dict[str, bytes]
    served: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    password: str | None = None


@pytest.fixture
def index() -> Iterator[Index]:
    state = Index(url="", files={})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.hits[self.path] += 1
            if state.password is not None:
                expected = base64.b64encode(f"alice:{state.password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="index"')
                    self.end_headers()
                    return
            parts = self.path.strip("/").split("/")
            if parts[0] == "simple" and len(parts) == 2:
                links = [
                    f'<a href="/files/{name}#sha256={hashlib.sha256(data).hexdigest()}">{name}</a>'
                    for name, data in sorted(state.files.items())
                    if name.split("-")[0].replace("_", "-") == parts[1]
                ]
                body = ("<html><body>" + "".join(links) + "</body></html>").encode()
            elif parts[0] == "files" and parts[1] in state.files:
                body = state.served.get(parts[1], state.files[parts[1]])
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    yield state
    server.shutdown()
    server.server_close()


def _wheel(index: Index, filename: str) -> str:
    data = f"not really a zip: {filename}".encode()
    index.files[filename] = data
    return hashlib.sha256(data).hexdigest()


def _project(tmp_path: Path, index_url: str, lines: list[str]) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.reprobuild]\nlockfile = "requirements.txt"\npython = "3.11"\n'
    )
    (project / "reprobuild.pins.json").write_text(PIN)
    (project / "requirements.txt").write_text(
        f"--index-url {index_url}\n" + "\n".join(lines) + "\n"
    )
    return project


def test_fetch_verifies_and_caches(tmp_path: Path, index: Index) -> None:
    pure = _wheel(index, "demo_pure-1.0-py3-none-any.whl")
    native = _wheel(index, "demo_native-2.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    other = _wheel(index, "demo_native-2.0-cp311-cp311-manylinux_2_17_aarch64.whl")
    project = _project(
        tmp_path,
        index.url,
        [
            f"demo-pure==1.0 --hash=sha256:{pure}",
            f"demo-native==2.0 --hash=sha256:{native} --hash=sha256:{other}",
        ],
    )
    cache = tmp_path / "cache"
    stale = project / ".reprobuild" / "wheels" / "stale-0-py3-none-any.whl"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    first = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(cache)])
    assert first.exit_code == 0, first.output
    assert "2 downloaded" in first.output
    wheels = sorted(p.name for p in (project / ".reprobuild" / "wheels").iterdir())
    assert wheels == [
        "demo_native-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "demo_pure-1.0-py3-none-any.whl",
    ]
    index.hits.clear()
    second = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(cache)])
    assert second.exit_code == 0, second.output
    assert "0 downloaded" in second.output and "2 from the cache" in second.output
    assert sum(index.hits.values()) == 0  # the cache answered everything, offline


def test_hash_mismatch_is_refused_and_not_cached(tmp_path: Path, index: Index) -> None:
    digest = _wheel(index, "demo_pure-1.0-py3-none-any.whl")
    index.served["demo_pure-1.0-py3-none-any.whl"] = b"tampered bytes"
    # The index page advertises the locked hash; the file served differs.
    project = _project(tmp_path, index.url, [f"demo-pure==1.0 --hash=sha256:{digest}"])
    result = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert f"the lock pins sha256:{digest}" in result.output
    assert not list((tmp_path / "c").rglob(digest))


def test_no_wheel_for_the_platform_names_the_package(tmp_path: Path, index: Index) -> None:
    arm = _wheel(index, "demo_native-2.0-cp311-cp311-manylinux_2_17_aarch64.whl")
    project = _project(tmp_path, index.url, [f"demo-native==2.0 --hash=sha256:{arm}"])
    result = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "no wheel for linux/amd64 Python 3.11" in result.output
    assert "demo-native==2.0" in result.output


def test_credentials_in_the_index_url_work_and_never_print(
    tmp_path: Path, index: Index
) -> None:
    index.password = "s3cret-pass"
    digest = _wheel(index, "demo_pure-1.0-py3-none-any.whl")
    good = index.url.replace("http://", "http://alice:s3cret-pass@")
    project = _project(tmp_path, good, [f"demo-pure==1.0 --hash=sha256:{digest}"])
    ok = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(tmp_path / "c")])
    assert ok.exit_code == 0, ok.output
    bad = index.url.replace("http://", "http://alice:wrong-pass@")
    (project / "requirements.txt").write_text(
        f"--index-url {bad}\ndemo-pure==1.0 --hash=sha256:{'0' * 64}\n"
    )
    refused = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(tmp_path / "d")])
    assert refused.exit_code == 2
    assert "refused access (401)" in refused.output
    assert "wrong-pass" not in refused.output and "http://***@127.0.0.1" in refused.output
