"""Where registry requests go: mirrors, plain-http permission and CA bundles.

Configured in ``[tool.reprobuild]``::

    registry-mirrors = { "docker.io" = "127.0.0.1:5000" }      # or a list, tried in order
    insecure-registries = ["registry.lan:5000"]                  # plain http allowed
    registry-ca-files = { "registry.lan:5443" = "certs/ca.pem" } # extra trusted CAs

Reads of a mirrored registry go to the mirror only (no silent fallback to the upstream:
a build must not depend on which one answered); pins keep the canonical name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.errors import ConfigError
from reprobuild.registry.errors import InsecureRegistryError
from reprobuild.registry.reference import (
    DOCKER_HUB,
    DOCKER_HUB_API_HOST,
    is_loopback_host,
)

__all__ = ["REGISTRY_CONFIG_KEYS", "Endpoint", "RegistrySettings"]

# The top-level [tool.reprobuild] keys read here (for config validators elsewhere).
REGISTRY_CONFIG_KEYS = frozenset({"registry-mirrors", "insecure-registries", "registry-ca-files"})

_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place to send requests for a registry: ``http://127.0.0.1:5000``."""

    host: str
    scheme: str
    ca_file: Path | None = None
    mirror_of: str | None = None
    """The registry this endpoint mirrors (None when it is the registry itself)."""

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()
    ca_files: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, where: str, root: Path) -> RegistrySettings:
        """Build from the ``[tool.reprobuild]`` table; ``root`` anchors relative paths."""
        mirrors: dict[str, tuple[str, ...]] = {}
        raw_mirrors = table.get("registry-mirrors", {})
        if not isinstance(raw_mirrors, dict):
            raise ConfigError(f"{where}registry-mirrors must be a table of registry = mirror")
        for registry, value in raw_mirrors.items():
            targets = [value] if isinstance(value, str) else value
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise ConfigError(
                    f"{where}registry-mirrors.{registry} must be a host or a list of hosts"
                )
            mirrors[_canonical_registry(registry)] = tuple(t.rstrip("/") for t in targets)
        insecure = table.get("insecure-registries", [])
        if not isinstance(insecure, list) or not all(isinstance(h, str) for h in insecure):
            raise ConfigError(f"{where}insecure-registries must be a list of hosts")
        raw_cas = table.get("registry-ca-files", {})
        if not isinstance(raw_cas, dict) or not all(isinstance(v, str) for v in raw_cas.values()):
            raise ConfigError(f"{where}registry-ca-files must be a table of registry = path")
        return cls(
            mirrors=mirrors,
            insecure=frozenset(_strip_scheme(h) for h in insecure),
            ca_files={_strip_scheme(k): root / v for k, v in raw_cas.items()},
        )

    @classmethod
    def from_project(cls, config: Any) -> RegistrySettings:
        """From a :class:`reprobuild.config.ProjectConfig`."""
        where = config.where("")
        return cls.from_table(config.table, where=where, root=config.root)

    def endpoints(self, registry: str, *, for_push: bool = False) -> tuple[Endpoint, ...]:
        """Where to send requests for ``registry``: its mirrors for reads, else itself."""
        canonical = _canonical_registry(registry)
        if not for_push and canonical in self.mirrors:
            return tuple(self._endpoint(m, mirror_of=canonical) for m in self.mirrors[canonical])
        host = DOCKER_HUB_API_HOST if canonical == DOCKER_HUB else canonical
        return (self._endpoint(host, mirror_of=None),)

    def _endpoint(self, target: str, *, mirror_of: str | None) -> Endpoint:
        scheme, host = _split_scheme(target)
        ca_file = self.ca_files.get(host)
        allowed_http = is_loopback_host(host) or host in self.insecure
        if scheme is None:
            scheme = "http" if allowed_http and ca_file is None else "https"
        elif scheme == "http" and not allowed_http:
            raise InsecureRegistryError(host, "refusing plain http to a non-loopback registry")
        return Endpoint(host=host, scheme=scheme, ca_file=ca_file, mirror_of=mirror_of)


def _canonical_registry(name: str) -> str:
    host = _strip_scheme(name).lower()
    return DOCKER_HUB if host in _HUB_ALIASES else _strip_scheme(name)


def _split_scheme(target: str) -> tuple[str | None, str]:
    for scheme in ("http", "https"):
        prefix = scheme + "://"
        if target.lower().startswith(prefix):
            return scheme, target[len(prefix) :].split("/", 1)[0]
    return None, target.split("/", 1)[0]


def _strip_scheme(target: str) -> str:
    return _split_scheme(target)[1]
