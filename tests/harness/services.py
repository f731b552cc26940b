"""Bring up the engine + mirror with ``scripts/services.sh up`` and read ``.services/env``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness.types import Services

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services.sh"


class ServicesError(RuntimeError):
    """The servers could not be started; the message says why."""


def services_dir() -> Path:
    return Path(os.environ.get("REPROBUILD_SERVICES_DIR", REPO_ROOT / ".services"))


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def services_from_env(values: dict[str, str], source: Path) -> Services:
    try:
        return Services(
            docker_host=values["DOCKER_HOST"],
            mirror=values["REPROBUILD_TEST_MIRROR"],
            mirror_configured=values.get("REPROBUILD_TEST_MIRROR_CONFIGURED", "0") == "1",
            storage_driver=values.get("REPROBUILD_TEST_STORAGE_DRIVER", ""),
            engine_owned=values.get("REPROBUILD_TEST_ENGINE_OWNED", "0") == "1",
        )
    except KeyError as err:
        raise ServicesError(f"{source} lacks {err.args[0]}: rerun scripts/services.sh up") from err


def ensure_services(timeout_s: float = 1800) -> Services:
    """Run ``scripts/services.sh up`` (idempotent, fast when already up) and parse its env."""
    try:
        result = subprocess.run(
            ["bash", str(SERVICES_SCRIPT), "up"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ServicesError(f"scripts/services.sh up failed: {err}") from err
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
        raise ServicesError(f"scripts/services.sh up exited {result.returncode}:\n{tail}")
    env_file = services_dir() / "env"
    if not env_file.exists():
        raise ServicesError(f"scripts/services.sh up did not write {env_file}")
    return services_from_env(read_env_file(env_file), env_file)


def require_mirror(services: Services) -> None:
    """Fail (not skip) when the engine cannot resolve Hub names through our mirror."""
    if not services.mirror_configured:
        raise ServicesError(
            f"the engine at {services.docker_host} was not started with --registry-mirror="
            f"http://{services.mirror} (an engine already running was reused); stop it or "
            "unset DOCKER_HOST so scripts/services.sh up starts its own dockerd"
        )
