"""Value types the harness hands to tests (fixture return values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.harness.token_issuer import TokenIssuer


@dataclass(frozen=True)
class Services:
    """The engine and mirror registry started (or found) by ``scripts/services.sh up``."""

    docker_host: str
    mirror: str  # "127.0.0.1:PORT"
    mirror_configured: bool = True  # False: the engine does not use `mirror` as its Hub mirror
    storage_driver: str = ""
    engine_owned: bool = True  # True: dockerd was started by services.sh


@dataclass(frozen=True)
class RegistryInfo:
    """A running distribution registry on 127.0.0.1."""

    host: str  # "127.0.0.1:PORT"
    url: str  # "http://127.0.0.1:PORT" or "https://…"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None  # PEM to verify the registry's TLS certificate
    issuer: TokenIssuer | None = None  # only for the token-auth registry


@dataclass(frozen=True)
class BaseImage:
    """An image present in the engine and pushed to the mirror (and registry_open)."""

    repository: str  # e.g. "library/python" or "nvidia/cuda" (mirror repository path)
    tag: str
    digest: str  # manifest digest in the mirror, "sha256:…"
    image_id: str  # engine image ID (config digest), "sha256:…"
    has_python: bool = True

    @property
    def from_ref(self) -> str:
        """The reference a Dockerfile uses: ``python:<tag>@sha256:…`` (Hub short form)."""
        name = self.repository.removeprefix("library/")
        return f"{name}:{self.tag}@{self.digest}"
