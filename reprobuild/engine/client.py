"""The one place reprobuild talks to the Docker daemon (docker-py's low-level API, plus
the Docker CLI for BuildKit builds, which docker-py cannot drive)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from reprobuild.engine.connect import EngineAddress, resolve_address
from reprobuild.engine.errors import BuildStepError, EngineError, EngineUnreachableError
from reprobuild.engine.streams import parse_build_stream, parse_push_stream
from reprobuild.redaction import redact

if TYPE_CHECKING:
    import docker

__all__ = ["Engine", "EngineInfo", "connect", "find_buildkit_cli"]

Progress = Callable[[str], None]
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "amd64": "amd64", "arm64": "arm64"}
_CLI_VERSION = re.compile(r"Docker version (\d+)\.")
_BK_STEP = re.compile(r"^#\d+ (\[[^\]]*\] .*)$")
_BK_ERROR = re.compile(r"(failed to solve|executor failed|did not complete successfully|"
                       r"^error:|ERROR:)", re.I)
_LOADED = re.compile(r"Loaded image(?: ID)?: (\S+)")
TIMEOUT_S = 3600  # one build step may print nothing for a long time


def _noop(_: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class EngineInfo:
    host: str
    version: str
    api_version: str
    storage_driver: str
    os: str
    arch: str
    containerd_store: bool
    buildkit_cli: str | None

    @property
    def platform(self) -> str:
        return f"{self.os}/{self.arch}"


@functools.cache
def find_buildkit_cli() -> str | None:
    """A docker CLI that can run a BuildKit build against this daemon: a 20.x CLI
    (BuildKit built in) or a newer one with the buildx plugin. ``REPROBUILD_DOCKER_CLI``
    overrides the search (Debian's ``/usr/bin/docker`` first: PATH may shadow it)."""
    override = os.environ.get("REPROBUILD_DOCKER_CLI")
    candidates = [override] if override else ["/usr/bin/docker", shutil.which("docker")]
    for cli in candidates:
        if not cli or not Path(cli).is_file():
            continue
        try:
            out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        match = _CLI_VERSION.search(out.stdout)
        if not match:
            continue
        if int(match.group(1)) < 23:
            return cli
        try:
            buildx = subprocess.run(
                [cli, "buildx", "version"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if buildx.returncode == 0:
            return cli
    return None


class Engine:
    """A connected engine. ``api`` is the docker-py ``APIClient`` (for callers that need
    an operation not wrapped here)."""

    def __init__(self, api: docker.APIClient, address: EngineAddress) -> None:
        self.api = api
        self.address = address
        self._info: EngineInfo | None = None

    @property
    def host(self) -> str:
        return self.address.host

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ facts
    def info(self) -> EngineInfo:
        if self._info is None:
            version = self._call("read the engine version", self.api.version)
            info = self._call("read the engine info", self.api.info)
            driver_status = {str(k): str(v) for k, v in info.get("DriverStatus") or []}
            driver_type = driver_status.get("driver-type", "")
            containerd = driver_type.startswith("io.containerd.snapshotter")
            arch = str(version.get("Arch") or info.get("Architecture") or "")
            self._info = EngineInfo(
                host=redact(self.host),
                version=str(version.get("Version", "")),
                api_version=str(version.get("ApiVersion", "")),
                storage_driver=str(info.get("Driver", "")),
                os=str(version.get("Os") or info.get("OSType") or "linux"),
                arch=_ARCH.get(arch, arch),
                containerd_store=containerd,
                buildkit_cli=find_buildkit_cli(),
            )
        return self._info

    def image_id(self, reference: str) -> str | None:
        """The ID of a local image (by name, digest reference or ID), None when absent."""
        import docker

        try:
            data = self.api.inspect_image(reference)
        except docker.errors.NotFound:
            return None
        except docker.errors.DockerException as exc:
            raise EngineError(f"cannot inspect {reference}: {_short(exc)}") from None
        return str(data["Id"])

    def inspect(self, image_id: str) -> dict[str, Any]:
        return dict(self._call(f"inspect {image_id}", self.api.inspect_image, image_id))

    # ------------------------------------------------------------------ build
    def build(
        self,
        context_tar: IO[bytes],
        *,
        dockerfile: str,
        buildargs: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        network_mode: str = "none",
        nocache: bool = False,
        pull: bool = False,
        progress: Progress = _noop,
    ) -> str:
        """Legacy-builder build of an uncompressed context tar; returns the image ID."""
        import docker

        try:
            stream = self.api.build(
                fileobj=context_tar,
                custom_context=True,
                dockerfile=dockerfile,
                buildargs=dict(buildargs or {}),
                labels=dict(labels or {}),
                network_mode=network_mode,
                nocache=nocache,
                pull=pull,
                rm=True,  # docker-py defaults to False, unlike the CLI
                forcerm=True,
                decode=True,
                use_config_proxy=False,  # else ~/.docker/config.json proxies become build args
            )
            result = parse_build_stream(stream, progress)
        except BuildStepError:
            raise
        except docker.errors.DockerException as exc:
            raise EngineError(f"the engine refused the build: {_short(exc)}") from None
        except OSError as exc:
            raise EngineUnreachableError(redact(self.host), type(exc).__name__) from None
        if not result.image_id.startswith("sha256:"):
            return self.image_id(result.image_id) or result.image_id
        return result.image_id

    def build_with_cli(
        self,
        context_tar: IO[bytes],
        *,
        dockerfile: str,
        buildargs: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        network_mode: str = "none",
        nocache: bool = False,
        progress: Progress = _noop,
    ) -> str:
        """BuildKit build through the docker CLI (docker-py has no BuildKit session)."""
        cli = self.info().buildkit_cli
        if cli is None:
            raise EngineError("no BuildKit-capable docker CLI found")
        with tempfile.TemporaryDirectory(prefix="reprobuild-iid-") as tmp:
            iidfile = Path(tmp) / "iid"
            command = [cli, "build", "--progress=plain", f"--network={network_mode}",
                       "--iidfile", str(iidfile), "-f", dockerfile]
            for key, value in sorted((buildargs or {}).items()):
                command += ["--build-arg", f"{key}={value}"]
            for key, value in sorted((labels or {}).items()):
                command += ["--label", f"{key}={value}"]
            if nocache:
                command.append("--no-cache")
            command.append("-")
            env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}
            env.pop("DOCKER_CONTEXT", None)
            step = "the first step"
            tail: list[str] = []
            errors: list[str] = []
            with subprocess.Popen(
                command, stdin=context_tar, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env, text=True, errors="replace",
            ) as proc:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    line = raw.rstrip("\n")
                    progress(line)
                    found = _BK_STEP.match(line)
                    if found and "CACHED" not in line:
                        step = found.group(1)
                    if _BK_ERROR.search(line):
                        errors.append(line)
                    tail = [*tail[-19:], line]
            if proc.returncode != 0:
                message = errors[-1] if errors else f"docker build exited {proc.returncode}"
                raise BuildStepError(step, redact(message), tuple(tail))
            return iidfile.read_text(encoding="utf-8").strip()

    # ------------------------------------------------------------------ images
    @contextlib.contextmanager
    def save(self, image_id: str) -> Iterator[IO[bytes]]:
        """A seekable ``docker save`` tar of ``image_id`` (spooled to a temp file)."""
        with tempfile.TemporaryFile(prefix="reprobuild-save-") as spool:
            chunks = self._call(f"save {image_id}", self.api.get_image, image_id)
            try:
                for chunk in chunks:
                    spool.write(chunk)
            except OSError as exc:
                raise EngineError(f"saving {image_id} failed: {type(exc).__name__}") from None
            spool.seek(0)
            yield spool

    def load(self, tar_stream: IO[bytes]) -> str:
        """Load a save-format tar; the loaded image's ID."""
        events = self._call("load an image", self.api.load_image, tar_stream)
        loaded: str | None = None
        for event in events or []:
            if isinstance(event, Mapping):
                if "error" in event or "errorDetail" in event:
                    detail = event.get("error") or event.get("errorDetail")
                    raise EngineError(f"the engine refused the image: {detail}")
                found = _LOADED.search(str(event.get("stream", "")))
                if found:
                    loaded = found.group(1)
        if loaded is None:
            raise EngineError("the engine loaded no image")
        if loaded.startswith("sha256:"):
            return loaded
        return self.image_id(loaded) or loaded

    def tag(self, image_id: str, repo: str, tag: str) -> None:
        ok = self._call(f"tag {image_id}", self.api.tag, image_id, repo, tag, force=True)
        if ok is False:
            raise EngineError(f"the engine did not tag {image_id} as {repo}:{tag}")

    def push(
        self,
        repo: str,
        tag: str,
        auth: Mapping[str, str] | None = None,
        progress: Progress = _noop,
    ) -> str:
        """Push ``repo:tag``; the manifest digest. Errors arrive inside the 200 stream."""
        stream = self._call(
            f"push {repo}:{tag}", self.api.push, repo, tag, stream=True, decode=True,
            auth_config=dict(auth) if auth else None,
        )
        try:
            return parse_push_stream(stream, f"{repo}:{tag}", progress)
        except OSError as exc:
            raise EngineUnreachableError(redact(self.host), type(exc).__name__) from None

    def pull(self, repository: str, digest: str, progress: Progress = _noop) -> str:
        """``docker pull repository@digest`` (never by tag); the pulled image's ID.
        Errors arrive inside the 200 stream, as with push."""
        stream = self._call(
            f"pull {repository}@{digest}", self.api.pull, repository, tag=digest,
            stream=True, decode=True,
        )
        try:
            for event in stream:
                if isinstance(event, Mapping):
                    if "error" in event or "errorDetail" in event:
                        detail = event.get("error") or event.get("errorDetail")
                        raise EngineError(
                            f"pull of {repository}@{digest} failed: {redact(str(detail))}"
                        )
                    status = event.get("status")
                    if status and not event.get("progressDetail"):
                        progress(str(status))
        except OSError as exc:
            raise EngineUnreachableError(redact(self.host), type(exc).__name__) from None
        image_id = self.image_id(f"{repository}@{digest}")
        if image_id is None:
            raise EngineError(f"the engine reports no image after pulling {repository}@{digest}")
        return image_id

    def remove(self, image_id: str, force: bool = False) -> None:
        import docker

        try:
            self.api.remove_image(image_id, force=force, noprune=False)
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException as exc:
            raise EngineError(f"cannot remove {image_id}: {_short(exc)}") from None

    # ------------------------------------------------------------------ plumbing
    def _call(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import docker
        import requests

        try:
            return func(*args, **kwargs)
        except requests.exceptions.ConnectionError:
            raise EngineUnreachableError(redact(self.host)) from None
        except docker.errors.DockerException as exc:
            raise EngineError(f"cannot {what}: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc)
    return redact(" ".join(text.split()))[:400]


def connect(docker_host: str | None = None) -> Engine:
    """Connect to the engine (see :mod:`reprobuild.engine.connect` for the address rules)
    and negotiate the API version; :class:`EngineUnreachableError` when nobody answers."""
    import docker
    import requests

    address = resolve_address(docker_host)
    try:
        api = docker.APIClient(
            base_url=address.host, version="auto", timeout=TIMEOUT_S, tls=address.tls or False
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        raise EngineUnreachableError(redact(address.host)) from None
    return Engine(api, address)
