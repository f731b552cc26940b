"""Registry credentials and the pieces of the auth protocol that need no network.

* Credentials come from the Docker CLI's ``config.json`` (``$DOCKER_CONFIG`` or
  ``~/.docker``): ``auths`` entries (base64 ``auth`` or ``username``/``password``),
  ``credHelpers`` per registry and ``credsStore`` for all, both run as
  ``docker-credential-<name> get`` with the server URL on stdin.
* ``WWW-Authenticate`` challenges are parsed here; the client performs the Basic or
  Bearer (token) flow and caches tokens in a :class:`TokenCache` per scope set.

Secrets never reach a message, a repr or a log line.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprobuild.registry.errors import CredentialHelperError
from reprobuild.registry.reference import DOCKER_HUB

__all__ = [
    "Challenge",
    "Credentials",
    "DockerConfig",
    "TokenCache",
    "parse_www_authenticate",
]

# The key the Docker CLI stores Docker Hub credentials under.
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_IDENTITY_TOKEN_USER = "<token>"
_HELPER_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username with a password, or an OAuth identity (refresh) token."""

    username: str
    password: str = field(repr=False)
    identity_token: str | None = field(default=None, repr=False)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: ``Bearer realm="…",service="…"``."""

    scheme: str  # lower-case: "basic" or "bearer"
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


# auth-param = token "=" ( token / quoted-string ); scope values contain commas and colons.
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_www_authenticate(header: str) -> Challenge | None:
    """Parse the first challenge of a ``WWW-Authenticate`` header (None when unusable)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if not match or match.end() == position:
            break
        key, quoted, bare = match.groups()
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[key.lower()] = value
        position = match.end()
    return Challenge(scheme=scheme.lower(), params=params)


class TokenCache:
    """Bearer tokens per (host, realm, service, scopes) until shortly before they expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry is None:
                return None
            token, expires_at = entry
            if self._clock() >= expires_at:
                del self._tokens[key]
                return None
            return token

    def put(self, key: tuple[str, ...], token: str, expires_in: float) -> None:
        # A small margin so a token does not expire between lookup and use.
        lifetime = max(expires_in - min(10.0, expires_in / 10), 1.0)
        with self._lock:
            self._tokens[key] = (token, self._clock() + lifetime)

    def forget(self, host: str) -> None:
        """Drop a host's tokens (the registry refused one: expired early or revoked)."""
        with self._lock:
            for key in [k for k in self._tokens if k[0] == host]:
                del self._tokens[key]

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"


def _normalise_host(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``docker.io``; ``http://h:5000/v2/`` -> ``h:5000``."""
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


class DockerConfig:
    """The credential part of a Docker CLI ``config.json``."""

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        path: Path | None = None,
        run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    ) -> None:
        self.path = path
        self._data: Mapping[str, Any] = data or {}
        self._run = run
        self._cache: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path | None = None) -> DockerConfig:
        """Read ``$DOCKER_CONFIG/config.json`` (default ``~/.docker``); empty if absent."""
        if directory is None:
            env = os.environ.get("DOCKER_CONFIG")
            directory = Path(env) if env else Path.home() / ".docker"
        path = directory / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls({}, path=None)
        except (OSError, ValueError) as exc:
            from reprobuild.errors import ConfigError

            raise ConfigError(
                f"{path}: cannot read the Docker config ({type(exc).__name__}); fix or remove it"
            ) from None
        return cls(data if isinstance(data, dict) else {}, path=path)

    def credentials_for(self, registry: str) -> Credentials | None:
        """Credentials for a registry name (``docker.io``, ``host:5000``), or None."""
        host = _normalise_host(registry)
        with self._lock:
            if host in self._cache:
                return self._cache[host]
        found = self._lookup(host)
        with self._lock:
            self._cache[host] = found
        return found

    def _lookup(self, host: str) -> Credentials | None:
        helpers = self._data.get("credHelpers")
        helper = None
        if isinstance(helpers, dict):
            helper = next(
                (name for key, name in helpers.items() if _normalise_host(key) == host), None
            )
        helper = helper or self._data.get("credsStore")
        if isinstance(helper, str) and helper:
            found = self._from_helper(helper, host)
            if found is not None:
                return found
        return self._from_auths(host)

    def _from_auths(self, host: str) -> Credentials | None:
        auths = self._data.get("auths")
        if not isinstance(auths, dict):
            return None
        for key, entry in auths.items():
            if _normalise_host(key) != host or not isinstance(entry, dict):
                continue
            identity = entry.get("identitytoken") or None
            if entry.get("auth"):
                try:
                    decoded = base64.b64decode(str(entry["auth"]), validate=False).decode()
                except (binascii.Error, UnicodeDecodeError):
                    continue
                user, sep, password = decoded.partition(":")
                if sep:
                    return Credentials(user, password, identity)
            elif entry.get("username"):
                return Credentials(str(entry["username"]), str(entry.get("password", "")), identity)
            elif identity:
                return Credentials("", "", str(identity))
        return None

    def _from_helper(self, helper: str, host: str) -> Credentials | None:
        program = f"docker-credential-{helper}"
        server = DOCKER_HUB_CONFIG_KEY if host == DOCKER_HUB else host
        try:
            result = self._run(
                [program, "get"],
                input=server,
                capture_output=True,
                text=True,
                timeout=_HELPER_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            raise CredentialHelperError(
                host, f"credential helper {program} is not on PATH"
            ) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CredentialHelperError(
                host, f"credential helper {program} failed ({type(exc).__name__})"
            ) from None
        if result.returncode != 0:
            # The protocol's "no entry" answer; anything else is a broken helper.
            if "credentials not found" in (result.stdout + result.stderr).lower():
                return None
            raise CredentialHelperError(
                host, f"credential helper {program} exited with status {result.returncode}"
            )
        try:
            answer = json.loads(result.stdout)
            username, secret = str(answer["Username"]), str(answer["Secret"])
        except (ValueError, KeyError, TypeError):
            raise CredentialHelperError(
                host, f"credential helper {program} printed something that is not its JSON"
            ) from None
        if username == _IDENTITY_TOKEN_USER:
            return Credentials("", "", secret)
        return Credentials(username, secret)

    def __repr__(self) -> str:
        return f"DockerConfig(path={self.path!s})"
