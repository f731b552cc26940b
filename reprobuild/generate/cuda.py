"""CUDA base-image choice as a lookup over data (``reprobuild/data/cuda.json``), not branches.

Two steps, both offline:

1. :func:`infer_cuda` reads what a lock implies: torch's PEP 440 local label
   (``torch==2.4.1+cu121`` -> 12.1), and the CUDA libraries that torch, TensorFlow
   (``[and-cuda]``) and JAX (``[cuda12]``) pin as ``nvidia-*-cu12`` wheels, whose
   ``major.minor`` is the CUDA toolkit version (``nvidia-cuda-runtime-cu12==12.4.127``).
   Contradictions (``+cu121`` beside ``nvidia-cuda-runtime-cu12==12.4.*``) are refused.
2. :func:`choose_cuda_base` picks the ``nvidia/cuda`` tag from the release table: the
   newest supported patch release of that ``major.minor``, in the flavor asked for
   (``base`` when the CUDA libraries come from pip wheels: the image then only needs the
   driver that the NVIDIA container toolkit injects).

Resolving the tag to its index digest is the registry client's job, not this module's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from packaging.version import InvalidVersion, Version

from reprobuild.errors import ReprobuildError
from reprobuild.models import Lock

__all__ = [
    "CudaBase",
    "CudaRequirement",
    "CudaSelectionError",
    "choose_cuda_base",
    "infer_cuda",
]

Flavor = Literal["base", "runtime", "devel"]

# Wheels whose own major.minor is the CUDA toolkit's (cuDNN, NCCL, cuFFT… have their own
# version schemes and say nothing about the toolkit).
_TOOLKIT_WHEELS = re.compile(
    r"^nvidia-(cuda-runtime|cuda-nvrtc|cuda-cupti|cuda-nvcc|cublas|nvjitlink|nvtx)-cu(\d+)$"
)
_ANY_NVIDIA_CU = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")
_LOCAL_CUDA = re.compile(r"^cu(\d+)(\d)$")
_FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin")


class CudaSelectionError(ReprobuildError):
    """The lock's CUDA needs contradict each other, or no nvidia/cuda image fits them."""


@dataclass(frozen=True, slots=True)
class CudaRequirement:
    """What a lock needs from CUDA."""

    version: str
    """``major.minor`` (``12.4``)."""
    evidence: tuple[str, ...]
    """The lock entries that imply it (``torch==2.5.1+cu124``, ``nvidia-cublas-cu12==…``)."""
    libraries_from_wheels: bool
    """True when the CUDA libraries are pip wheels in the lock (the image needs none)."""


@dataclass(frozen=True, slots=True)
class CudaBase:
    """A chosen ``nvidia/cuda`` tag and what the host needs to run it."""

    tag: str
    cuda: str
    flavor: Flavor
    os: str
    cudnn: bool
    min_driver: str
    """The lowest host driver that runs it (minor-version compatibility floor)."""
    toolkit_driver: str | None
    """The driver the toolkit shipped with (full feature set), when known."""
    warnings: tuple[str, ...] = ()

    @property
    def repository(self) -> str:
        return "nvidia/cuda"

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


