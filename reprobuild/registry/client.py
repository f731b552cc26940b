"""A small OCI distribution client on httpx: resolve, fetch, push, by digest.

Manifest bytes are kept exactly as the registry served them (re-serialising JSON would
change the digest), every fetched byte is hashed and checked against the digest it was
asked for, and tags are resolved with ``HEAD`` plus the full ``Accept`` list so that
the local registry never hands out a converted schema-1 manifest.

One :class:`RegistryClient` holds one keep-alive connection pool per TLS setting and is
safe to use from several threads (``resolve_many`` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from reprobuild import __version__
from reprobuild.registry.auth import (
    Challenge,
    Credentials,
    DockerConfig,
    TokenCache,
    parse_www_authenticate,
)
from reprobuild.registry.errors import (
    BlobUnknownError,
    DigestMismatchError,
    ManifestUnknownError,
    RateLimitedError,
    RegistryAuthError,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.mirrors import Endpoint, RegistrySettings
from reprobuild.registry.reference import ImageRef, is_loopback_host

__all__ = [
    "MANIFEST_MEDIA_TYPES",
    "Descriptor",
    "Manifest",
    "Platform",
    "RegistryClient",
    "Resolved",
]

log = logging.getLogger("reprobuild.registry")

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
_MANIFEST_LIMIT = 4 * 1024 * 1024  # the distribution spec's recommended manifest cap
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Descriptor:
        if not isinstance(data, dict) or not isinstance(data.get("digest"), str):
            raise ValueError("descriptor without a digest")
        platform = data.get("platform")
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=data["digest"],
            size=int(data.get("size", 0)),
            platform=(
                Platform(
                    os=str(platform.get("os", "")),
                    architecture=str(platform.get("architecture", "")),
                    variant=platform.get("variant"),
                )
                if isinstance(platform, dict)
                else None
            ),
            annotations=dict(data.get("annotations") or {}),
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    """Raw manifest bytes as served, with their media type and (verified) digest."""

    raw: bytes = field(repr=False)
    media_type: str
    digest: str

    @property
    def document(self) -> dict[str, Any]:
        data = json.loads(self.raw)
        if not isinstance(data, dict):
            raise ValueError("a manifest is a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @property
    def children(self) -> tuple[Descriptor, ...]:
        """The per-platform manifests of an index (empty for an image manifest)."""
        if not self.is_index:
            return ()
        return tuple(Descriptor.from_json(d) for d in self.document.get("manifests", []))

    @property
    def config(self) -> Descriptor | None:
        config = self.document.get("config")
        return Descriptor.from_json(config) if config is not None and not self.is_index else None

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        if self.is_index:
            return ()
        return tuple(Descriptor.from_json(d) for d in self.document.get("layers", []))


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a tag points at. For an index the pin is the index digest; ``children`` are
    the per-platform manifests (filled when asked for with ``platforms=True``)."""

    ref: ImageRef
    digest: str
    media_type: str
    size: int
    children: tuple[Descriptor, ...] = ()

    @property
    def pinned(self) -> ImageRef:
        return self.ref.with_digest(self.digest)

    def platform_digest(self, platform: str) -> str | None:
        """The child manifest digest for ``linux/arm64`` (or ``linux/arm64/v8``)."""
        for child in self.children:
            if child.platform and (
                str(child.platform) == platform
                or f"{child.platform.os}/{child.platform.architecture}" == platform
            ):
                return child.digest
        return None


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _algorithm(digest: str) -> str:
    return digest.split(":", 1)[0]


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
        self._explicit_credentials = dict(credentials or {})
        self._docker_config = docker_config
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._max_workers = max(1, max_workers)
        self._sleep = sleep
        self._transport = transport  # a test seam (httpx.MockTransport); None = network
        self._clients: dict[tuple[str, Path | None], httpx.Client] = {}
        self._challenges: dict[str, Challenge] = {}
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()

    @classmethod
    def from_project(cls, config: Any, **kwargs: Any) -> RegistryClient:
        """A client configured by ``[tool.reprobuild]`` (a ProjectConfig)."""
        return cls(RegistrySettings.from_project(config), **kwargs)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RegistryClient(mirrors={dict(self.settings.mirrors)!r})"

    # ----------------------------------------------------------------- manifests

    def resolve(self, ref: ImageRef, *, platforms: bool = False) -> Resolved:
        """The digest ``ref``'s tag points at now (HEAD; GET when HEAD gives no digest,
        or an answer without a body to explain it)."""
        try:
            response = self._call(
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
        media_type = _media_type(response.headers.get("Content-Type"))
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
        for attempt in range(1, self._max_attempts + 1):
            response = self._call(
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
                if attempt == self._max_attempts:
                    raise RegistryUnreachableError(
                        ref.familiar, f"{exc} ({attempt} attempts)"
                    ) from None
                self._sleep(self._backoff_delay(attempt))
            finally:
                response.close()
        announced = response.headers.get("Docker-Content-Digest")
        expected = ref.digest or announced
        digest = compute_digest(raw, _algorithm(expected) if expected else "sha256")
        if expected and digest != expected:
            raise DigestMismatchError(
                ref.familiar, f"manifest bytes hash to {digest}, expected {expected}"
            )
        if (
            ref.digest
            and announced
            and announced != ref.digest
            and _algorithm(announced) == _algorithm(ref.digest)
        ):
            raise DigestMismatchError(
                ref.familiar, f"the registry announces {announced} for {ref.digest}"
            )
        media_type = _media_type(response.headers.get("Content-Type"))
        if media_type not in MANIFEST_MEDIA_TYPES:
            with contextlib.suppress(ValueError, AttributeError):
                media_type = str(json.loads(raw).get("mediaType") or media_type)
        return Manifest(raw=raw, media_type=media_type, digest=digest)

    def put_manifest(self, ref: ImageRef, raw: bytes, media_type: str) -> str:
        """Upload ``raw`` unchanged under ``ref``'s digest or tag; return its digest."""
        digest = compute_digest(raw)
        if ref.digest and ref.digest != digest:
            raise DigestMismatchError(ref.familiar, f"the manifest bytes hash to {digest}")
        response = self._call(
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
            response = self._call("GET", ref, path, kind="repository")
            try:
                page = response.json().get("tags") or []
            except ValueError:
                raise RegistryProtocolError(ref.familiar_name, "tag list is not JSON") from None
            tags.extend(str(t) for t in page)
            path = _next_link(response)
        return tags

    # --------------------------------------------------------------------- blobs

    def blob_exists(self, ref: ImageRef, digest: str) -> bool:
        response = self._call(
            "HEAD", ref, f"blobs/{digest}", kind="blob", ok=(200, 404), push=False
        )
        return response.status_code == 200

    def iter_blob(self, ref: ImageRef, digest: str, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """Stream a blob; raises DigestMismatchError at the end if the bytes are wrong, so
        treat the data as untrusted until the iterator is exhausted (see ``download_blob``).
        A connection cut mid-body is resumed with a Range request (bounded attempts)."""
        hasher = hashlib.new(_algorithm(digest))
        received = 0
        subject = f"{ref.familiar_name}@{digest}"
        for attempt in range(1, self._max_attempts + 1):
            headers = {"Range": f"bytes={received}-"} if received else {}
            response = self._call(
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
                if attempt == self._max_attempts:
                    raise RegistryUnreachableError(
                        subject,
                        f"the connection broke after {received} bytes, {attempt} attempts "
                        f"({_transport_reason(exc)})",
                    ) from None
                self._sleep(self._backoff_delay(attempt))
            finally:
                response.close()
        actual = f"{_algorithm(digest)}:{hasher.hexdigest()}"
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
    ) -> str:
        """Upload a blob to ``ref``'s repository and return its digest.

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
            self._call(
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
                hasher.update(chunk)
                response = self._call(
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
                    hasher.update(chunk)
                    yield chunk

            response = self._call(
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
        actual = f"sha256:{hasher.hexdigest()}"
        if digest and actual != digest:
            self._cancel_upload(ref, location)
            raise DigestMismatchError(subject, f"data hashes to {actual}, not {digest}")
        self._call(
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
        response = self._call(
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
            self._call(
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

    # ------------------------------------------------------------------ transport

    def _call(
        self,
        method: str,
        ref: ImageRef,
        path: str,
        *,
        kind: str,
        push: bool = False,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        ok: Sequence[int] = (200,),
        stream: bool = False,
        retry: bool = True,
        follow: bool = False,
        also_pull: Sequence[ImageRef] = (),
    ) -> httpx.Response:
        """Send one registry request with auth, retries and error mapping.

        ``path`` is relative to ``/v2/<repository>/`` or an absolute/rooted URL (upload
        Locations). Reads go to the configured mirror, pushes to the registry itself.
        """
        endpoint = self.settings.endpoints(ref.registry, for_push=push)[0]
        subject = _subject(ref, kind, endpoint)
        if path.startswith(("http://", "https://")):
            url = httpx.URL(path)
        elif path.startswith("/"):
            url = httpx.URL(endpoint.base_url + path)
        else:
            url = httpx.URL(f"{endpoint.base_url}/v2/{ref.repository}/{path}")
        if params:
            url = url.copy_merge_params(dict(params))
        scopes = [f"repository:{ref.repository}:{'pull,push' if push else 'pull'}"]
        scopes += [f"repository:{other.repository}:pull" for other in also_pull]
        base_headers = {"User-Agent": f"reprobuild/{__version__}", **(headers or {})}
        client = self._http(url.scheme, endpoint.ca_file)
        auth_tries = 0
        attempt = 0
        while True:
            attempt += 1
            request_headers = dict(base_headers)
            authorization, with_credentials = self._authorization(endpoint, ref, scopes, subject)
            if authorization:
                request_headers["Authorization"] = authorization
            request = client.build_request(method, url, headers=request_headers, content=content)
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:
                if retry and attempt < self._max_attempts:
                    log.debug("%s %s: %s; retrying", method, url, type(exc).__name__)
                    self._sleep(self._backoff_delay(attempt))
                    continue
                raise RegistryUnreachableError(
                    subject,
                    f"cannot reach {endpoint.host} ({_transport_reason(exc)}"
                    f"{f', {attempt} attempts' if attempt > 1 else ''})",
                ) from None
            log.debug("%s %s -> %s", method, url, response.status_code)
            if response.status_code == 401 and auth_tries == 0:
                challenge = parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
                response.close()
                if challenge is None:
                    raise RegistryAuthError(
                        subject,
                        "unauthorized, and no auth challenge given",
                        code="UNAUTHORIZED",
                        status=401,
                    )
                with self._lock:
                    self._challenges[endpoint.host] = challenge
                auth_tries += 1
                attempt -= 1  # the auth handshake is not a failed attempt
                continue
            if follow and response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                response.close()
                if not location:
                    raise RegistryProtocolError(subject, "redirect without a Location")
                # Redirects go to blob storage: never forward the registry's credentials.
                target = url.join(location)
                storage = self._http(target.scheme, None)
                response = storage.send(
                    storage.build_request(method, target, headers=dict(base_headers)),
                    stream=True,
                )
            if response.status_code in _RETRY_STATUSES and retry and attempt < self._max_attempts:
                delay = self._retry_delay(response, attempt)
                response.close()
                log.debug(
                    "%s %s: HTTP %s; retrying in %.2fs", method, url, response.status_code, delay
                )
                self._sleep(delay)
                continue
            if response.status_code in ok:
                if not stream:
                    response.read()
                return response
            who = "credentials" if with_credentials else "anonymous" if authorization else None
            raise self._error(response, subject, kind, attempt, who)

    def _http(self, scheme: str, ca_file: Path | None) -> httpx.Client:
        """The connection pool for a scheme and CA bundle. Plain-http pools get a TLS
        context that trusts nothing: they never speak TLS, and loading the system CA
        bundle costs ~0.1 s that a loopback lookup should not pay."""
        key = (scheme, ca_file if scheme == "https" else None)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                verify = _ssl_context(ca_file) if scheme == "https" else _trust_nothing()
                client = httpx.Client(
                    verify=verify,
                    timeout=self._timeout,
                    follow_redirects=False,
                    transport=self._transport,
                    limits=httpx.Limits(
                        max_connections=self._max_workers * 2,
                        max_keepalive_connections=self._max_workers * 2,
                    ),
                )
                self._clients[key] = client
            return client

    def _credentials(self, registry: str) -> Credentials | None:
        if registry in self._explicit_credentials:
            return self._explicit_credentials[registry]
        if self._docker_config is None:
            self._docker_config = DockerConfig.load()
        return self._docker_config.credentials_for(registry)

    def _authorization(
        self, endpoint: Endpoint, ref: ImageRef, scopes: list[str], subject: str
    ) -> tuple[str | None, bool]:
        """The Authorization header for a request (None before any challenge), and
        whether it carries credentials (False: an anonymous token)."""
        with self._lock:
            challenge = self._challenges.get(endpoint.host)
        if challenge is None:
            return None, False
        # A mirror is its own registry: it gets the mirror's credentials.
        creds = self._credentials(endpoint.host if endpoint.mirror_of else ref.registry)
        if challenge.scheme == "basic":
            if creds is None or creds.identity_token:
                raise RegistryAuthError(
                    subject,
                    f"{endpoint.host} requires a login and no credentials are configured for it",
                    code="UNAUTHORIZED",
                    status=401,
                )
            return creds.basic_header(), True
        if challenge.scheme == "bearer":
            token = self._token(endpoint, challenge, scopes, creds, subject)
            return "Bearer " + token, creds is not None
        raise RegistryAuthError(
            subject,
            f"unsupported auth scheme {challenge.scheme!r}",
            code="UNAUTHORIZED",
            status=401,
        )

    def _token(
        self,
        endpoint: Endpoint,
        challenge: Challenge,
        scopes: list[str],
        creds: Credentials | None,
        subject: str,
    ) -> str:
        realm = challenge.realm
        if not realm:
            raise RegistryAuthError(subject, "bearer challenge without a realm", status=401)
        key = (endpoint.host, realm, challenge.service or "", *sorted(scopes))
        token = self._tokens.get(key)
        if token is not None:
            return token
        with self._token_lock:
            token = self._tokens.get(key)
            if token is not None:
                return token
            token, expires_in = self._fetch_token(endpoint, challenge, scopes, creds, subject)
            self._tokens.put(key, token, expires_in)
            return token

    def _fetch_token(
        self,
        endpoint: Endpoint,
        challenge: Challenge,
        scopes: list[str],
        creds: Credentials | None,
        subject: str,
    ) -> tuple[str, float]:
        realm = httpx.URL(challenge.realm or "")
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params += [("scope", scope) for scope in scopes]
        if realm.scheme != "https" and not _plain_http_allowed(realm.host, self.settings):
            raise RegistryAuthError(
                subject,
                f"refusing to send credentials to the plain-http token service {realm.host}",
                status=401,
            )
        client = self._http(realm.scheme, endpoint.ca_file)
        headers = {"User-Agent": f"reprobuild/{__version__}"}
        try:
            if creds is not None and creds.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "client_id": "reprobuild",
                    "service": challenge.service or "",
                    "scope": " ".join(scopes),
                }
                response = client.post(realm, data=form, headers=headers)
            else:
                if creds is not None:
                    headers["Authorization"] = creds.basic_header()
                response = client.get(realm, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise RegistryUnreachableError(
                subject, f"cannot reach the token service ({_transport_reason(exc)})"
            ) from None
        if response.status_code in (401, 403):
            who = (
                "the configured credentials were rejected"
                if creds
                else "anonymous access was refused"
            )
            raise RegistryAuthError(
                subject, f"token service: {who}", code="UNAUTHORIZED", status=response.status_code
            )
        if response.status_code != 200:
            raise RegistryProtocolError(
                subject,
                f"token service answered HTTP {response.status_code}",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            expires_in = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
            expires_in = 60.0
        if not isinstance(token, str) or not token:
            raise RegistryProtocolError(subject, "token service returned no token")
        return token, expires_in

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        if header:
            seconds: float | None
            try:
                seconds = float(header)
            except ValueError:
                try:
                    seconds = parsedate_to_datetime(header).timestamp() - time.time()
                except (TypeError, ValueError):
                    seconds = None
            if seconds is not None:
                return min(max(seconds, 0.0), self._max_retry_after)
        return self._backoff_delay(attempt)

    def _backoff_delay(self, attempt: int) -> float:
        base: float = self._backoff * (2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)  # jitter: attempts do not align

    def _error(
        self,
        response: httpx.Response,
        subject: str,
        kind: str,
        attempts: int,
        who: str | None,
    ) -> RegistryError:
        status = response.status_code
        code, message = None, None
        try:
            if response.request.method != "HEAD":
                response.read()
                errors = response.json().get("errors") or []
                if errors and isinstance(errors[0], dict):
                    code = errors[0].get("code")
                    message = errors[0].get("message")
        except (ValueError, AttributeError, httpx.HTTPError):
            pass
        finally:
            response.close()
        detail = f": {message}" if message else ""
        try:
            body = response.content
        except httpx.ResponseNotRead:
            body = b""
        if status == 400 and b"HTTPS server" in body:
            return RegistryProtocolError(
                subject,
                "the registry speaks https, not plain http",
                status=status,
                hint="give its CA in [tool.reprobuild] registry-ca-files (or write "
                "https://host in registry-mirrors)",
            )
        if status in (401, 403) or code in ("UNAUTHORIZED", "DENIED"):
            why = {
                "credentials": "the credentials were rejected or lack access",
                "anonymous": "anonymous access was refused",
            }.get(who or "", "access denied")
            return RegistryAuthError(
                subject,
                f"{why}{detail}",
                code=code or ("UNAUTHORIZED" if status == 401 else "DENIED"),
                status=status,
            )
        if status == 429 or code == "TOOMANYREQUESTS":
            return RateLimitedError(
                subject,
                f"too many requests after {attempts} attempts",
                code=code or "TOOMANYREQUESTS",
                status=status,
            )
        if status == 404 or code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"):
            if kind == "blob":
                return BlobUnknownError(
                    subject, f"blob not found{detail}", code=code or "BLOB_UNKNOWN", status=status
                )
            what = "repository not found" if code == "NAME_UNKNOWN" else "manifest not found"
            return ManifestUnknownError(
                subject, f"{what}{detail}", code=code or "MANIFEST_UNKNOWN", status=status
            )
        if status >= 500:
            return RegistryUnreachableError(
                subject,
                f"the registry failed with HTTP {status} after {attempts} attempts{detail}",
                code=code,
                status=status,
            )
        return RegistryProtocolError(
            subject, f"unexpected HTTP {status}{detail}", code=code, status=status
        )


def _subject(ref: ImageRef, kind: str, endpoint: Endpoint) -> str:
    name = ref.familiar if kind == "manifest" else ref.familiar_name
    if endpoint.mirror_of:
        name += f" (via mirror {endpoint.host})"
    return name


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip()


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
            f"the connection broke after {total} bytes: {_transport_reason(exc)}"
        ) from None
    return b"".join(chunks)


class _BrokenBody(Exception):
    """A response body was cut; the caller retries the whole request."""


def _transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "connection closed by the server mid-response"
    return type(exc).__name__


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


def _plain_http_allowed(host: str, settings: RegistrySettings) -> bool:
    return is_loopback_host(host) or any(entry.split(":")[0] == host for entry in settings.insecure)


def _trust_nothing() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA: fails closed
    return context


_CONTEXTS: dict[Path | None, ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """System trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE / certifi), plus a registry's CA;
    built once per process (loading a CA bundle is slow)."""
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(ca_file)
        if context is None:
            context = _CONTEXTS[ca_file] = _new_ssl_context(ca_file)
        return context


def _new_ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    bundle = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    if not bundle or not Path(bundle).is_file():
        import certifi

        bundle = certifi.where()
    context = ssl.create_default_context(cafile=bundle)
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError):
            from reprobuild.errors import ConfigError

            raise ConfigError(f"{ca_file}: cannot load this CA bundle (PEM expected)") from None
    return context
