"""normalize_image against the real engine: two clean builds, seconds apart, with context
files touched in between, give one image ID; base layers keep their diff IDs; a one-byte
change gives another ID; two pushes give one manifest digest; a container sees the same
files (hardlinks, whiteouts, opaque dirs, devices, symlinks) after the rewrite."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reprobuild.engine import Engine, connect
from reprobuild.image.normalize import NormalizedImage, normalize_image

if TYPE_CHECKING:
    import docker

    from tests.harness.types import BaseImage, RegistryInfo, Services

pytestmark = pytest.mark.engine

SDE = 1_700_000_000

DOCKERFILE = """\
FROM {base}
COPY app/ /app/
RUN set -e; \\
    mkdir -p /data/keep /data/gone; echo one > /data/a; ln /data/a /data/b; ln /data/a /data/0; \\
    ln -s /data/a /data/link; mkfifo /data/fifo; mknod /data/null c 1 3; \\
    touch /data/gone/x /data/keep/y; \\
    python3 -m compileall -q -j 1 --invalidation-mode checked-hash /app
RUN set -e; rm -rf /data/gone /etc/debian_version; mkdir /data/gone; echo two > /data/gone/z; \\
    rm -f /var/log/*.log /var/cache/ldconfig/aux-cache
"""

LISTING = (
    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o "
    "-printf '%p %y %m %U %G %n %s %l\\n' | sort"
)


@dataclass(frozen=True)
class Built:
    raw_id: str
    normalized: NormalizedImage


@dataclass
class Builds:
    base: BaseImage
    first: Built
    second: Built
    changed: Built
    created: list[str]


def _context(root: Path, dockerfile: str) -> io.BytesIO:
    (root / "Dockerfile").write_text(dockerfile)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)  # host mtimes
    buffer.seek(0)
    return buffer


def build_raw(client: docker.DockerClient, context: Path, dockerfile: str) -> tuple[str, str]:
    """A clean build: returns (image id, log) and asserts every RUN step ran."""
    image_id, log = "", list[str]()
    for chunk in client.api.build(
        fileobj=_context(context, dockerfile),
        custom_context=True,
        nocache=True,
        rm=True,
        forcerm=True,
        decode=True,
        network_mode="none",
        use_config_proxy=False,
    ):
        if "error" in chunk:
            raise AssertionError(f"build failed: {chunk['error']}\n{''.join(log)}")
        log.append(str(chunk.get("stream", "")))
        image_id = str(chunk.get("aux", {}).get("ID", image_id))
    text = "".join(log)
    assert "Using cache" not in text
    assert text.count("Running in ") == dockerfile.count("\nRUN ")
    assert image_id
    return image_id, text


def _build(
    engine: docker.DockerClient,
    repro_engine: Engine,
    base: BaseImage,
    context: Path,
    created: list[str],
) -> Built:
    raw_id, _ = build_raw(engine, context, DOCKERFILE.format(base=base.image_id))
    created.append(raw_id)
    normalized = normalize_image(
        repro_engine, raw_id, base_image_id=base.image_id, source_date_epoch=SDE
    )
    created.append(normalized.image_id)
    return Built(raw_id, normalized)


def _touch_all(root: Path, when: float) -> None:
    for path in root.rglob("*"):
        os.utime(path, (when, when))


@pytest.fixture(scope="module")
def builds(
    engine: docker.DockerClient,
    services: Services,
    base_image: BaseImage,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Builds]:
    context = tmp_path_factory.mktemp("normalize-context")
    (context / "app").mkdir()
    (context / "app" / "main.py").write_text("print('hello')\n")
    (context / "app" / "data.txt").write_text("payload\n")
    created: list[str] = []
    repro_engine = connect(services.docker_host)
    try:
        first = _build(engine, repro_engine, base_image, context, created)
        time.sleep(1.5)  # seconds apart: every wall-clock mtime differs
        _touch_all(context, time.time())
        second = _build(engine, repro_engine, base_image, context, created)
        (context / "app" / "data.txt").write_text("payloaD\n")  # one byte
        changed = _build(engine, repro_engine, base_image, context, created)
        yield Builds(base_image, first, second, changed, created)
    finally:
        for image_id in reversed(created):
            with contextlib.suppress(Exception):
                engine.images.remove(image_id, force=True, noprune=False)
        repro_engine.close()


def test_raw_builds_differ_but_normalized_builds_are_identical(builds: Builds) -> None:
    assert builds.first.raw_id != builds.second.raw_id  # the problem being solved
    assert builds.first.normalized.image_id == builds.second.normalized.image_id
    assert builds.first.normalized.diff_ids == builds.second.normalized.diff_ids


def test_base_layers_keep_their_diff_ids(
    builds: Builds, engine: docker.DockerClient
) -> None:
    base_layers = tuple(engine.api.inspect_image(builds.base.image_id)["RootFS"]["Layers"])
    normalized = builds.first.normalized
    assert normalized.base_layer_count == len(base_layers)
    assert normalized.diff_ids[: len(base_layers)] == base_layers
    assert len(normalized.diff_ids) == len(base_layers) + 3  # COPY + two RUN layers


def test_loaded_image_id_is_the_config_digest(
    builds: Builds, engine: docker.DockerClient
) -> None:
    attrs: dict[str, Any] = engine.api.inspect_image(builds.first.normalized.image_id)
    assert attrs["Id"] == builds.first.normalized.image_id
    assert tuple(attrs["RootFS"]["Layers"]) == builds.first.normalized.diff_ids
    assert attrs["Created"].startswith("2023-11-14T22:13:20")
    assert not attrs.get("Container")
    assert not attrs.get("DockerVersion")


def test_one_byte_source_change_gives_another_id(builds: Builds) -> None:
    assert builds.changed.normalized.image_id != builds.first.normalized.image_id
    first, changed = builds.first.normalized, builds.changed.normalized
    pairs = zip(first.diff_ids, changed.diff_ids, strict=True)
    differing = [i for i, (a, b) in enumerate(pairs) if a != b]
    assert differing == [first.base_layer_count]  # only the COPY layer


def _listing(engine: docker.DockerClient, image: str) -> list[str]:
    output = engine.containers.run(
        image, ["sh", "-c", LISTING], remove=True, network_mode="none", user="0"
    )
    return bytes(output).decode().splitlines()


def test_container_sees_the_same_files_after_the_rewrite(
    builds: Builds, engine: docker.DockerClient
) -> None:
    before = _listing(engine, builds.first.raw_id)
    after = _listing(engine, builds.first.normalized.image_id)
    assert after == before
    lines = {line.split(" ", 1)[0]: line for line in after}
    assert lines["/data/a"].split()[5] == "3"  # three names, one inode
    assert lines["/data/null"].split()[1] == "c"
    assert lines["/data/fifo"].split()[1] == "p"
    assert "/etc/debian_version" not in lines  # whiteout kept
    assert "/data/gone/x" not in lines and "/data/gone/z" in lines  # opaque dir kept
    assert lines["/data/link"].split()[-1] == "/data/a"


def test_rewritten_layers_have_clamped_mtimes_and_no_owner_names(
    builds: Builds, engine: docker.DockerClient
) -> None:
    output = engine.containers.run(
        builds.first.normalized.image_id,
        ["sh", "-c", "find /app /data -printf '%T@\\n' | sort -u"],
        remove=True,
        network_mode="none",
    )
    mtimes = {float(value) for value in bytes(output).decode().split()}
    assert max(mtimes) <= SDE


def _push(engine: docker.DockerClient, image_id: str, repository: str) -> str:
    engine.api.tag(image_id, repository, "v1")
    digest = ""
    for chunk in engine.api.push(repository, "v1", stream=True, decode=True):
        if "error" in chunk:
            raise AssertionError(f"push failed: {chunk['error']}")
        digest = str(chunk.get("aux", {}).get("Digest", digest))
    return digest  # the tag goes with the image (removed by ID, forced, at module end)


def test_pushing_twice_gives_one_manifest_digest(
    builds: Builds, engine: docker.DockerClient, registry_open: RegistryInfo
) -> None:
    first = _push(engine, builds.first.normalized.image_id, f"{registry_open.host}/repro/one")
    second = _push(engine, builds.second.normalized.image_id, f"{registry_open.host}/repro/two")
    assert first.startswith("sha256:")
    assert first == second


def test_normalizing_a_normalized_image_changes_nothing(
    builds: Builds, services: Services
) -> None:
    with connect(services.docker_host) as repro_engine:
        again = normalize_image(
            repro_engine,
            builds.first.normalized.image_id,
            base_image_id=builds.base.image_id,
            source_date_epoch=SDE,
        )
    assert again == builds.first.normalized