@cache
def cuda_data() -> dict[str, Any]:
    text = resources.files("reprobuild.data").joinpath("cuda.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _minor(version: str) -> str:
    parsed = Version(version)
    return f"{parsed.major}.{parsed.minor}"


def infer_cuda(lock: Lock) -> CudaRequirement | None:
    """The CUDA version a lock implies, or None for a CPU-only lock."""
    found: dict[str, list[str]] = {}
    wheels = False
    for package in lock.installed():
        if package.version is None or package.manager != "pip":
            continue
        pin = f"{package.name}=={package.version}"
        if package.name in _FRAMEWORKS:
            try:
                local = Version(package.version).local
            except InvalidVersion:
                continue
            match = _LOCAL_CUDA.match(local or "")
            if match:
                found.setdefault(f"{match.group(1)}.{match.group(2)}", []).append(pin)
            continue
        toolkit = _TOOLKIT_WHEELS.match(package.name)
        if toolkit:
            wheels = True
            try:
                minor = _minor(package.version)
            except InvalidVersion:
                continue
            if minor.split(".")[0] != toolkit.group(2):
                raise CudaSelectionError(
                    f"{lock.path}: {pin} claims CUDA {minor} in a -cu{toolkit.group(2)} wheel"
                )
            found.setdefault(minor, []).append(pin)
        elif _ANY_NVIDIA_CU.match(package.name):
            wheels = True
    if not found:
        return None
    if len(found) > 1:
        detail = "; ".join(f"CUDA {v}: {', '.join(sorted(p))}" for v, p in sorted(found.items()))
        raise CudaSelectionError(
            f"{lock.path}: the lock asks for more than one CUDA version ({detail}); "
            "relock so that torch's +cuXYZ build and the nvidia-* wheels agree"
        )
    (version, evidence), = found.items()
    return CudaRequirement(
        version=version, evidence=tuple(sorted(evidence)), libraries_from_wheels=wheels
    )


def choose_cuda_base(
    cuda: str,
    *,
    flavor: Flavor = "base",
    cudnn: bool = False,
    os: str | None = None,
) -> CudaBase:
    """The ``nvidia/cuda`` tag for ``cuda`` (``12.4`` or an exact ``12.4.1``)."""
    data = cuda_data()
    os = os or str(data["default_os"])
    if cudnn and flavor == "base":
        raise CudaSelectionError(
            "cuDNN images exist only in the runtime and devel flavors; set flavor = "
            '"runtime" (or take cuDNN from the nvidia-cudnn-cu12 wheel with the base flavor)'
        )
    try:
        wanted = Version(cuda)
    except InvalidVersion:
        raise CudaSelectionError(f"invalid CUDA version {cuda!r} (expected e.g. 12.4)") from None
    exact = len(wanted.release) >= 3
    warnings: list[str] = []
    candidates = []
    for row in data["releases"]:
        release = Version(row["cuda"])
        if exact and release != wanted:
            continue
        if not exact and release.release[:2] != wanted.release[:2]:
            continue
        candidates.append(row)
    if not candidates and exact and cuda in data["unsupported"]:
        warnings.append(
            f"CUDA {cuda} is on NVIDIA's unsupported list: its nvidia/cuda tags are "
            "deletion candidates; mirror the image (`reprobuild mirror`) or move to a "
            "supported patch release"
        )
        candidates.append({"cuda": cuda, "cudnn": None, "os": [os], "driver": None})
    if not candidates:
        known = ", ".join(r["cuda"] for r in data["releases"])
        raise CudaSelectionError(
            f"no nvidia/cuda release for CUDA {cuda} in reprobuild's table ({known}); "
            "set base-image explicitly or update reprobuild"
        )
    row = max(candidates, key=lambda r: Version(r["cuda"]))
    if os not in row["os"]:
        raise CudaSelectionError(
            f"nvidia/cuda {row['cuda']} has no {os} images (available: {', '.join(row['os'])})"
        )
    token = None
    if cudnn:
        token = row.get("cudnn")
        if token is None or os not in row.get("cudnn_os", row["os"]):
            raise CudaSelectionError(
                f"nvidia/cuda {row['cuda']} has no cuDNN image for {os}; use cudnn = false "
                "and the nvidia-cudnn-cu12 wheel, or another CUDA release"
            )
    tag = "-".join(part for part in (row["cuda"], token, flavor, os) if part)
    major = str(Version(row["cuda"]).major)
    floor = data["minor_version_driver_floor"].get(major)
    if floor is None:
        raise CudaSelectionError(f"no driver data for CUDA {major}.x")
    return CudaBase(
        tag=tag,
        cuda=row["cuda"],
        flavor=flavor,
        os=os,
        cudnn=cudnn,
        min_driver=floor,
        toolkit_driver=row.get("driver"),
        warnings=tuple(warnings),
    )
