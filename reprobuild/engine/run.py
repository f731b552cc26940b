"""Running a command in a container, and pulling an image by digest (``reprobuild run``).

Kept apart from the build/push client: one function per engine operation a run needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reprobuild.engine.errors import EngineError
from reprobuild.redaction import redact

if TYPE_CHECKING:
    from reprobuild.engine.client import Engine

__all__ = ["BindMount", "ContainerSpec", "ImageFacts", "image_facts", "pull_by_digest",
           "run_container"]

Sink = Callable[[bytes], None]


@dataclass(frozen=True, slots=True)
class BindMount:
    source: Path
    target: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    image: str
    command: tuple[str, ...]
    mounts: tuple[BindMount, ...]
    environment: Mapping[str, str]
    network: str
    user: str
    workdir: str


@dataclass(frozen=True, slots=True)
class ImageFacts:
    image_id: str
    user: str  # the image's USER ("" = root)
    workdir: str  # the image's WORKDIR ("" = /)


def image_facts(engine: Engine, reference: str) -> ImageFacts | None:
    """The local image's ID, USER and WORKDIR; None when the engine does not have it."""
    if engine.image_id(reference) is None:
        return None
    data = engine.inspect(reference)
    config = data.get("Config") or {}
    return ImageFacts(
        image_id=str(data["Id"]),
        user=str(config.get("User") or ""),
        workdir=str(config.get("WorkingDir") or ""),
    )


def pull_by_digest(
    engine: Engine, repository: str, digest: str, progress: Callable[[str], None]
) -> str:
    """``docker pull repository@digest``; the pulled image's ID (see ``Engine.pull``)."""
    return engine.pull(repository, digest, progress)


def run_container(engine: Engine, spec: ContainerSpec, stdout: Sink, stderr: Sink) -> int:
    """Create, start and wait for one container; its exit code. The container is removed
    afterwards whatever happened (its output already streamed to ``stdout``/``stderr``)."""
    import docker

    mounts = [
        docker.types.Mount(m.target, str(m.source), type="bind", read_only=m.read_only)
        for m in spec.mounts
    ]
    host_config = engine.api.create_host_config(
        mounts=mounts, network_mode=spec.network, auto_remove=False
    )
    created = engine._call(
        f"create a container from {spec.image}", engine.api.create_container,
        spec.image, command=list(spec.command), environment=dict(spec.environment),
        user=spec.user or None, working_dir=spec.workdir or None, host_config=host_config,
        network_disabled=spec.network == "none", labels={"io.reprobuild.run": "1"},
    )
    container = str(created["Id"])
    try:
        stream = engine._call(
            "attach to the container", engine.api.attach, container, stdout=True,
            stderr=True, stream=True, logs=True, demux=True,
        )
        engine._call("start the container", engine.api.start, container)
        for out, err in stream:
            if out:
                stdout(out)
            if err:
                stderr(err)
        result = engine._call("wait for the container", engine.api.wait, container)
        error = (result.get("Error") or {}).get("Message") if isinstance(result, dict) else None
        if error:
            raise EngineError(f"the container failed: {redact(str(error))}")
        return int(result["StatusCode"])
    finally:
        with contextlib.suppress(docker.errors.DockerException, OSError):
            engine.api.remove_container(container, force=True)
