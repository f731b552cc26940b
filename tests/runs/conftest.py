"""The pipeline example's image, built and pushed once for tests/runs (session scope)."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from run_helpers import EXAMPLE, LOCAL_ONLY, SDE, TEST_BLOBS, PipelineImage, engine_env

if TYPE_CHECKING:
    import docker

    from tests.harness.types import BaseImage, RegistryInfo, Services


@pytest.fixture(scope="session")
def pipeline_image(
    services: Services,
    engine: docker.DockerClient,
    base_image: BaseImage,
    registry_open: RegistryInfo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PipelineImage]:
    from typer.testing import CliRunner

    from reprobuild.cli import app

    if not TEST_BLOBS.is_dir():
        pytest.fail(f"{TEST_BLOBS} is missing: run scripts/prefetch_test_wheels.py", pytrace=False)
    tmp = tmp_path_factory.mktemp("pipeline-image")
    project = tmp / "pipeline"
    shutil.copytree(EXAMPLE, project, ignore=LOCAL_ONLY)
    env = engine_env(services, tmp)
    reference = f"{registry_open.host}/runs/pipeline:latest"
    result = CliRunner().invoke(
        app,
        ["image", str(project), "--base-image", base_image.from_ref, "--push", reference,
         "-q", "--source-date-epoch", SDE],
        env=env,
    )
    assert result.exit_code == 0, result.output
    record = json.loads((project / "reprobuild-record.json").read_text())
    yield PipelineImage(project, record, reference, env)
    for name in (str(record["image_id"]), reference):
        with contextlib.suppress(Exception):  # already gone: nothing to clean
            engine.images.remove(name, force=True)
