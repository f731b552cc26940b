"""Registry errors: one subclass tree under :class:`ReprobuildError`.

Every message names the image reference (or registry), the registry's error code when
it sent one (``MANIFEST_UNKNOWN``, ``UNAUTHORIZED``, ``TOOMANYREQUESTS`` …) and what to
do. Messages are built only from references, codes and the registry's own error text:
never from request headers, so credentials cannot leak into them.
"""

from __future__ import annotations

from reprobuild.errors import ReprobuildError

__all__ = [
    "BlobUnknownError",
    "CredentialHelperError",
    "DigestMismatchError",
    "InsecureRegistryError",
    "InvalidReferenceError",
    "ManifestUnknownError",
    "RateLimitedError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryProtocolError",
    "RegistryUnreachableError",
]


class InvalidReferenceError(ReprobuildError):
    """An image reference does not follow the Docker reference grammar."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid image reference {text!r}: {reason}")


class RegistryError(ReprobuildError):
    """A registry operation failed. ``code`` is the registry's error code, if any."""

    hint = ""

    def __init__(
        self,
        subject: str,
        problem: str,
        *,
        code: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.subject = subject
        self.problem = problem
        self.code = code
        self.status = status
        what_to_do = self.hint if hint is None else hint
        text = f"{subject}: {problem}"
        if code:
            text += f" ({code})"
        if what_to_do:
            text += f"; {what_to_do}"
        super().__init__(text)


class RegistryUnreachableError(RegistryError):
    hint = "check that the registry is running and reachable, or configure a mirror"


class RegistryAuthError(RegistryError):
    hint = (
        "log in with `docker login <registry>` (or set up a credential helper) "
        "with an account that may access this repository"
    )


class ManifestUnknownError(RegistryError):
    hint = "check the repository name and tag (`reprobuild pin` resolves existing tags only)"


class BlobUnknownError(RegistryError):
    hint = "the registry does not hold this blob; push the image again"


class DigestMismatchError(RegistryError):
    hint = (
        "the registry (or something between you and it) served altered content; "
        "do not use it, and retry or report it to the registry's operator"
    )


class RateLimitedError(RegistryError):
    hint = "the registry is rate-limiting requests; wait and retry, log in, or use a mirror"


class RegistryProtocolError(RegistryError):
    hint = "the registry answered in a way reprobuild does not understand"


class InsecureRegistryError(RegistryError):
    hint = (
        "plain http is used only for loopback registries or those listed in "
        "[tool.reprobuild] insecure-registries"
    )


class CredentialHelperError(RegistryError):
    hint = "check the credential helper named in your Docker config (credsStore/credHelpers)"
