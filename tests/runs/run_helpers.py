"""Helpers for tests/runs: the built pipeline image's facts, git-initialised copies of
the example, the engine environment."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.harness.types import Services

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipeline"
TEST_BLOBS = ROOT / ".cache" / "test-blobs"
SDE = "1700000000"
LOCAL_ONLY = shutil.ignore_patterns("runs", "features", "model", "predictions", ".dvc",
                                     "reprobuild-record.json", "dvc.lock")


@dataclass(frozen=True)
class PipelineImage:
    project: Path  # the example with the generated Dockerfile and reprobuild-record.json
    record: dict[str, object]
    reference: str  # repo:tag it was pushed as
    env: dict[str, str]


def engine_env(services: Services, tmp: Path) -> dict[str, str]:
    docker_config = tmp / "docker-config"
    docker_config.mkdir(exist_ok=True)
    (docker_config / "config.json").write_text("{}")  # no stored credentials, no proxies
    return {
        "DOCKER_HOST": services.docker_host,
        "DOCKER_CONFIG": str(docker_config),
        "REPROBUILD_CACHE_DIR": str(TEST_BLOBS),
        "CI": "1",
        "GITHUB_OUTPUT": "",
    }


def git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "commit.gpgsign=false", *args],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def project_copy(image: PipelineImage, destination: Path) -> Path:
    """A committed git checkout of the example plus the image record (ignored by git)."""
    shutil.copytree(image.project, destination, ignore=LOCAL_ONLY)
    shutil.copy2(image.project / "reprobuild-record.json", destination)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "example")
    return destination
