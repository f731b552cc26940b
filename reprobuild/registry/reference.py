"""Image references (``python:3.11-slim@sha256:…``), parsed without I/O.

Follows the grammar of distribution/reference (what ``docker pull`` accepts):

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]          (a first component with "." or ":", "localhost",
                                            or upper case letters; else Docker Hub)
    path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex

Hand-written on purpose: the Python ports of this grammar on PyPI are unmaintained, and
the normalisation rules (``docker.io``, ``library/``) are what reprobuild pins against.
This module must stay import-light: lint rules use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from reprobuild.registry.errors import InvalidReferenceError

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API_HOST",
    "ImageRef",
    "is_loopback_host",
    "parse_reference",
    "validate_digest",
]

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_LEGACY_HUB_NAMES = frozenset({"index.docker.io", "registry-1.docker.io"})
_OFFICIAL_PREFIX = "library/"
_NAME_MAX = 255

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
    re.ASCII,
)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_ALGORITHM = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*", re.ASCII)
_IMAGE_ID = re.compile(r"[a-f0-9]{64}", re.ASCII)
# Hex lengths of the algorithms registries accept (go-digest's registered algorithms).
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalised reference: ``registry`` is ``docker.io`` for Docker Hub and
    ``repository`` carries the ``library/`` prefix of official images."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/python``."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """``python`` for ``docker.io/library/python``; ``ghcr.io/x/y`` unchanged."""
        if self.registry != DOCKER_HUB:
            return self.name
        short = self.repository
        if short.startswith(_OFFICIAL_PREFIX) and "/" not in short[len(_OFFICIAL_PREFIX) :]:
            short = short[len(_OFFICIAL_PREFIX) :]
        elif "." in short.split("/", 1)[0] and "/" in short:
            return self.name  # `a.b/c` would read back as registry `a.b`
        return short

    @property
    def canonical(self) -> str:
        """``docker.io/library/python:3.11@sha256:…``."""
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """``python:3.11@sha256:…`` (the short form ``docker`` prints)."""
        return self.familiar_name + self._suffix()

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest if any, else the tag (or ``latest``)."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """The host serving the registry API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    def with_digest(self, digest: str | None) -> ImageRef:
        return replace(self, digest=validate_digest(digest) if digest is not None else None)

    def with_tag(self, tag: str | None) -> ImageRef:
        if tag is not None and not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"{self.name}:{tag}", _TAG_REASON)
        return replace(self, tag=tag)

    def _suffix(self) -> str:
        suffix = f":{self.tag}" if self.tag is not None else ""
        return suffix + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.canonical


_TAG_REASON = "a tag is 1-128 letters, digits, '_', '.' or '-' and must not start with '.' or '-'"


def parse_reference(text: str) -> ImageRef:
    """Parse and normalise ``text``; raise :class:`InvalidReferenceError` when invalid."""
    if not text:
        raise InvalidReferenceError(text, "the reference is empty")
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise InvalidReferenceError(text, "whitespace is not allowed")
    if _IMAGE_ID.fullmatch(text):
        raise InvalidReferenceError(
            text, "a 64-character hexadecimal string is an image ID, not a repository name"
        )

    remainder, at, digest = text.partition("@")
    if at:
        digest = _checked_digest(text, digest)
    name, tag = _split_tag(remainder)
    if tag is not None and not _TAG.fullmatch(tag):
        raise InvalidReferenceError(text, f"invalid tag {tag!r}: {_TAG_REASON}")

    registry, path = _split_domain(name)
    if not path:
        raise InvalidReferenceError(text, "the repository name is empty")
    if path.lower() != path:
        raise InvalidReferenceError(text, "repository name must be lowercase")
    if not _DOMAIN.fullmatch(registry):
        raise InvalidReferenceError(text, f"invalid registry host {registry!r}")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidReferenceError(
                text,
                f"invalid repository path component {component!r}: use lower-case letters "
                "and digits, separated by '.', '_', '__' or '-'",
            )
    if len(registry) + 1 + len(path) > _NAME_MAX:
        raise InvalidReferenceError(text, f"the name is longer than {_NAME_MAX} characters")
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest or None)


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed ``algorithm:hex`` digest, else raise."""
    return _checked_digest(digest, digest)


def is_loopback_host(registry: str) -> bool:
    """``localhost``, ``127.x.y.z`` or ``[::1]``, with or without a port."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.lower()
    return host in {"localhost", "::1"} or (
        host.startswith("127.") and all(part.isdigit() for part in host.split("."))
    )


def _checked_digest(text: str, digest: str) -> str:
    algorithm, colon, hexpart = digest.partition(":")
    if not colon or not algorithm or not hexpart:
        raise InvalidReferenceError(
            text, f"invalid digest {digest!r}: expected algorithm:hex (sha256:<64 hex>)"
        )
    if not _DIGEST_ALGORITHM.fullmatch(algorithm):
        raise InvalidReferenceError(text, f"invalid digest algorithm {algorithm!r}")
    expected = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected is None:
        raise InvalidReferenceError(
            text, f"unsupported digest algorithm {algorithm!r} (use sha256, sha384 or sha512)"
        )
    if not _HEX.fullmatch(hexpart) or len(hexpart) != expected:
        raise InvalidReferenceError(
            text, f"invalid {algorithm} digest: expected {expected} lower-case hex characters"
        )
    return digest


def _split_tag(name: str) -> tuple[str, str | None]:
    """``host:5000/repo:tag`` -> (``host:5000/repo``, ``tag``): the tag colon follows the
    last slash, so a port is never mistaken for a tag."""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon + 1 :]
    return name, None


def _split_domain(name: str) -> tuple[str, str]:
    """Docker's rule: the first component is a registry host when it contains '.' or ':',
    is ``localhost``, or has upper-case letters; otherwise the name is on Docker Hub."""
    first, slash, rest = name.partition("/")
    is_domain = bool(slash) and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    if is_domain:
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry in _LEGACY_HUB_NAMES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path and path:
        path = _OFFICIAL_PREFIX + path
    return registry, path
