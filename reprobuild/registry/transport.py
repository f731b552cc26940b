"""HTTP for registries: connection pools, auth handshakes, retries, error mapping.

:class:`RegistryTransport` sends one registry request at a time and turns every answer
it cannot use into a :class:`~reprobuild.registry.errors.RegistryError`. It performs the
Basic and Bearer (token) flows on a 401 and caches the challenge per host (later
requests authenticate up front) and tokens per scope set; it retries 429 (honouring
``Retry-After``, bounded), 5xx and connection errors with jittered exponential
back-off. Credentials are sent only in headers, never logged, never in messages.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path

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
    ManifestUnknownError,
    RateLimitedError,
    RegistryAuthError,
    RegistryError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.mirrors import Endpoint, RegistrySettings
from reprobuild.registry.reference import ImageRef, is_loopback_host

__all__ = ["RegistryTransport", "transport_reason"]

log = logging.getLogger("reprobuild.registry")

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RegistryTransport:
    """Shared by one RegistryClient's operations; thread-safe."""

    def __init__(
        self,
        settings: RegistrySettings,
        *,
        credentials: Mapping[str, Credentials] | None,
        docker_config: DockerConfig | None,
        timeout: float,
        connect_timeout: float,
        max_attempts: int,
        backoff: float,
        max_retry_after: float,
        pool_size: int,
        sleep: Callable[[float], None],
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.settings = settings
        self.max_attempts = max(1, max_attempts)
        self.sleep = sleep
        self._explicit_credentials = dict(credentials or {})
        self._docker_config = docker_config
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._backoff = backoff
        self._max_retry_after = max_retry_after
        self._pool_size = max(1, pool_size)
        self._transport = transport  # a test seam (httpx.MockTransport); None = network
        self._clients: dict[tuple[str, Path | None], httpx.Client] = {}
        self._challenges: dict[str, Challenge] = {}
        self._tokens = TokenCache()
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def call(
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
        subject = subject_of(ref, kind, endpoint)
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
                if retry and attempt < self.max_attempts and not _is_untrusted_certificate(exc):
                    log.debug("%s %s: %s; retrying", method, url, type(exc).__name__)
                    self.sleep(self.backoff_delay(attempt))
                    continue
                raise RegistryUnreachableError(
                    subject,
                    f"cannot reach {endpoint.host} ({transport_reason(exc)}"
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
                if authorization:
                    self._tokens.forget(endpoint.host)
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
            if response.status_code in _RETRY_STATUSES and retry and attempt < self.max_attempts:
                delay = self._retry_delay(response, attempt)
                response.close()
                log.debug(
                    "%s %s: HTTP %s; retrying in %.2fs", method, url, response.status_code, delay
                )
                self.sleep(delay)
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
                        max_connections=self._pool_size,
                        max_keepalive_connections=self._pool_size,
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
                subject, f"cannot reach the token service ({transport_reason(exc)})"
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
        return self.backoff_delay(attempt)

    def backoff_delay(self, attempt: int) -> float:
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


def subject_of(ref: ImageRef, kind: str, endpoint: Endpoint) -> str:
    name = ref.familiar if kind == "manifest" else ref.familiar_name
    if endpoint.mirror_of:
        name += f" (via mirror {endpoint.host})"
    return name


def media_type_of(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip()


def transport_reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if _is_untrusted_certificate(exc):
        return (
            "its TLS certificate is not trusted: give its CA in [tool.reprobuild] "
            "registry-ca-files, or a bundle in SSL_CERT_FILE"
        )
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "connection closed by the server mid-response"
    return type(exc).__name__


def _is_untrusted_certificate(exc: httpx.TransportError) -> bool:
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _plain_http_allowed(host: str, settings: RegistrySettings) -> bool:
    return is_loopback_host(host) or any(entry.split(":")[0] == host for entry in settings.insecure)


def _trust_nothing() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no CA: fails closed
    return context


_CONTEXTS: dict[tuple[str, Path | None], ssl.SSLContext] = {}


_CONTEXTS_LOCK = threading.Lock()


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """System trust (SSL_CERT_FILE / REQUESTS_CA_BUNDLE / certifi), plus a registry's CA;
    built once per process and bundle (loading a CA bundle is slow)."""
    bundle = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    if not bundle or not Path(bundle).is_file():
        import certifi

        bundle = certifi.where()
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get((bundle, ca_file))
        if context is None:
            context = _CONTEXTS[(bundle, ca_file)] = _new_ssl_context(bundle, ca_file)
        return context


def _new_ssl_context(bundle: str, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=bundle)
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError):
            from reprobuild.errors import ConfigError

            raise ConfigError(f"{ca_file}: cannot load this CA bundle (PEM expected)") from None
    return context
