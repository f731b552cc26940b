"""Base images built locally (nothing can be pulled from Docker Hub here).

* Debian bookworm rootfs from ``mmdebstrap --variant=minbase`` — one with python3,
  python3-venv, python3-pip, one without — imported into the engine with a label that holds a
  hash of the recipe, so reruns find them and skip mmdebstrap (the engine is the cache).
* ``library/python:<tag>`` pushed to the mirror, so ``FROM python:<tag>@sha256:…`` resolves.
* Stand-ins for ``nvidia/cuda:<real tag>`` built FROM those rootfs images with the ENV and
  labels the real images set (no CUDA libraries), pushed to the mirror.

Run as ``python -m tests.harness.base_images --env-file .services/env`` (what
``scripts/services.sh base-images`` does) or through the ``base_image`` / ``cuda_images``
fixtures.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import docker
import httpx

from tests.harness.blob_copy import CopyError, copy_manifest
from tests.harness.images import PushError, push
from tests.harness.types import BaseImage, RegistryInfo

SUITE = "bookworm"
RECIPE_VERSION = "1"  # bump to force a rebuild of every cached image
PYTHON_TAG = "3.11-slim-bookworm"  # bookworm's python3 is 3.11.x
LABEL_ROOTFS = "org.reprobuild.test.rootfs"
LABEL_IMAGE = "org.reprobuild.test.image"
LABEL_HAS_PYTHON = "org.reprobuild.test.has-python"
LOCAL_REPOSITORY = "reprobuild-test/base"
LOCAL_CUDA_REPOSITORY = "reprobuild-test/cuda"
DEBIAN_MIRROR = os.environ.get("REPROBUILD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SOURCE_DATE_EPOCH = "1700000000"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CACHE_DIR = Path(os.environ.get("REPROBUILD_TEST_CACHE", "/var/tmp/reprobuild-test"))


class BaseImageError(RuntimeError):
    """A base image could not be built or pushed; the message says which and why."""


@dataclass(frozen=True)
class RootfsRecipe:
    name: str
    includes: tuple[str, ...]
    cmd: str

    @property
    def key(self) -> str:
        spec = {"suite": SUITE, "variant": "minbase", "v": RECIPE_VERSION, **asdict(self)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


PYTHON_ROOTFS = RootfsRecipe("python", ("python3", "python3-venv", "python3-pip"), "python3")
PLAIN_ROOTFS = RootfsRecipe("plain", (), "bash")


@dataclass(frozen=True)
class RootfsImage:
    recipe: RootfsRecipe
    image_id: str
    built: bool  # False: found in the engine (cache hit)


@dataclass(frozen=True)
class CudaVariant:
    """A stand-in for one nvidia/cuda tag; values follow the real images' config."""

    tag: str
    cuda_version: str  # CUDA_VERSION
    cudart: str  # NV_CUDA_CUDART_VERSION
    driver_floor: str  # brand=tesla,driver>=… in NVIDIA_REQUIRE_CUDA
    cudnn: str | None  # com.nvidia.cudnn.version label on cudnn flavors
    has_python: bool  # the real images have no python; some stand-ins add it for build tests

    @property
    def rootfs(self) -> RootfsRecipe:
        return PYTHON_ROOTFS if self.has_python else PLAIN_ROOTFS

    @property
    def key(self) -> str:
        spec = {"v": RECIPE_VERSION, "rootfs": self.rootfs.key, **asdict(self)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def dockerfile(self, parent_id: str) -> str:
        major_minor = ".".join(self.cuda_version.split(".")[:2])
        major, minor = major_minor.split(".")
        floor = int(self.driver_floor)
        require = f"cuda>={major_minor} brand=tesla,driver>={floor},driver<{floor + 1}"
        env = {
            "NVARCH": "x86_64",
            "NVIDIA_REQUIRE_CUDA": require,
            "NV_CUDA_CUDART_VERSION": self.cudart,
            "NV_CUDA_COMPAT_PACKAGE": f"cuda-compat-{major}-{minor}",
            "CUDA_VERSION": self.cuda_version,
            "PATH": f"/usr/local/nvidia/bin:/usr/local/cuda/bin:{BASE_PATH}",
            "LD_LIBRARY_PATH": "/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
            "NVIDIA_VISIBLE_DEVICES": "all",
            "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        }
        labels = {
            "maintainer": "NVIDIA CORPORATION <cudatools@nvidia.com>",
            LABEL_IMAGE: self.key,
            LABEL_ROOTFS: "",  # not a rootfs image itself (labels are inherited)
            LABEL_HAS_PYTHON: str(self.has_python).lower(),
        }
        if self.cudnn:
            env["NV_CUDNN_VERSION"] = self.cudnn
            labels["com.nvidia.cudnn.version"] = self.cudnn
        lines = [f"FROM {parent_id}"]
        lines += [f"ENV {k}={json.dumps(v)}" for k, v in env.items()]
        lines += [f"LABEL {json.dumps(k)}={json.dumps(v)}" for k, v in labels.items()]
        return "\n".join(lines) + "\n"


CUDA_VARIANTS = (
    CudaVariant("12.4.1-base-ubuntu22.04", "12.4.1", "12.4.127-1", "470", None, False),
    CudaVariant("11.8.0-base-ubuntu22.04", "11.8.0", "11.8.89-1", "450", None, False),
    CudaVariant("12.1.1-runtime-ubuntu22.04", "12.1.1", "12.1.105-1", "470", None, True),
    CudaVariant(
        "12.4.1-cudnn-runtime-ubuntu22.04", "12.4.1", "12.4.127-1", "470", "9.1.0.70-1", True
    ),
)


def _progress(message: str) -> None:
    print(f"[base-images] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """Serialise builders across processes (parallel sessions share one engine)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with (CACHE_DIR / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_rootfs(client: docker.DockerClient, recipe: RootfsRecipe) -> str | None:
    """ID of the imported rootfs image for ``recipe``, if the engine has it.

    Looks up the local tag first, then the label (a copy pulled back from a registry after the
    tag was removed). Images built FROM it inherit the label, so only single-entry histories
    (an import) count.
    """
    local = f"{LOCAL_REPOSITORY}:{recipe.name}-{recipe.key}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        return str(client.images.get(local).id)
    for image in client.images.list(filters={"label": f"{LABEL_ROOTFS}={recipe.key}"}):
        if len(client.api.history(image.id)) == 1:
            image.tag(local)
            return str(image.id)
    return None


def _mmdebstrap(recipe: RootfsRecipe, out: Path) -> subprocess.Popen[bytes]:
    command = ["mmdebstrap", "--variant=minbase", "--aptopt=Acquire::Retries 3"]
    if recipe.includes:
        command.append("--include=" + ",".join(recipe.includes))
    command += [SUITE, str(out), DEBIAN_MIRROR]
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    log = (out.parent / f"{recipe.name}.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def ensure_rootfs_images(
    client: docker.DockerClient, recipes: Iterable[RootfsRecipe]
) -> dict[str, RootfsImage]:
    """Rootfs images by recipe name; missing ones are built with mmdebstrap in parallel."""
    result: dict[str, RootfsImage] = {}
    with _build_lock():
        missing = []
        for recipe in recipes:
            found = find_rootfs(client, recipe)
            if found:
                result[recipe.name] = RootfsImage(recipe, found, built=False)
            else:
                missing.append(recipe)
        if not missing:
            return result
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="rootfs-") as tmp:
            started = time.monotonic()
            names = ", ".join(r.name for r in missing)
            _progress(f"mmdebstrap {SUITE} minbase ({names}) from {DEBIAN_MIRROR}")
            jobs = {r.name: (r, Path(tmp) / f"{r.name}.tar") for r in missing}
            procs = {name: _mmdebstrap(r, out) for name, (r, out) in jobs.items()}
            for name, proc in procs.items():
                if proc.wait() != 0:
                    log = (Path(tmp) / f"{name}.log").read_text(errors="replace")
                    tail = "\n".join(log.splitlines()[-10:])
                    raise BaseImageError(f"mmdebstrap for the {name} rootfs failed:\n{tail}")
            _progress(f"mmdebstrap done in {time.monotonic() - started:.0f} s; importing")
            for name, (recipe, out) in jobs.items():
                result[name] = RootfsImage(recipe, _import(client, recipe, out), built=True)
        _progress(f"rootfs images ready in {time.monotonic() - started:.0f} s")
    return result


def _import(client: docker.DockerClient, recipe: RootfsRecipe, tar: Path) -> str:
    changes = [
        f"LABEL {LABEL_ROOTFS}={recipe.key}",
        f"LABEL {LABEL_HAS_PYTHON}={str(bool(recipe.includes)).lower()}",
        f"ENV PATH={BASE_PATH}",
        "ENV LANG=C.UTF-8",
        f'CMD ["{recipe.cmd}"]',
    ]
    tag = f"{recipe.name}-{recipe.key}"
    try:
        client.api.import_image(str(tar), repository=LOCAL_REPOSITORY, tag=tag, changes=changes)
        return str(client.images.get(f"{LOCAL_REPOSITORY}:{tag}").id)
    except docker.errors.DockerException as err:
        raise BaseImageError(f"docker import of the {recipe.name} rootfs failed: {err}") from err


def _push_as(
    client: docker.DockerClient,
    image_id: str,
    registry: RegistryInfo,
    repository: str,
    tag: str,
) -> str:
    target = f"{registry.host}/{repository}"
    auth = None
    if registry.username is not None and registry.password is not None:
        auth = {"username": registry.username, "password": registry.password}
    try:
        client.images.get(image_id).tag(target, tag)
        return push(client, target, tag, auth)
    except (PushError, docker.errors.DockerException) as err:
        raise BaseImageError(f"pushing {target}:{tag} failed: {err}") from err


def _mirror_info(mirror: str) -> RegistryInfo:
    return RegistryInfo(host=mirror, url=f"http://{mirror}")


def ensure_python_base(
    client: docker.DockerClient,
    mirror: str,
    *,
    extra_registries: Iterable[RegistryInfo] = (),
) -> BaseImage:
    """``library/python:<PYTHON_TAG>`` in the engine and mirror (+ ``extra_registries``)."""
    # Both rootfs at once: cold, the two mmdebstrap runs overlap (cuda_images needs the other).
    rootfs = ensure_rootfs_images(client, [PYTHON_ROOTFS, PLAIN_ROOTFS])["python"]
    started = time.monotonic()
    digest = _push_as(client, rootfs.image_id, _mirror_info(mirror), "library/python", PYTHON_TAG)
    mirror_info = _mirror_info(mirror)
    for registry in extra_registries:
        if registry.username is None and registry.url.startswith("http://"):
            try:
                copy_manifest(mirror_info, registry, "library/python", digest, PYTHON_TAG)
            except (CopyError, httpx.HTTPError) as err:
                raise BaseImageError(
                    f"copying python:{PYTHON_TAG} to {registry.host}: {err}"
                ) from err
        else:
            _push_as(client, rootfs.image_id, registry, "library/python", PYTHON_TAG)
    _progress(f"python:{PYTHON_TAG}@{digest} pushed in {time.monotonic() - started:.0f} s")
    return BaseImage("library/python", PYTHON_TAG, digest, rootfs.image_id, has_python=True)


def _build_variant(client: docker.DockerClient, variant: CudaVariant, parent_id: str) -> str:
    local = f"{LOCAL_CUDA_REPOSITORY}:{variant.key}"
    with contextlib.suppress(docker.errors.ImageNotFound):
        return str(client.images.get(local).id)
    dockerfile = io.BytesIO(variant.dockerfile(parent_id).encode())
    try:
        image, _ = client.images.build(
            fileobj=dockerfile,
            pull=False,
            rm=True,
            forcerm=True,
            network_mode="none",
            use_config_proxy=False,
        )
        image.tag(local)
    except docker.errors.DockerException as err:
        raise BaseImageError(f"building the nvidia/cuda:{variant.tag} stand-in: {err}") from err
    return str(image.id)


def ensure_cuda_images(
    client: docker.DockerClient, mirror: str, variants: Iterable[CudaVariant] = CUDA_VARIANTS
) -> dict[str, BaseImage]:
    """``nvidia/cuda:<tag>`` stand-ins in the engine and the mirror, keyed by tag."""
    variants = tuple(variants)
    rootfs = ensure_rootfs_images(client, {v.rootfs for v in variants})
    images: dict[str, BaseImage] = {}
    with _build_lock():
        for variant in variants:
            image_id = _build_variant(client, variant, rootfs[variant.rootfs.name].image_id)
            digest = _push_as(client, image_id, _mirror_info(mirror), "nvidia/cuda", variant.tag)
            images[variant.tag] = BaseImage(
                "nvidia/cuda", variant.tag, digest, image_id, has_python=variant.has_python
            )
    _progress(f"nvidia/cuda stand-ins pushed: {', '.join(images)}")
    return images


def main(argv: list[str] | None = None) -> int:
    from tests.harness.services import read_env_file, services_from_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--env-file", type=Path, required=True)
    args = parser.parse_args(argv)
    services = services_from_env(read_env_file(args.env_file), args.env_file)
    started = time.monotonic()
    client = docker.DockerClient(base_url=services.docker_host, timeout=900)
    try:
        python = ensure_python_base(client, services.mirror)
        cuda = ensure_cuda_images(client, services.mirror)
    except BaseImageError as err:
        _progress(f"ERROR: {err}")
        return 1
    finally:
        client.close()
    print(f"{python.from_ref} {python.image_id}")
    for image in cuda.values():
        print(f"{image.from_ref} {image.image_id}")
    _progress(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
