"""A small OCI distribution client on httpx: resolve, fetch, push, by digest.

Manifest bytes are kept exactly as the registry served them (re-serialising JSON would
change the digest), every fetched byte is hashed and checked against the digest it was
asked for, and tags are resolved with ``HEAD`` plus the full ``Accept`` list so that
the local registry never hands out a converted schema-1 manifest.

One :class:`RegistryClient` holds one keep-alive connection pool per scheme and CA
bundle and is safe to use from several threads (``resolve_many`` does). Auth, retries
and error mapping live in :mod:`reprobuild.registry.transport`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from reprobuild.registry.auth import Credentials, DockerConfig
from reprobuild.registry.errors import (
    DigestMismatchError,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    Platform,
    Resolved,
    compute_digest,
    digest_algorithm,
)
from reprobuild.registry.mirrors import RegistrySettings
from reprobuild.registry.reference import ImageRef
from reprobuild.registry.transport import RegistryTransport, media_type_of, transport_reason

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "MANIFEST_MEDIA_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "Manifest",
    "Platform",
    "RegistryClient",
    "Resolved",
    "compute_digest",
]

log = logging.getLogger("reprobuild.registry")

_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
_MANIFEST_LIMIT = 4 * 1024 * 1024  # the distribution spec's recommended manifest cap
_CHUNK = 1024 * 1024


class RegistryClient:
    """Talks to registries. Close it (or use ``with``) to release connections."""

    def __init__(
        self,
        settings: RegistrySettings | None = None,
        *,
        credentials: Mapping[str, Credentials] | None = None,
        docker_config: DockerConfig | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 4,
        backoff: float = 0.25,
        max_retry_after: float = 60.0,
        max_workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or RegistrySettings()
        self._max_workers = max(1, max_workers)
        self._http = RegistryTransport(
            self.settings,
            credentials=credentials,
            docker_config=docker_config,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_attempts=max_attempts,
            backoff=backoff,
            max_retry_after=max_retry_after,
            pool_size=self._max_workers * 2,
            sleep=sleep,
            transport=transport,
        )

    @classmethod
    def from_project(cls, config: Any, **kwargs: Any) -> RegistryClient:
        """A client configured by ``[tool.reprobuild]`` (a ProjectConfig)."""
        return cls(RegistrySettings.from_project(config), **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient(mirrors={dict(self.settings.mirrors)!r})"

    def resolve(self, ref: ImageRef, *, platforms: bool = False) -> Resolved:
        """The digest ``ref``'s tag points at now (HEAD; GET when HEAD gives no digest,
        or an answer without a body to explain it)."""
        try:
            response = self._http.call(
                "HEAD",
                ref,
                f"manifests/{ref.manifest_reference}",
                headers={"Accept": _ACCEPT},
                kind="manifest",
            )
        except RegistryProtocolError:
            manifest = self.get_manifest(ref)  # raises the error with the registry's words
            return self._resolved(ref, manifest, platforms)
        digest = response.headers.get("Docker-Content-Digest")
        media_type = media_type_of(response.headers.get("Content-Type"))
        size = int(response.headers.get("Content-Length") or 0)
        if ref.digest and digest and digest != ref.digest:
            raise DigestMismatchError(
                ref.familiar, f"the registry reports digest {digest} for this digest reference"
            )
        if not digest or not media_type:
            return self._resolved(ref, self.get_manifest(ref), platforms)
        children: tuple[Descriptor, ...] = ()
        if platforms and media_type in INDEX_MEDIA_TYPES:
            children = self.get_manifest(ref.with_digest(digest)).children
        return Resolved(ref=ref, digest=digest, media_type=media_type, size=size, children=children)

    @staticmethod
    def _resolved(ref: ImageRef, manifest: Manifest, platforms: bool) -> Resolved:
        return Resolved(
            ref=ref,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=len(manifest.raw),
            children=manifest.children if platforms else (),
        )

    def resolve_many(
        self, refs: Sequence[ImageRef], *, platforms: bool = False
    ) -> list[Resolved | RegistryError]:
        """Resolve concurrently; each result is a Resolved or the error for that ref."""

        def one(ref: ImageRef) -> Resolved | RegistryError:
            try:
                return self.resolve(ref, platforms=platforms)
            except RegistryError as exc:
                return exc

        if len(refs) <= 1 or self._max_workers == 1:
            return [one(ref) for ref in refs]
        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(refs))) as pool:
            return list(pool.map(one, refs))

    def get_manifest(self, ref: ImageRef) -> Manifest:
        """The manifest's raw bytes, verified against the digest asked for or announced."""
        for attempt in range(1, self._http.max_attempts + 1):
            response = self._http.call(
                "GET",
                ref,
                f"manifests/{ref.manifest_reference}",
                headers={"Accept": _ACCEPT},
                kind="manifest",
                stream=True,
            )
            try:
                raw = _read_limited(response, _MANIFEST_LIMIT, ref.familiar)
                break
            except _BrokenBody as exc:
                if attempt == self._http.max_attempts:
                    raise RegistryUnreachableError(
                        ref.familiar, f"{exc} ({attempt} attempts)"
                    ) from None
                self._http.sleep(self._http.backoff_delay(attempt))
            finally:
                response.close()
        announced = response.headers.get("Docker-Content-Digest")
        expected = ref.digest or announced
        digest = compute_digest(raw, digest_algorithm(expected) if expected else "sha256")
        if expected and digest != expected:
            raise DigestMismatchError(
                ref.familiar, f"manifest bytes hash to {digest}, expected {expected}"
            )
        if (
            ref.digest
            and announced
            and announced != ref.digest
            and digest_algorithm(announced) == digest_algorithm(ref.digest)
        ):
            raise DigestMismatchError(
                ref.familiar, f"the registry announces {announced} for {ref.digest}"
            )
        media_type = media_type_of(response.headers.get("Content-Type"))
        if media_type not in MANIFEST_MEDIA_TYPES:
            with contextlib.suppress(ValueError, AttributeError):
                media_type = str(json.loads(raw).get("mediaType") or media_type)
        return Manifest(raw=raw, media_type=media_type, digest=digest)

    def put_manifest(self, ref: ImageRef, raw: bytes, media_type: str) -> str:
        """Upload ``raw`` unchanged under ``ref``'s digest or tag; return its digest."""
        digest = compute_digest(raw)
        if ref.digest and ref.digest != digest:
            raise DigestMismatchError(ref.familiar, f"the manifest bytes hash to {digest}")
        response = self._http.call(
            "PUT",
            ref,
            f"manifests/{ref.manifest_reference}",
            push=True,
            kind="manifest",
            headers={"Content-Type": media_type},
            content=raw,
            ok=(200, 201),
        )
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != digest:
            raise DigestMismatchError(
                ref.familiar, f"the registry stored the manifest as {announced}, not {digest}"
            )
        return digest

    def list_tags(self, ref: ImageRef) -> list[str]:
        tags: list[str] = []
        path: str | None = "tags/list?n=1000"
        while path:
            response = self._http.call("GET", ref, path, kind="repository")
            try:
                page = response.json().get("tags") or []
            except ValueError:
                raise RegistryProtocolError(ref.familiar_name, "tag list is not JSON") from None
            tags.extend(str(t) for t in page)
            path = _next_link(response)
        return tags

    # --------------------------------------------------------------------- blobs

    def blob_exists(self, ref: ImageRef, digest: str) -> bool:
        response = self._http.call(
            "HEAD", ref, f"blobs/{digest}", kind="blob", ok=(200, 404), push=False
        )
        return response.status_code == 200

    def iter_blob(self, ref: ImageRef, digest: str, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """Stream a blob; raises DigestMismatchError at the end if the bytes are wrong, so
        treat the data as untrusted until the iterator is exhausted (see ``download_blob``).
        A connection cut mid-body is resumed with a Range request (bounded attempts)."""
        hasher = hashlib.new(digest_algorithm(digest))
        received = 0
        subject = f"{ref.familiar_name}@{digest}"
        for attempt in range(1, self._http.max_attempts + 1):
            headers = {"Range": f"bytes={received}-"} if received else {}
            response = self._http.call(
                "GET",
                ref,
                f"blobs/{digest}",
                kind="blob",
                stream=True,
                headers=headers,
                ok=(200, 206),
                follow=True,
            )
            try:
                skip = received if response.status_code == 200 else 0
                for chunk in response.iter_bytes(chunk_size):
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                        if not chunk:
                            continue
                    hasher.update(chunk)
                    received += len(chunk)
                    yield chunk
                break
            except httpx.TransportError as exc:
                if attempt == self._http.max_attempts:
                    raise RegistryUnreachableError(
                        subject,
                        f"the connection broke after {received} bytes, {attempt} attempts "
                        f"({transport_reason(exc)})",
                    ) from None
                self._http.sleep(self._http.backoff_delay(attempt))
            finally:
                response.close()
        actual = f"{digest_algorithm(digest)}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(subject, f"blob bytes hash to {actual}")

    def get_blob(self, ref: ImageRef, digest: str) -> bytes:
        return b"".join(self.iter_blob(ref, digest))

    def download_blob(self, ref: ImageRef, digest: str, destination: Path) -> None:
        """Write a verified blob to ``destination`` (nothing is left there on failure)."""
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.iter_blob(ref, digest):
                    handle.write(chunk)
            Path(tmp).replace(destination)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise

    def mount_blob(self, ref: ImageRef, digest: str, source: ImageRef) -> bool:
        """Cross-repository mount within one registry; False when the registry declined."""
        location = self._start_upload(ref, digest=digest, mount_from=source)
        if location is None:
            return True
        self._cancel_upload(ref, location)
        return False

    def upload_blob(
        self,
        ref: ImageRef,
        data: bytes | Iterable[bytes],
        *,
        digest: str | None = None,
        chunk_size: int | None = None,
        mount_from: ImageRef | None = None,
        verified_digest: str | None = None,
    ) -> str:
        """Upload a blob to ``ref``'s repository and return its digest.

        ``verified_digest``: the stream is already checked against this digest by its
        producer (``iter_blob`` raises before its last chunk on a mismatch), so it is not
        hashed a second time; the registry still checks it when the upload is committed.

        ``bytes`` go up in one PUT. An iterable is streamed and hashed on the way: in
        one streaming PATCH, or in ``chunk_size`` PATCHes with Content-Range. When
        ``digest`` is given the blob is skipped if present, mounted from ``mount_from``
        if possible, and the upload is refused unless the bytes hash to it.
        """
        if digest and self.blob_exists(ref, digest):
            return digest
        location = self._start_upload(ref, digest=digest, mount_from=mount_from)
        if location is None:
            assert digest is not None  # a mount only happens for a known digest
            return digest
        subject = f"{ref.familiar_name} blob upload"
        if isinstance(data, bytes | bytearray | memoryview):
            actual = compute_digest(bytes(data))
            if digest and actual != digest:
                self._cancel_upload(ref, location)
                raise DigestMismatchError(subject, f"data hashes to {actual}, not {digest}")
            self._http.call(
                "PUT",
                ref,
                location,
                push=True,
                kind="blob",
                ok=(201,),
                params={"digest": actual},
                content=bytes(data),
                headers={"Content-Type": "application/octet-stream"},
            )
            return actual
        hasher = hashlib.sha256()
        if chunk_size:
            offset = 0
            for chunk in _rechunk(data, chunk_size):
                if verified_digest is None:
                    hasher.update(chunk)
                response = self._http.call(
                    "PATCH",
                    ref,
                    location,
                    push=True,
                    kind="blob",
                    ok=(202,),
                    retry=False,
                    content=chunk,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                    },
                )
                offset += len(chunk)
                location = response.headers.get("Location", location)
        else:

            def hashed() -> Iterator[bytes]:
                for chunk in data:
                    if verified_digest is None:
                        hasher.update(chunk)
                    yield chunk

            response = self._http.call(
                "PATCH",
                ref,
                location,
                push=True,
                kind="blob",
                ok=(202,),
                retry=False,
                content=hashed(),
                headers={"Content-Type": "application/octet-stream"},
            )
            location = response.headers.get("Location", location)
        actual = verified_digest or f"sha256:{hasher.hexdigest()}"
        if digest and actual != digest:
            self._cancel_upload(ref, location)
            raise DigestMismatchError(subject, f"data hashes to {actual}, not {digest}")
        self._http.call(
            "PUT", ref, location, push=True, kind="blob", ok=(201,), params={"digest": actual}
        )
        return actual

    def _start_upload(
        self, ref: ImageRef, *, digest: str | None, mount_from: ImageRef | None
    ) -> str | None:
        """POST an upload session; None when the blob was mounted instead."""
        params: dict[str, str] = {}
        extra: tuple[ImageRef, ...] = ()
        if mount_from is not None and digest and mount_from.registry == ref.registry:
            params = {"mount": digest, "from": mount_from.repository}
            extra = (mount_from,)
        response = self._http.call(
            "POST",
            ref,
            "blobs/uploads/",
            push=True,
            kind="blob",
            ok=(201, 202),
            params=params,
            also_pull=extra,
        )
        if response.status_code == 201:
            return None
        location: str | None = response.headers.get("Location")
        if not location:
            raise RegistryProtocolError(ref.familiar_name, "upload session without a Location")
        return location

    def _cancel_upload(self, ref: ImageRef, location: str) -> None:
        try:
            self._http.call(
                "DELETE",
                ref,
                location,
                push=True,
                kind="blob",
                ok=(200, 202, 204, 404),
                retry=False,
            )
        except RegistryError:
            log.debug("could not cancel an upload session on %s", ref.registry)


def _read_limited(response: httpx.Response, limit: int, subject: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > limit:
                raise RegistryProtocolError(subject, f"manifest larger than {limit} bytes")
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise _BrokenBody(
            f"the connection broke after {total} bytes: {transport_reason(exc)}"
        ) from None
    return b"".join(chunks)


class _BrokenBody(Exception):
    """A response body was cut; the caller retries the whole request."""


def _rechunk(data: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in data:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("Link")
    if not link or 'rel="next"' not in link:
        return None
    target = link.split(";", 1)[0].strip().strip("<>")
    return target or None
