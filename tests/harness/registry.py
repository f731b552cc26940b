"""Launch the distribution registry (``/usr/bin/docker-registry``) on 127.0.0.1.

Each registry gets its own config, throwaway storage and log under a work directory and an
ephemeral port. Auth variants: none, htpasswd (Basic, bcrypt), token (bearer JWTs).
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from tests.harness.ports import free_port

REGISTRY_BIN = Path("/usr/bin/docker-registry")


class RegistryStartError(RuntimeError):
    """The registry process did not come up; the message carries its log tail."""


@dataclass(frozen=True)
class Htpasswd:
    username: str
    password: str


@dataclass(frozen=True)
class TokenAuth:
    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


@dataclass(frozen=True)
class Tls:
    certificate: Path
    key: Path


class RunningRegistry:
    """A registry subprocess; ``stop()`` terminates it (storage stays under workdir)."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path, tls: bool):
        self.process = process
        self.port = port
        self.workdir = workdir
        self.host = f"127.0.0.1:{port}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_htpasswd(path: Path, auth: Htpasswd) -> None:
    # The registry only accepts bcrypt entries in its htpasswd file.
    hashed = bcrypt.hashpw(auth.password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{auth.username}:{hashed}\n")


def _config(
    workdir: Path, port: int, htpasswd: Htpasswd | None, token: TokenAuth | None, tls: Tls | None
) -> dict[str, Any]:
    http: dict[str, Any] = {
        "addr": f"127.0.0.1:{port}",
        "secret": secrets.token_hex(16),
        "headers": {"X-Content-Type-Options": ["nosniff"]},
    }
    if tls is not None:
        http["tls"] = {"certificate": str(tls.certificate), "key": str(tls.key)}
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(workdir / "storage")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": http,
    }
    if htpasswd is not None:
        htpasswd_path = workdir / "htpasswd"
        write_htpasswd(htpasswd_path, htpasswd)
        config["auth"] = {"htpasswd": {"realm": "reprobuild-test", "path": str(htpasswd_path)}}
    elif token is not None:
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": token.service,
                "issuer": token.issuer,
                "rootcertbundle": str(token.rootcertbundle),
            }
        }
    return config


def _answers(url: str, ca_file: Path | None) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=2, context=context):
            return True
    except urllib.error.HTTPError as err:
        return err.code == 401  # auth-protected registries answer /v2/ with 401
    except OSError:
        return False


def start_registry(
    workdir: Path,
    *,
    htpasswd: Htpasswd | None = None,
    token: TokenAuth | None = None,
    tls: Tls | None = None,
    ready_timeout_s: float = 30.0,
    attempts: int = 5,
) -> RunningRegistry:
    """Start a registry and wait until ``/v2/`` answers; retries on port races."""
    if not REGISTRY_BIN.exists():
        raise RegistryStartError(
            f"{REGISTRY_BIN} is missing: run scripts/services.sh up (installs docker-registry)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "storage").mkdir(exist_ok=True)
    last_log = ""
    for _ in range(attempts):
        port = free_port()
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump(_config(workdir, port, htpasswd, token, tls)))
        with (workdir / "registry.log").open("wb") as log:
            process = subprocess.Popen(
                [str(REGISTRY_BIN), "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        registry = RunningRegistry(process, port, workdir, tls is not None)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(registry.url, tls.certificate if tls else None):
                return registry
            time.sleep(0.05)
        last_log = registry.log_tail()
        registry.stop()
    raise RegistryStartError(f"registry in {workdir} did not start; log tail:\n{last_log}")
