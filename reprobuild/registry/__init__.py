"""Container registries: image references (no I/O) and an OCI distribution client.

Only the light modules are re-exported here; lint rules import this package, and
``reprobuild lint`` must start fast. The client (httpx) lives in
:mod:`reprobuild.registry.client`; import it where the network is needed.
"""

from __future__ import annotations

from reprobuild.registry.errors import (
    BlobUnknownError,
    CredentialHelperError,
    DigestMismatchError,
    InsecureRegistryError,
    InvalidReferenceError,
    ManifestUnknownError,
    RateLimitedError,
    RegistryAuthError,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.reference import ImageRef, parse_reference, validate_digest

__all__ = [
    "BlobUnknownError",
    "CredentialHelperError",
    "DigestMismatchError",
    "ImageRef",
    "InsecureRegistryError",
    "InvalidReferenceError",
    "ManifestUnknownError",
    "RateLimitedError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryProtocolError",
    "RegistryUnreachableError",
    "parse_reference",
    "validate_digest",
]
