"""Which base image a project gets, pinned by digest.

Order: an explicit ``base-image``; else an ``nvidia/cuda`` image when the lock (or
``cuda = "12.4"``) needs CUDA; else the official ``python:<version>-slim-bookworm``.
The bookworm variant, not plain ``-slim``: ``-slim`` moves between Debian releases, and
the Debian release fixes the glibc that manylinux wheels are checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from reprobuild.errors import ConfigError
from reprobuild.generate.config import SUPPORTED_PYTHONS, ImageConfig
from reprobuild.generate.cuda import (
    CudaBase,
    CudaRequirement,
    CudaSelectionError,
    choose_cuda_base,
    cuda_data,
    infer_cuda,
)
from reprobuild.generate.pins import PinFile, Resolver
from reprobuild.generate.target import GLIBC_OF_OS, Target
from reprobuild.models import Lock
from reprobuild.registry.reference import parse_reference

if TYPE_CHECKING:
    from reprobuild.generate.python_source import DebRequest

__all__ = ["BaseChoice", "choose_base", "choose_python"]


@dataclass(frozen=True, slots=True)
class BaseChoice:
    reference: str
    """As written in the Dockerfile before ``@``: ``python:3.11-slim-bookworm``."""
    digest: str
    has_python: bool
    target: Target
    cuda: CudaBase | None = None
    cuda_requirement: CudaRequirement | None = None
    debs: DebRequest | None = None
    """Python and/or OS packages from the distribution's archive (python_source)."""

    @property
    def pinned(self) -> str:
        return f"{self.reference}@{self.digest}"


def choose_python(config: ImageConfig, lock: Lock) -> str:
    if config.python:
        return config.python
    if lock.python:
        try:
            allowed = SpecifierSet(lock.python)
        except InvalidSpecifier:
            allowed = SpecifierSet()
        for version in SUPPORTED_PYTHONS:
            if allowed.contains(f"{version}.0", prereleases=True):
                return version
        raise ConfigError(
            f"{lock.path}: the lock requires Python {lock.python}, none of "
            f"{', '.join(SUPPORTED_PYTHONS)}; set [tool.reprobuild] python"
        )
    return "3.12"


def _cuda_needed(config: ImageConfig, lock: Lock) -> tuple[str | None, CudaRequirement | None]:
    if config.cuda is False:
        return None, None
    inferred = infer_cuda(lock)
    if config.cuda == "auto":
        return (inferred.version if inferred else None), inferred
    wanted = str(config.cuda)
    if inferred is not None and ".".join(wanted.split(".")[:2]) != inferred.version:
        raise CudaSelectionError(
            f"[tool.reprobuild] cuda = {wanted!r} but the lock needs CUDA {inferred.version} "
            f"({', '.join(inferred.evidence)})"
        )
    return wanted, inferred


_CUDA_TAG = re.compile(str(cuda_data()["tag_pattern"]))


def choose_base(
    config: ImageConfig,
    lock: Lock,
    pins: PinFile,
    *,
    resolver: Resolver | None,
    update: bool = False,
) -> BaseChoice:
    python = choose_python(config, lock)
    cuda_version, requirement = _cuda_needed(config, lock)
    if config.base_image:
        ref = parse_reference(config.base_image)
        written = config.base_image.split("@", 1)[0]
        is_cuda = ref.repository == "nvidia/cuda"
        glibc = (2, 36) if (ref.tag or "").endswith("bookworm") else None
        cuda_base = None
        if is_cuda and ref.tag:
            match = _CUDA_TAG.match(ref.tag)
            if match:
                glibc = GLIBC_OF_OS.get(match.group(5))
                image_cuda = ".".join(match.group(1).split(".")[:2])
                if requirement is not None and image_cuda != requirement.version:
                    raise CudaSelectionError(
                        f"base-image {config.base_image} has CUDA {image_cuda} but the lock "
                        f"needs {requirement.version} ({', '.join(requirement.evidence)})"
                    )
        digest = ref.digest or pins.get(written, resolver=resolver, update=update).digest
        return BaseChoice(
            reference=written,
            digest=digest,
            has_python=not is_cuda,
            target=Target(python=python, platform=config.platform, glibc=glibc),
            cuda=cuda_base,
            cuda_requirement=requirement,
        )
    if cuda_version is not None:
        cuda_base = choose_cuda_base(
            cuda_version, flavor=config.cuda_flavor, cudnn=config.cudnn, os=config.cuda_os
        )
        return BaseChoice(
            reference=cuda_base.reference,
            digest=pins.get(cuda_base.reference, resolver=resolver, update=update).digest,
            has_python=False,
            target=Target(
                python=python, platform=config.platform, glibc=GLIBC_OF_OS.get(cuda_base.os)
            ),
            cuda=cuda_base,
            cuda_requirement=requirement,
        )
    reference = f"python:{python}-slim-bookworm"
    return BaseChoice(
        reference=reference,
        digest=pins.get(reference, resolver=resolver, update=update).digest,
        has_python=True,
        target=Target(python=python, platform=config.platform, glibc=(2, 36)),
    )
